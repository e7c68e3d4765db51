//! The boundary's vocabulary, shared by the event layer (`net`) and the FFI layer (`ffi`) so that
//! neither imports the other: the `#[repr(C)]` types the C shim sees (cbindgen writes them into
//! `include/pythongoose.h`) and the shim functions Rust calls (protected calls into Python, the
//! platform resolver), and on bare-metal boards the board glue's services (`board`). Nothing here has behaviour beyond converting codes.

#[cfg(target_os = "none")]
pub mod board;
pub mod shim;
pub mod types;
