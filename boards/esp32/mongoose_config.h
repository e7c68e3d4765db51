// The Mongoose layout of an ESP32 firmware, for generating the Rust bindings away from ESP-IDF.
//
// The firmware compiles Mongoose's C with MG_ARCH=MG_ARCH_ESP32 (micropython.cmake), whose arch
// section includes ESP-IDF headers, so bindgen cannot read mongoose.h that way without the IDF.
// build.rs reads this file instead (PYTHONGOOSE_BOARD_DIR=boards/esp32 sets MG_ARCH_CUSTOM), with
// PYTHONGOOSE_SKIP_MONGOOSE_C=1: Mongoose's C is compiled by the IDF, never with this file.
// It mirrors what MG_ARCH_ESP32 sets (mongoose.h, "#if MG_ARCH == MG_ARCH_ESP32"), and what that
// leaves at the defaults, for everything that shapes the structs Rust touches:
//   - sockets through lwIP's BSD API: MG_ENABLE_TCPIP 0 (no built-in stack: mg_mgr keeps its ifp
//     pointer, unused), MG_ENABLE_FREERTOS_TCP 0 (no SocketSet_t in mg_mgr), MG_SOCKET_TYPE int
//     (union mg_pipe in mg_mgr);
//   - MG_DATA_SIZE (mg_connection.data) and MG_MAX_HTTP_HEADERS (mg_http_message) at their defaults;
//   - MG_PATH_MAX 128, POSIX filesystem and directory listing on, as MG_ARCH_ESP32 sets them.
// Whatever this file gets wrong, the firmware's C compiler catches: src/shim/layout_check.c checks
// the numbers bindgen computed from it against the real MG_ARCH_ESP32 layout (DESIGN rule 9).
#pragma once

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MG_PATH_MAX 128
#define MG_ENABLE_POSIX_FS 1
#define MG_ENABLE_DIRLIST 1
#define MG_ENABLE_TCPIP 0
#define MG_ENABLE_FREERTOS_TCP 0
#define MG_SOCKET_TYPE int
