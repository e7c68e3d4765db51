#pragma once
// Stand-in for the IDF header: only what mongoose.h's MG_ARCH_ESP32 section uses (declarations, no code).
#define ESP_IDF_VERSION_MAJOR 5
