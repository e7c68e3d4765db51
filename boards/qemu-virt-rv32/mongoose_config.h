// Mongoose settings for the emulated board (QEMU `virt`, rv32imac, picolibc). Mongoose includes this
// file because the build sets MG_ARCH=MG_ARCH_CUSTOM; build.rs hands the same file to the C compiler
// and to bindgen, so the struct layouts Rust sees are the ones the firmware has.
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

#define MG_PATH_MAX 100
#define MG_ENABLE_DIRLIST 0
#define MG_ENABLE_POSIX_FS 0
// Mongoose's own TCP/IP stack over the board's virtio-net driver (the board glue starts it).
#define MG_ENABLE_TCPIP 1
#define MG_ENABLE_TCPIP_DRIVER_INIT 0
// The board's clock (CLINT mtime) and random source (boards/qemu-virt-rv32/board.c).
#define MG_ENABLE_CUSTOM_MILLIS 1
#define MG_ENABLE_CUSTOM_RANDOM 1
