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
/// `MG_TLS=MG_TLS_BUILTIN`: Mongoose's own TLS 1.3 (no external library) for https:// and mqtts://
/// (`MG_TLS_NONE` when the `tls` feature is off).
const MONGOOSE_DEFINES: &[(&str, &str)] =
    &[("MG_ENABLE_LOG", "0"), ("MG_ENABLE_CUSTOM_CALLOC", "1"), ("MG_TLS", "MG_TLS_BUILTIN")];

/// The shim's wrapper Mongoose's `epoll_wait` calls are renamed to (src/shim/modmongoose.c).
const BLOCKING_WAIT_LINUX: &str = "pg_shim_epoll_wait";

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
    // Without the `tls` feature Mongoose is built without its TLS stack (MG_TLS_NONE: its
    // mg_tls_init only fails the connection, and the event layer never calls it). The structs Rust
    // reads do not depend on MG_TLS.
    let tls = env::var_os("CARGO_FEATURE_TLS").is_some();
    let mongoose_defines: Vec<(&str, &str)> = MONGOOSE_DEFINES
        .iter()
        .map(|&(name, value)| if name == "MG_TLS" && !tls { (name, "MG_TLS_NONE") } else { (name, value) })
        .collect();

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
            // -Os whatever the Rust profile's opt-level: boards need the size, and the C-only
            // limits in bench/ compile the same Mongoose with -Os.
            .opt_level_str("s")
            .warnings(false);
        if let Some(dir) = &board_dir {
            build.include(dir);
        }
        for (name, value) in mongoose_defines.iter().chain(board_defines.iter()) {
            build.define(name, Some(*value));
        }
        // Mongoose's blocking wait (mg_mgr_poll's epoll_wait on Linux) goes through the shim, which
        // lets other Python threads run meanwhile (the GIL is released around the wait only).
        if board_dir.is_none() && target_os == "linux" {
            build.define("epoll_wait", Some(BLOCKING_WAIT_LINUX));
        }
        build.compile("mongoose");
    }
    println!("cargo:rerun-if-env-changed=PYTHONGOOSE_SKIP_MONGOOSE_C");

    let mut bindings = bindgen::Builder::default()
        .header(header.to_string_lossy())
        .use_core()
        .ctypes_prefix("core::ffi")
        // Layout assertions in the Rust code: rustc checks that the Rust types have the sizes and
        // offsets libclang computed for the target; `write_layout_header` hands the same numbers to
        // the firmware's C compiler (DESIGN rule 9).
        .layout_tests(true)
        .derive_default(true)
        .generate_comments(false)
        .allowlist_function("mg_mgr_init|mg_mgr_poll|mg_mgr_free|mg_listen|mg_http_parse|mg_http_get_header|mg_send|mg_iobuf_del|mg_iobuf_resize|mg_log_set|mg_millis|mg_connect|mg_timer_add|mg_timer_free|mg_wakeup|mg_close_conn|mg_random|mg_io_send|mg_ws_upgrade|mg_ws_send|mg_tls_init")
        .allowlist_type("mg_mgr|mg_connection|mg_http_message|mg_str|mg_iobuf|mg_ws_message|mg_tls_opts")
        .allowlist_item("mg_event|MG_LL_.*|MG_MAX_HTTP_HEADERS|MG_DATA_SIZE|mg_boot_timestamp_ms")
        .prepend_enum_name(false);
    if let Some(dir) = &board_dir {
        bindings = bindings.clang_arg(format!("-I{}", dir.display()));
    }
    for (name, value) in mongoose_defines.iter().chain(board_defines.iter()) {
        bindings = bindings.clang_arg(format!("-D{name}={value}"));
    }
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let generated = bindings
        .generate()
        .expect("bindgen could not read mongoose.h (is libclang-dev installed?)")
        .to_string();
    std::fs::write(out_dir.join("mongoose_bindings.rs"), &generated).expect("writing the Mongoose bindings");
    write_layout_header(&generated, &out_dir);
}

/// The structs whose layout Rust relies on (it reads or writes their fields, or embeds them).
const CHECKED_STRUCTS: &[&str] =
    &["mg_str", "mg_iobuf", "mg_http_header", "mg_http_message", "mg_addr", "mg_connection", "mg_mgr", "mg_ws_message", "mg_tls_opts"];

/// Writes `pythongoose_layout.h`: one `_Static_assert` per size and field offset of `CHECKED_STRUCTS`
/// as bindgen (libclang, for this target and these defines) computed them, the same numbers the
/// layout assertions in the generated Rust check the Rust types against. `src/shim/layout_check.c`
/// includes it after `mongoose.h`, so the firmware's C compiler fails the build on any mismatch.
/// It is written to OUT_DIR and beside the static library (`target/<triple>/<profile>/`), where the
/// firmware builds find it next to `PYTHONGOOSE_LIB`: the header always describes that archive.
fn write_layout_header(generated: &str, out_dir: &std::path::Path) {
    let mut checks = String::new();
    let mut count = 0;
    // rustfmt may wrap an assertion over several lines: join them first.
    let joined = generated.split_whitespace().collect::<Vec<_>>().join(" ");
    for item in joined.split("; ") {
        // bindgen's form: ["Size of T"][size_of::<T>() - 16usize]
        //                 ["Offset of field: T::f"][offset_of!(T, f) - 8usize]
        let Some((_, rest)) = item.split_once("[\"") else { continue };
        let Some((label, tail)) = rest.split_once("\"]") else { continue };
        let Some(number) = tail.rsplit_once(" - ").and_then(|(_, n)| n.trim_end_matches(';').strip_suffix("usize]")) else {
            continue;
        };
        let Ok(number) = number.parse::<usize>() else { continue };
        if let Some(name) = label.strip_prefix("Size of ") {
            if CHECKED_STRUCTS.contains(&name) {
                checks.push_str(&format!(
                    "_Static_assert(sizeof(struct {name}) == {number}, \"sizeof(struct {name}) differs from Rust's {number}\");\n"
                ));
                count += 1;
            }
        } else if let Some(name) = label.strip_prefix("Alignment of ") {
            if CHECKED_STRUCTS.contains(&name) {
                checks.push_str(&format!(
                    "_Static_assert(_Alignof(struct {name}) == {number}, \"alignment of struct {name} differs from Rust's {number}\");\n"
                ));
                count += 1;
            }
        } else if let Some((name, field)) = label.strip_prefix("Offset of field: ").and_then(|f| f.split_once("::")) {
            if !CHECKED_STRUCTS.contains(&name) {
                continue;
            }
            // bindgen's own names (bitfield storage, padding) have no C counterpart; the word holding the
            // is_* bitfields is pinned by the offset of the field before it (`tls`) and the struct's size.
            if field.starts_with('_') {
                continue;
            }
            // Rust keywords get a trailing underscore (`fn` -> `fn_`).
            let c_field = match field {
                "fn_" | "type_" | "ref_" | "mod_" | "match_" | "loop_" => field.trim_end_matches('_'),
                _ => field,
            };
            checks.push_str(&format!(
                "_Static_assert(offsetof(struct {name}, {c_field}) == {number}, \"offset of {name}.{c_field} differs from Rust's {number}\");\n"
            ));
            count += 1;
        }
    }
    if count == 0 {
        panic!("no layout assertions found in the generated bindings (bindgen's layout test format changed?)");
    }
    let target = env::var("TARGET").unwrap_or_default();
    let header = format!(
        "// Generated by build.rs for {target}: the sizes and offsets of the Mongoose structs as the Rust\n\
         // library sees them (bindgen, same defines). Include after mongoose.h (src/shim/layout_check.c);\n\
         // a mismatch with the C compiler's layout fails the firmware build. Do not edit.\n\
         #pragma once\n#include <stddef.h>\n#define PYTHONGOOSE_LAYOUT_CHECKS {count}\n{checks}"
    );
    std::fs::write(out_dir.join("pythongoose_layout.h"), &header).expect("writing pythongoose_layout.h");
    // OUT_DIR is <target dir>/[<triple>/]<profile>/build/<package>-<hash>/out: three levels up is the
    // folder that holds libpythongoose.a.
    if let Some(lib_dir) = out_dir.ancestors().nth(3) {
        std::fs::write(lib_dir.join("pythongoose_layout.h"), &header).expect("writing pythongoose_layout.h beside the library");
    }
}
