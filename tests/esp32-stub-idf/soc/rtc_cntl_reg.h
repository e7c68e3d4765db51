#pragma once
// Stand-in for the IDF header: only what mongoose.h's MG_ARCH_ESP32 section uses (declarations, no code).
#include <stdint.h>
#define RTC_CNTL_STORE0_REG 0
#define REG_WRITE(r, v) ((void) (r), (void) (v))
#define REG_READ(r) ((uint32_t) (r))
