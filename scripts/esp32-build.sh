#!/usr/bin/env bash
# Builds the ESP32 firmware with the module; runs INSIDE the image boards/esp32/Dockerfile (ESP-IDF
# v5.2.2 + pinned Rust), the project mounted at /project: `make esp32 BOARD=...` starts it.
# Written and reviewed, not run on the development machine (no Docker engine there): README, "ESP32".
#   1. the Rust library for the chip's target, with boards/esp32 (the ESP32 layout for bindgen) and
#      PYTHONGOOSE_SKIP_MONGOOSE_C=1 (the IDF compiles Mongoose's C, micropython.cmake);
#   2. MicroPython v1.25.0 (the release Debian's 1.25.0+ds-1 tarball is cut from), cloned with git
#      because that tarball's submodules are empty: ports/esp32 needs lib/berkeley-db-1.xx (BTREE is
#      always on there) and lib/micropython-lib (its frozen manifest); `make submodules` fetches the
#      ones the port lists, at the commits the tag records. The IDF component manager fetches
#      espressif/mdns at configure time (main/idf_component.yml; dependencies.lock records it);
#   3. ports/esp32's make with USER_C_MODULES=micropython.cmake and PYTHONGOOSE_LIB in the environment.
# The module's parts come from `make esp32` (the top Makefile's PG_*, so LEAN=1 and the
# PYTHONGOOSE_* switches are worked out in one place): PYTHONGOOSE_FEATURES, the Rust library's cargo
# features (default: all), and PYTHONGOOSE_MQTT/WEB/TLS, which micropython.cmake reads from the
# environment for the shim and Mongoose; the second argument names the build folder
# (build/esp32/NAME, default BOARD).
set -euo pipefail
board=${1:?usage: esp32-build.sh BOARD [NAME]}
name=${2:-$board}
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/build/esp32
mpy_tag=v1.25.0
mpy=$out/micropython

case $board in
  ESP32_GENERIC_C3|ESP32_GENERIC_C6)
    # rv32imc code runs on both (the C6 adds atomics); the stable toolchain builds it.
    rust_target=riscv32imc-unknown-none-elf; toolchain=(); build_std=(); gcc=riscv32-esp-elf-gcc ;;
  ESP32_GENERIC)
    rust_target=xtensa-esp32-none-elf; toolchain=(+esp); build_std=(-Zbuild-std=core,alloc); gcc=xtensa-esp32-elf-gcc ;;
  ESP32_GENERIC_S3)
    rust_target=xtensa-esp32s3-none-elf; toolchain=(+esp); build_std=(-Zbuild-std=core,alloc); gcc=xtensa-esp32s3-elf-gcc ;;
  *) echo "esp32-build.sh: unknown BOARD $board"; exit 1 ;;
esac

command -v idf.py >/dev/null || . "$IDF_PATH/export.sh" >/dev/null
if [ "${#toolchain[@]}" -gt 0 ]; then
  # Espressif's toolchain and its libclang (LIBCLANG_PATH) for bindgen.
  . /opt/export-esp.sh
  clang_include=$(ls -d "$(dirname "$LIBCLANG_PATH")"/lib/clang/*/include 2>/dev/null | sort -V | tail -1)
else
  clang_include=$(ls -d /usr/lib/llvm-*/lib/clang/*/include 2>/dev/null | sort -V | tail -1)
fi
# bindgen reads mongoose.h for the target: clang's own headers and the IDF toolchain's newlib.
libc_include=$("$gcc" -print-sysroot)/include
target_var=$(echo "$rust_target" | tr '-' '_')
export "BINDGEN_EXTRA_CLANG_ARGS_${target_var}=-isystem $clang_include -isystem $libc_include"
export PYTHONGOOSE_BOARD_DIR=$root/boards/esp32 PYTHONGOOSE_SKIP_MONGOOSE_C=1
export PYTHONGOOSE_MONGOOSE_DIR=$root/third_party/mongoose
features=${PYTHONGOOSE_FEATURES:-mongoose,mqtt,web,tls}
# One cargo folder per feature set: the layout header beside each archive describes that archive.
export CARGO_TARGET_DIR=$out/target-${features//,/-}

echo "=== Rust library for $rust_target"
(cd "$root" && cargo "${toolchain[@]}" build --release --lib --target "$rust_target" "${build_std[@]}" \
  --no-default-features --features "$features")
export PYTHONGOOSE_LIB=$CARGO_TARGET_DIR/$rust_target/release/libpythongoose.a
test -f "$(dirname "$PYTHONGOOSE_LIB")/pythongoose_layout.h"

echo "=== MicroPython $mpy_tag"
if [ ! -d "$mpy/.git" ]; then
  git clone --depth 1 --branch "$mpy_tag" https://github.com/micropython/micropython.git "$mpy"
fi
if [ "$(git -C "$mpy" describe --tags --exact-match 2>/dev/null)" != "$mpy_tag" ]; then
  echo "$mpy is not MicroPython $mpy_tag: remove it and run again"; exit 1
fi
make -C "$mpy/mpy-cross" -j"$(nproc)"
make -C "$mpy/ports/esp32" BOARD="$board" submodules

echo "=== firmware for $board"
make -C "$mpy/ports/esp32" BOARD="$board" BUILD="$out/$name" USER_C_MODULES="$root/micropython.cmake"
ls -l "$out/$name/firmware.bin"
