#pragma once
// Stand-in: mongoose.h's MG_ARCH_ESP32 section includes it; layout_check.c needs nothing from it.
