//! pythongoose: the Rust part of MicroPython's `mongoose` module.
//!
//! Layers (see `DESIGN.md` in the shared folder and the README): `http` is the sans-I/O HTTP
//! logic (routing, auth decision, limits, reply building); `net` is the Mongoose event layer;
//! `ffi` holds every `extern "C"` entry point the C shim (`src/shim/`) calls. Nothing in `http`
//! reaches `net`, `ffi` or Mongoose.
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
pub mod url;

#[cfg(feature = "mongoose")]
pub mod ffi;
#[cfg(feature = "mongoose")]
pub(crate) mod net;

pub mod heap;
mod runtime;
