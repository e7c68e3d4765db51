#!/usr/bin/env bash
# Layout checks (DESIGN rule 9) and the ESP32-C3 build of the full crate, without ESP-IDF:
#   - the full crate (event layer + FFI) for riscv32imc-unknown-none-elf with boards/esp32 (the
#     ESP32 layout for bindgen, MG_ARCH_CUSTOM) and PYTHONGOOSE_SKIP_MONGOOSE_C, as `make esp32` does;
#   - the generated pythongoose_layout.h covers the fields Rust touches;
#   - src/shim/layout_check.c compiles against it (rv32imc gcc with the same config; the host cc for
#     the unix build's header) and fails to compile when one number is deliberately wrong;
#   - the unix and emulated-board firmware builds compiled layout_check.c (when they were built).
# Ends with "layout-check: N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok    $1"; }
fail() { failed=$((failed + 1)); echo "FAIL  $1"; }
check() { # description command...
  local what=$1; shift
  if "$@" > "$work/last.log" 2>&1; then ok "$what"; else fail "$what"; sed 's/^/      /' "$work/last.log" | tail -15; fi
}
refuse() { # description command...: passes when the command fails
  local what=$1; shift
  if "$@" > "$work/last.log" 2>&1; then fail "$what"; else ok "$what"; fi
  cp "$work/last.log" "$work/refused.log"
}

mongoose_dir=${PYTHONGOOSE_MONGOOSE_DIR:-$root/third_party/mongoose}
esp32_dir=$root/boards/esp32
target=riscv32imc-unknown-none-elf
cross=riscv64-unknown-elf-
clang_include=$(ls -d /usr/lib/llvm-*/lib/clang/*/include 2>/dev/null | sort -V | tail -1)
picolibc_include=/usr/lib/picolibc/riscv64-unknown-elf/include

# 1. The full crate for the ESP32-C3's target, bindings from boards/esp32, no Mongoose C in it.
esp32_build() {
  env PYTHONGOOSE_BOARD_DIR="$esp32_dir" PYTHONGOOSE_SKIP_MONGOOSE_C=1 \
    BINDGEN_EXTRA_CLANG_ARGS_riscv32imc_unknown_none_elf="-isystem $clang_include -isystem $picolibc_include" \
    cargo build --release --lib --target "$target"
}
check "full crate (event layer + FFI) builds for $target with boards/esp32" esp32_build
lib=$root/target/$target/release/libpythongoose.a
header=$root/target/$target/release/pythongoose_layout.h
symbols() { # archive -> "binding name" lines
  mkdir -p "$work/ar" && (cd "$work/ar" && rm -f ./*.o && ar x "$1") && readelf -sW "$work"/ar/*.o 2>/dev/null | awk '$5 == "GLOBAL" || $5 == "WEAK" {print $7, $8}'
}
symbols "$lib" > "$work/esp32-symbols.txt"
check "the archive provides mg_calloc (src/heap.rs, for the IDF-compiled Mongoose)" grep -qE '^[0-9]+ mg_calloc$' "$work/esp32-symbols.txt"
check "the archive calls Mongoose (mg_mgr_init undefined): its C is not in it twice" grep -qx 'UND mg_mgr_init' "$work/esp32-symbols.txt"
refuse "the archive defines no Mongoose function" grep -qE '^[0-9]+ mg_mgr_init$' "$work/esp32-symbols.txt"

# 2. The generated checks cover what src/net touches.
for item in "sizeof(struct mg_connection)" "sizeof(struct mg_iobuf)" "sizeof(struct mg_str)" \
  "sizeof(struct mg_http_message)" "sizeof(struct mg_mgr)" "_Alignof(struct mg_connection)" \
  "mg_connection, recv" "mg_connection, send" "mg_connection, fd" "mg_connection, fn_data" \
  "mg_connection, data" "mg_connection, tls" "mg_iobuf, buf" "mg_iobuf, len" "mg_str, len" \
  "mg_http_message, method" "mg_http_message, uri" "mg_http_message, query" "mg_http_message, proto" \
  "mg_http_message, headers" "mg_http_message, body" "mg_http_message, head" "mg_mgr, conns"; do
  check "$target header checks $item" grep -qF "$item" "$header"
done

# 3. The C compiler agrees, and a wrong number fails the compile.
compile_rv32() { # header-dir
  "${cross}gcc" -march=rv32imc -mabi=ilp32 --specs=picolibc.specs -std=gnu99 -Werror -c \
    -DMG_ARCH=MG_ARCH_CUSTOM -DMG_ENABLE_LOG=0 -DMG_ENABLE_CUSTOM_CALLOC=1 -DMG_TLS=MG_TLS_BUILTIN \
    -I"$esp32_dir" -I"$mongoose_dir" -I"$1" src/shim/layout_check.c -o "$work/layout_rv32.o"
}
compile_host() { # header-dir
  cc -std=gnu99 -Werror -c -DMG_ENABLE_LOG=0 -DMG_ENABLE_CUSTOM_CALLOC=1 -DMG_TLS=MG_TLS_BUILTIN \
    -I"$mongoose_dir" -I"$1" src/shim/layout_check.c -o "$work/layout_host.o"
}
wrong() { # header out-dir: the header with mg_connection.fn_data's offset off by 4
  mkdir -p "$2"
  python3 - "$1" "$2/pythongoose_layout.h" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
new, n = re.subn(r"(offsetof\(struct mg_connection, fn_data\) == )(\d+)", lambda m: m.group(1) + str(int(m.group(2)) + 4), text, count=1)
if n != 1:
    sys.exit("no mg_connection.fn_data check to alter")
open(sys.argv[2], "w").write(new)
PY
}
check "layout_check.c compiles for rv32imc against the $target header" compile_rv32 "$(dirname "$header")"
check "a copy of the $target header with one number wrong" wrong "$header" "$work/wrong-rv32"
refuse "a wrong offset (mg_connection.fn_data + 4) fails the rv32imc compile" compile_rv32 "$work/wrong-rv32"
check "... and the error names the field" grep -q "offset of mg_connection.fn_data differs" "$work/refused.log"

# mongoose.h's own MG_ARCH_ESP32 section (stand-in IDF headers, tests/esp32-stub-idf) gives the
# layout the bindings were generated for from boards/esp32/mongoose_config.h.
compile_esp32_arch() { # header-dir
  "${cross}gcc" -march=rv32imc -mabi=ilp32 --specs=picolibc.specs -std=gnu99 -Werror -c \
    -DMG_ARCH=MG_ARCH_ESP32 -DMG_ENABLE_LOG=0 -DMG_ENABLE_CUSTOM_CALLOC=1 -DMG_TLS=MG_TLS_BUILTIN \
    -I"$root/tests/esp32-stub-idf" -I"$mongoose_dir" -I"$1" src/shim/layout_check.c -o "$work/layout_esp32.o"
}
esp32_arch_active() {
  printf '#include "mongoose.h"\n_Static_assert(MG_ARCH == MG_ARCH_ESP32 && MG_PATH_MAX == 128, "not the ESP32 section");\n' > "$work/arch.c"
  "${cross}gcc" -march=rv32imc -mabi=ilp32 --specs=picolibc.specs -std=gnu99 -c -DMG_ARCH=MG_ARCH_ESP32 \
    -I"$root/tests/esp32-stub-idf" -I"$mongoose_dir" "$work/arch.c" -o "$work/arch.o"
}
check "mongoose.h's MG_ARCH_ESP32 section is what the stand-in headers compile" esp32_arch_active
check "with MG_ARCH_ESP32 (rv32imc), the layout matches the $target bindings" compile_esp32_arch "$(dirname "$header")"
refuse "with MG_ARCH_ESP32, a wrong offset fails" compile_esp32_arch "$work/wrong-rv32"

host_header=$root/target/unix/pythongoose_layout.h
if [ -f "$host_header" ]; then
  check "layout_check.c compiles for the host against the unix build's header" compile_host "$(dirname "$host_header")"
  check "a copy of the unix build's header with one number wrong" wrong "$host_header" "$work/wrong-host"
  refuse "a wrong offset fails the host compile" compile_host "$work/wrong-host"
  check "... and the error names the field" grep -q "offset of mg_connection.fn_data differs" "$work/refused.log"
else
  fail "no $host_header (build the unix library first: make)"
fi
missing() { mkdir -p "$work/empty"; compile_host "$work/empty"; }
refuse "without pythongoose_layout.h the check does not compile" missing

# 4. The firmware builds compiled it (the unix port and the emulated board, when built).
for obj in build/unix/pythongoose/src/shim/layout_check.o build/qemu/pythongoose/src/shim/layout_check.o; do
  fw_dir=${obj%%/pythongoose/*}
  if [ -d "$fw_dir" ]; then
    check "$fw_dir compiled the layout check" test -f "$obj"
  else
    echo "skip  $fw_dir not built"
  fi
done

echo "layout-check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
