//! Sans-I/O HTTP logic: which route a request reaches, whether its credentials are present,
//! whether it fits the limits, and the bytes of the reply head. No Mongoose, no FFI.

pub mod auth;
pub mod chunked;
pub mod limits;
pub mod reply;
pub mod routes;
pub mod sse;
pub mod static_files;
pub mod template;
pub mod ws;
