//! Build script: compiles Mongoose's C (fetched by `scripts/fetch-sources.sh` into `third_party/`)
//! with `cc`, and generates Rust bindings for the part of `mongoose.h` the event layer uses with
//! `bindgen`. Both see the same `MONGOOSE_DEFINES`, so struct layouts agree.
//! Without the `mongoose` feature (the portable protocol core) nothing is done.
//!
//! For a board (`PYTHONGOOSE_BOARD_DIR`, set by the board's make fragment, e.g. `boards/qemu-virt-rv32`),
//! Mongoose is built with `MG_ARCH=MG_ARCH_CUSTOM` and the board's `mongoose_config.h`, for both the C
//! build and bindgen. The board's make fragment also names the cross compiler and the target's include
//! directories (`CC_<target>`, `CFLAGS_<target>`, `BINDGEN_EXTRA_CLANG_ARGS_<target>`, read by cc and bindgen).

use std::env;
use std::path::PathBuf;

/// Compile-time settings for Mongoose, shared by the C build and bindgen (a setting such as
/// `MG_MAX_HTTP_HEADERS` would change `struct mg_http_message`, so both sides must see the same).
/// `MG_ENABLE_CUSTOM_CALLOC`: Mongoose allocates through `mg_calloc`/`mg_free` in `src/heap.rs`
/// (counted, budgeted, aligned); a firmware build that compiles Mongoose itself must set it too.
const MONGOOSE_DEFINES: &[(&str, &str)] = &[("MG_ENABLE_LOG", "0"), ("MG_ENABLE_CUSTOM_CALLOC", "1")];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PYTHONGOOSE_MONGOOSE_DIR");
    println!("cargo:rerun-if-env-changed=PYTHONGOOSE_BOARD_DIR");
    if env::var_os("CARGO_FEATURE_MONGOOSE").is_none() {
        return;
    }
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let mongoose_dir = env::var_os("PYTHONGOOSE_MONGOOSE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir.join("third_party").join("mongoose"));
    let header = mongoose_dir.join("mongoose.h");
    let source = mongoose_dir.join("mongoose.c");
    if !header.exists() || !source.exists() {
        panic!(
            "Mongoose sources not found in {}: run `make` (or scripts/fetch-sources.sh) first",
            mongoose_dir.display()
        );
    }
    println!("cargo:rerun-if-changed={}", header.display());
    println!("cargo:rerun-if-changed={}", source.display());

    // A board build: the board's mongoose_config.h (MG_ARCH_CUSTOM) for both the C build and bindgen.
    let board_dir = env::var_os("PYTHONGOOSE_BOARD_DIR").map(PathBuf::from);
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if board_dir.is_none() && target_os == "none" {
        panic!("a bare-metal target needs PYTHONGOOSE_BOARD_DIR (a folder with mongoose_config.h): use `make qemu`");
    }
    let mut board_defines: Vec<(&str, &str)> = Vec::new();
    if let Some(dir) = &board_dir {
        let config = dir.join("mongoose_config.h");
        if !config.exists() {
            panic!("{} not found", config.display());
        }
        println!("cargo:rerun-if-changed={}", config.display());
        board_defines.push(("MG_ARCH", "MG_ARCH_CUSTOM"));
    }

    // Mongoose's C is linked into the staticlib unless the firmware build compiles it itself
    // (the ESP32 port does, with the IDF's compiler and lwIP headers).
    if env::var_os("PYTHONGOOSE_SKIP_MONGOOSE_C").is_none() {
        let mut build = cc::Build::new();
        build
            .file(&source)
            .include(&mongoose_dir)
            .flag_if_supported("-std=gnu99")
            .flag_if_supported("-ffunction-sections")
            .flag_if_supported("-fdata-sections")
            // Nothing unwinds through Mongoose: no .eh_frame for it in the firmware.
            .flag_if_supported("-fno-asynchronous-unwind-tables")
            .flag_if_supported("-fno-unwind-tables")
            .warnings(false);
        if let Some(dir) = &board_dir {
            build.include(dir);
        }
        for (name, value) in MONGOOSE_DEFINES.iter().chain(board_defines.iter()) {
            build.define(name, Some(*value));
        }
        build.compile("mongoose");
    }
    println!("cargo:rerun-if-env-changed=PYTHONGOOSE_SKIP_MONGOOSE_C");

    let mut bindings = bindgen::Builder::default()
        .header(header.to_string_lossy())
        .use_core()
        .ctypes_prefix("core::ffi")
        .layout_tests(false)
        .derive_default(true)
        .generate_comments(false)
        .allowlist_function("mg_mgr_init|mg_mgr_poll|mg_mgr_free|mg_listen|mg_http_parse|mg_http_get_header|mg_send|mg_iobuf_del|mg_log_set|mg_millis|mg_connect|mg_timer_add|mg_timer_free|mg_wakeup|mg_close_conn|mg_random|mg_io_send")
        .allowlist_type("mg_mgr|mg_connection|mg_http_message|mg_str|mg_iobuf")
        .allowlist_item("mg_event|MG_LL_.*|MG_MAX_HTTP_HEADERS|MG_DATA_SIZE")
        .prepend_enum_name(false);
    if let Some(dir) = &board_dir {
        bindings = bindings.clang_arg(format!("-I{}", dir.display()));
    }
    for (name, value) in MONGOOSE_DEFINES.iter().chain(board_defines.iter()) {
        bindings = bindings.clang_arg(format!("-D{name}={value}"));
    }
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("mongoose_bindings.rs");
    bindings
        .generate()
        .expect("bindgen could not read mongoose.h (is libclang-dev installed?)")
        .write_to_file(&out)
        .expect("writing the Mongoose bindings");
}
