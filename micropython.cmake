# MicroPython user C module for CMake-based ports (ports/esp32): the `mongoose` module.
#   make -C ports/esp32 BOARD=ESP32_GENERIC_C3 USER_C_MODULES=/path/to/pythongoose/micropython.cmake
# with PYTHONGOOSE_LIB (environment or CMake variable) naming the Rust archive built for the board's
# target with PYTHONGOOSE_SKIP_MONGOOSE_C=1 (see `make esp32`). ports/esp32 includes this file from
# its main component's CMakeLists.txt (through py/usermod.cmake), so the sources below are compiled
# as part of the main component by the IDF's compiler, with its include directories (lwIP, esp_timer).
#
#   - the C shim: module tables, QSTRs, root pointers (scanned for QSTRs like every usermod source);
#   - Mongoose's C with MG_ARCH_ESP32 and the defines build.rs gives it (MONGOOSE_DEFINES there);
#   - src/shim/layout_check.c: _Static_asserts on the Mongoose layouts the archive was built against
#     (pythongoose_layout.h, written by build.rs beside the archive), DESIGN rule 9;
#   - the prebuilt Rust archive, a STATIC IMPORTED library linked after the main component's archive.

set(PYTHONGOOSE_DIR ${CMAKE_CURRENT_LIST_DIR})

# The Rust archive: CMake variable first, then the environment (ports/esp32's Makefile forwards only
# USER_C_MODULES, BOARD, BOARD_VARIANT and FROZEN_MANIFEST to idf.py).
if(NOT PYTHONGOOSE_LIB AND DEFINED ENV{PYTHONGOOSE_LIB})
    set(PYTHONGOOSE_LIB $ENV{PYTHONGOOSE_LIB})
endif()
if(NOT PYTHONGOOSE_LIB)
    message(FATAL_ERROR
        "pythongoose: PYTHONGOOSE_LIB is not set. Build the Rust library for the board's target first "
        "(`make esp32` does: cargo build --release --lib --target riscv32imc-unknown-none-elf with "
        "PYTHONGOOSE_BOARD_DIR=boards/esp32 and PYTHONGOOSE_SKIP_MONGOOSE_C=1), then pass its path as "
        "PYTHONGOOSE_LIB=/path/to/libpythongoose.a in the environment or with -DPYTHONGOOSE_LIB=...")
endif()
get_filename_component(PYTHONGOOSE_LIB ${PYTHONGOOSE_LIB} ABSOLUTE)
if(NOT EXISTS ${PYTHONGOOSE_LIB})
    message(FATAL_ERROR "pythongoose: PYTHONGOOSE_LIB=${PYTHONGOOSE_LIB} does not exist (build the Rust library first)")
endif()
get_filename_component(PYTHONGOOSE_LIB_DIR ${PYTHONGOOSE_LIB} DIRECTORY)
if(NOT EXISTS ${PYTHONGOOSE_LIB_DIR}/pythongoose_layout.h)
    message(FATAL_ERROR
        "pythongoose: ${PYTHONGOOSE_LIB_DIR}/pythongoose_layout.h is missing: it is written by build.rs "
        "beside the archive; rebuild the Rust library (with the `mongoose` feature)")
endif()

# Mongoose's sources (scripts/fetch-sources.sh puts them in third_party/mongoose).
if(NOT PYTHONGOOSE_MONGOOSE_DIR AND DEFINED ENV{PYTHONGOOSE_MONGOOSE_DIR})
    set(PYTHONGOOSE_MONGOOSE_DIR $ENV{PYTHONGOOSE_MONGOOSE_DIR})
endif()
if(NOT PYTHONGOOSE_MONGOOSE_DIR)
    set(PYTHONGOOSE_MONGOOSE_DIR ${PYTHONGOOSE_DIR}/third_party/mongoose)
endif()
get_filename_component(PYTHONGOOSE_MONGOOSE_DIR ${PYTHONGOOSE_MONGOOSE_DIR} ABSOLUTE)
if(NOT EXISTS ${PYTHONGOOSE_MONGOOSE_DIR}/mongoose.c)
    message(FATAL_ERROR
        "pythongoose: ${PYTHONGOOSE_MONGOOSE_DIR}/mongoose.c not found: run scripts/fetch-sources.sh "
        "or set PYTHONGOOSE_MONGOOSE_DIR")
endif()

# What the module holds; each must match the Rust library's cargo features (its default: all):
#   PYTHONGOOSE_MQTT=0  no MQTT client (the library built without the `mqtt` feature)
#   PYTHONGOOSE_WEB=0   no static files, File/Template, WebSocket, SSE (without `web`)
#   PYTHONGOOSE_TLS=0   no https:// or mqtts:// (without `tls`): Mongoose compiled with MG_TLS_NONE
# (a CMake variable, else the environment, as for PYTHONGOOSE_LIB; `make esp32 LEAN=1` exports them)
foreach(option PYTHONGOOSE_MQTT PYTHONGOOSE_WEB PYTHONGOOSE_TLS)
    if(NOT DEFINED ${option} AND DEFINED ENV{${option}})
        set(${option} $ENV{${option}})
    endif()
    if(NOT DEFINED ${option})
        set(${option} 1)
    endif()
endforeach()
if(PYTHONGOOSE_TLS)
    set(PYTHONGOOSE_MG_TLS MG_TLS_BUILTIN)
else()
    set(PYTHONGOOSE_MG_TLS MG_TLS_NONE)
endif()

add_library(usermod_pythongoose INTERFACE)

target_sources(usermod_pythongoose INTERFACE
    ${PYTHONGOOSE_DIR}/src/shim/modmongoose.c
    ${PYTHONGOOSE_DIR}/src/shim/files.c
    ${PYTHONGOOSE_DIR}/src/shim/push.c
    ${PYTHONGOOSE_DIR}/src/shim/layout_check.c
    ${PYTHONGOOSE_MONGOOSE_DIR}/mongoose.c
)

target_include_directories(usermod_pythongoose INTERFACE
    ${PYTHONGOOSE_DIR}/include
    ${PYTHONGOOSE_MONGOOSE_DIR}
    ${PYTHONGOOSE_LIB_DIR}
)

# The same settings as build.rs's MONGOOSE_DEFINES (scripts/check-cmake.sh compares them), plus the
# architecture. They reach every source of the main component; only mongoose.h reads MG_*.
target_compile_definitions(usermod_pythongoose INTERFACE
    MG_ARCH=MG_ARCH_ESP32
    MG_ENABLE_LOG=0
    MG_ENABLE_CUSTOM_CALLOC=1
    MG_TLS=${PYTHONGOOSE_MG_TLS}
    PYTHONGOOSE_MQTT=${PYTHONGOOSE_MQTT}
    PYTHONGOOSE_WEB=${PYTHONGOOSE_WEB}
)

# Mongoose is third-party code: no warnings for it (as build.rs compiles it), whatever the IDF's
# -Werror settings. Source properties are per directory: this file is included from the main
# component's CMakeLists.txt, the directory its target is created in.
# Its blocking wait (select, in mg_mgr_poll) goes through the shim's pg_shim_select, which releases
# the GIL meanwhile so other Python threads run (build.rs does the same for epoll_wait on Linux).
set_source_files_properties(${PYTHONGOOSE_MONGOOSE_DIR}/mongoose.c PROPERTIES
    COMPILE_OPTIONS "-w"
    COMPILE_DEFINITIONS "select=pg_shim_select")

# The Rust archive, linked after the main component's archive (which holds mongoose.o and the shim).
# Nothing in the main component calls Mongoose, so without --undefined the linker would pass over
# mongoose.o before the Rust archive asks for it.
add_library(pythongoose_rust STATIC IMPORTED GLOBAL)
set_target_properties(pythongoose_rust PROPERTIES IMPORTED_LOCATION ${PYTHONGOOSE_LIB})
target_link_libraries(usermod_pythongoose INTERFACE pythongoose_rust)
target_link_options(usermod_pythongoose INTERFACE -Wl,--undefined=mg_mgr_init)

target_link_libraries(usermod INTERFACE usermod_pythongoose)
