//! pythongoose: the Rust part of MicroPython's `mongoose` module.
//!
//! Layers (docs/ARCHITECTURE.md): `mqtt`, `http` and `url` are sans-I/O logic (no FFI, no
//! Mongoose); `net` is the Mongoose event layer; `abi` holds the `#[repr(C)]` types and the shim
//! functions that `net` and `ffi` share; `ffi` holds every `extern "C"` entry point the C shim
//! (`src/shim/`) calls; `heap` and `runtime` are the allocator and panic handler. `net` never
//! imports `ffi`, and nothing in the pure cores reaches below them.
#![no_std]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)
)]

extern crate alloc;
// Tests and `cargo fuzz` builds (fuzz/, `--cfg fuzzing`) run on the host with std: its allocator
// and panic handler replace the ones in `runtime`.
#[cfg(any(test, fuzzing))]
extern crate std;

pub mod http;
#[cfg(feature = "mqtt")]
pub mod mqtt;
pub mod tls;
pub mod url;

#[cfg(feature = "mongoose")]
pub mod abi;
#[cfg(feature = "mongoose")]
pub mod ffi;
#[cfg(feature = "mongoose")]
pub(crate) mod net;

pub mod heap;
mod runtime;
