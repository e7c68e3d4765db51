#!/usr/bin/env bash
# Checks micropython.cmake the way ports/esp32 consumes it, without ESP-IDF or Docker: configures
# tests/cmake (a stand-in main component that includes MicroPython's own py/usermod.cmake with
# USER_C_MODULES, as esp32_common.cmake does) with plain cmake, then reads what CMake gathered and
# generated. Ends with "cmake-check: N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mpy_dir=${MICROPY_DIR:-$root/third_party/micropython}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
check() { # description command...
  local what=$1; shift
  if "$@" >/dev/null 2>&1; then passed=$((passed + 1)); echo "ok    $what"
  else failed=$((failed + 1)); echo "FAIL  $what"; fi
}
command -v cmake >/dev/null || { echo "cmake not found (scripts/install-deps.sh installs it)"; echo "cmake-check: 0 passed, 1 failed"; exit 1; }
[ -f "$mpy_dir/py/usermod.cmake" ] || { echo "no $mpy_dir/py/usermod.cmake (run scripts/fetch-sources.sh)"; echo "cmake-check: 0 passed, 1 failed"; exit 1; }

# A stand-in for the Rust archive and the layout header build.rs writes beside it: configuring only
# looks at their paths.
lib_dir="$work/rust lib"
mkdir -p "$lib_dir"
: > "$lib_dir/libpythongoose.a"
: > "$lib_dir/pythongoose_layout.h"
configure() { # build-dir extra-args...
  local dir=$1; shift
  cmake -S "$root/tests/cmake" -B "$dir" -DMICROPY_DIR="$mpy_dir" -DUSER_C_MODULES="$root/micropython.cmake" "$@"
}

b="$work/env"
PYTHONGOOSE_LIB="$lib_dir/libpythongoose.a" configure "$b" > "$work/env.log" 2>&1
check "configures with PYTHONGOOSE_LIB from the environment" grep -q "Generating done" "$work/env.log"
check "py/usermod.cmake found the module" grep -q "Found User C Module(s): usermod_pythongoose" "$work/env.log"

# What mkrules.cmake scans for QSTRs (MICROPY_SOURCE_USERMOD) and the main component compiles.
sources="$b/usermod-sources.txt"
check "QSTR-scanned sources hold the shim" grep -qx "$root/src/shim/modmongoose.c" "$sources"
check "QSTR-scanned sources hold the shim's files part" grep -qx "$root/src/shim/files.c" "$sources"
check "QSTR-scanned sources hold the shim's push part" grep -qx "$root/src/shim/push.c" "$sources"
check "sources hold Mongoose's C" grep -qx "$root/third_party/mongoose/mongoose.c" "$sources"
check "sources hold the layout check" grep -qx "$root/src/shim/layout_check.c" "$sources"
build_make="$b/CMakeFiles/__idf_main.dir/build.make"
for object in src/shim/modmongoose.c.o src/shim/files.c.o src/shim/push.c.o src/shim/layout_check.c.o third_party/mongoose/mongoose.c.o; do
  check "the main component compiles $object" grep -q "^CMakeFiles/__idf_main.dir/.*$object:" "$build_make"
done
check "mongoose.c is compiled without warnings (-w), as build.rs does" \
  grep -qE "mongoose\.c\.o_OPTIONS = -w$" "$b/CMakeFiles/__idf_main.dir/flags.make"
check "mongoose.c's select goes through the shim's GIL-releasing wait" \
  grep -qE "mongoose\.c\.o_DEFINES = (.*;)?select=pg_shim_select(;|$)" "$b/CMakeFiles/__idf_main.dir/flags.make"

# idf_component_register's INCLUDE_DIRS (MICROPY_INC_USERMOD) and the main component's flags.
includes="$b/usermod-includes.txt"
check "include dirs hold include/ (pythongoose.h)" grep -qx "$root/include" "$includes"
check "include dirs hold Mongoose's folder" grep -qx "$root/third_party/mongoose" "$includes"
check "include dirs hold the archive's folder (pythongoose_layout.h)" grep -qxF "$lib_dir" "$includes"
defs="$b/main-definitions.txt"
check "definitions: MG_ARCH=MG_ARCH_ESP32" grep -qx "MG_ARCH=MG_ARCH_ESP32" "$defs"
check "definitions: PYTHONGOOSE_MQTT=1" grep -qx "PYTHONGOOSE_MQTT=1" "$defs"
# Every one of build.rs's MONGOOSE_DEFINES, so the layouts of the C build and of Rust's bindings agree.
mapfile -t mongoose_defines < <(sed -n '/^const MONGOOSE_DEFINES/,/;$/p' "$root/build.rs" | grep -oE '\("[A-Z0-9_]+", "[^"]*"\)' | sed -E 's/\("([^"]+)", "([^"]*)"\)/\1=\2/')
check "build.rs's MONGOOSE_DEFINES were read" test "${#mongoose_defines[@]}" -ge 2
for d in "${mongoose_defines[@]}"; do
  check "definitions: $d (build.rs's MONGOOSE_DEFINES)" grep -qx "$d" "$defs"
done
check "the definitions reach the main component's compile line" \
  grep -q -- "-DMG_ARCH=MG_ARCH_ESP32" "$b/CMakeFiles/__idf_main.dir/flags.make"

# The link line: the Rust archive after the main component's archive, and mongoose.o pulled in.
link="$b/CMakeFiles/firmware.elf.dir/link.txt"
check "link line names the Rust archive" grep -qF "$lib_dir/libpythongoose.a" "$link"
rust_after_main() {
  python3 - "$link" "$lib_dir/libpythongoose.a" <<'PY'
import shlex, sys
words = shlex.split(open(sys.argv[1]).read())
main = [i for i, w in enumerate(words) if w.endswith("lib__idf_main.a")]
rust = [i for i, w in enumerate(words) if w == sys.argv[2]]
sys.exit(0 if main and rust and max(main) < min(rust) else 1)
PY
}
check "link line: Rust archive after the main component's archive" rust_after_main
check "link line: -Wl,--undefined=mg_mgr_init" grep -qF -- "-Wl,--undefined=mg_mgr_init" "$link"

check "definitions: PYTHONGOOSE_WEB=1 (the default: every feature)" grep -qx "PYTHONGOOSE_WEB=1" "$defs"

# The lean build (`make esp32 LEAN=1` exports these): the shim without its web part, and Mongoose
# compiled without TLS, as build.rs builds it for a library without the `tls` feature.
PYTHONGOOSE_LIB="$lib_dir/libpythongoose.a" PYTHONGOOSE_WEB=0 PYTHONGOOSE_TLS=0 configure "$work/lean" > "$work/lean.log" 2>&1
check "lean (PYTHONGOOSE_WEB=0 PYTHONGOOSE_TLS=0 in the environment): PYTHONGOOSE_WEB=0" \
  grep -qx "PYTHONGOOSE_WEB=0" "$work/lean/main-definitions.txt"
check "lean: MG_TLS=MG_TLS_NONE" grep -qx "MG_TLS=MG_TLS_NONE" "$work/lean/main-definitions.txt"
check "lean: MQTT stays (PYTHONGOOSE_MQTT=1)" grep -qx "PYTHONGOOSE_MQTT=1" "$work/lean/main-definitions.txt"

# PYTHONGOOSE_LIB as a CMake variable works too.
env -u PYTHONGOOSE_LIB cmake -S "$root/tests/cmake" -B "$work/var" -DMICROPY_DIR="$mpy_dir" \
  -DUSER_C_MODULES="$root/micropython.cmake" -DPYTHONGOOSE_LIB="$lib_dir/libpythongoose.a" > "$work/var.log" 2>&1
check "configures with -DPYTHONGOOSE_LIB" grep -qF "$lib_dir/libpythongoose.a" "$work/var/CMakeFiles/firmware.elf.dir/link.txt"

# Clear errors.
env -u PYTHONGOOSE_LIB cmake -S "$root/tests/cmake" -B "$work/none" -DMICROPY_DIR="$mpy_dir" \
  -DUSER_C_MODULES="$root/micropython.cmake" > "$work/none.log" 2>&1
status=$?
check "missing PYTHONGOOSE_LIB fails the configure" test "$status" -ne 0
check "missing PYTHONGOOSE_LIB says so" grep -q "PYTHONGOOSE_LIB is not set" "$work/none.log"
PYTHONGOOSE_LIB="$work/nowhere/libpythongoose.a" configure "$work/gone" > "$work/gone.log" 2>&1
status=$?
check "a PYTHONGOOSE_LIB that does not exist fails with its path" \
  bash -c "[ $status -ne 0 ] && grep -q 'nowhere/libpythongoose.a' '$work/gone.log' && grep -q 'does not exist' '$work/gone.log'"
mkdir -p "$work/nolayout" && : > "$work/nolayout/libpythongoose.a"
PYTHONGOOSE_LIB="$work/nolayout/libpythongoose.a" configure "$work/nolayout/b" > "$work/nolayout.log" 2>&1
status=$?
check "an archive without pythongoose_layout.h beside it fails" \
  bash -c "[ $status -ne 0 ] && grep -q 'pythongoose_layout.h is missing' '$work/nolayout.log'"

echo "cmake-check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
