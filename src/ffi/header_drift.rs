//! The committed C header must be exactly what cbindgen generates from the Rust source now.
//! `PYTHONGOOSE_BLESS=1 cargo test header_drift` rewrites it (the Makefile's `header` target).

use std::path::PathBuf;
use std::vec::Vec;
#[test]
fn committed_header_matches_the_rust_source() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let header_path = crate_dir.join("include").join("pythongoose.h");
    if std::env::var_os("PYTHONGOOSE_BLESS").is_some() {
        std::fs::write(&header_path, &generated).expect("writing include/pythongoose.h");
        return;
    }
    let committed = std::fs::read(&header_path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/pythongoose.h differs from what cbindgen generates now: run `make header` and commit it"
    );
}
