//! The one Mongoose manager every listener and client shares, created on first use and freed by
//! `teardown` (the module's `close()`, and what a soft reset must call).

use alloc::boxed::Box;
use core::ffi::c_int;

use super::mongoose::{self as mg, mg_mgr};
use super::{http_server, mqtt_client, VmThreadCell};
use crate::ffi::types::PgStatus;

struct EventLoop {
    /// Boxed: Mongoose keeps pointers to the manager.
    manager: Box<mg_mgr>,
    /// True while `mg_mgr_poll` runs (callbacks run inside it): poll and teardown must not re-enter.
    polling: bool,
}

static EVENT_LOOP: VmThreadCell<Option<EventLoop>> = VmThreadCell::new(None);

fn event_loop() -> Option<&'static mut EventLoop> {
    // SAFETY: VM-thread only (see VmThreadCell); borrows are short and never held across
    // `mg_mgr_poll` or a call into Python.
    unsafe { (*EVENT_LOOP.get()).as_mut() }
}

/// The manager, created on first use.
pub fn manager() -> *mut mg_mgr {
    if let Some(existing) = event_loop() {
        return &mut *existing.manager;
    }
    let mut manager: Box<mg_mgr> = Box::default();
    // SAFETY: a zeroed mg_mgr at a stable heap address; mg_mgr_init sets it up.
    unsafe { mg::mg_mgr_init(&mut *manager) };
    let pointer: *mut mg_mgr = &mut *manager;
    // SAFETY: VM-thread only; nothing borrows EVENT_LOOP here.
    unsafe { *EVENT_LOOP.get() = Some(EventLoop { manager, polling: false }) };
    pointer
}

/// Milliseconds on Mongoose's monotonic clock.
pub fn now_ms() -> u64 {
    // SAFETY: mg_millis only reads the system clock.
    unsafe { mg::mg_millis() }
}

/// 32 random bits from the platform's source (Mongoose's mg_random: /dev/urandom, esp_random...).
#[cfg(feature = "mqtt")]
pub fn random_u32() -> u32 {
    let mut bytes = [0u8; 4];
    // SAFETY: fills the 4-byte buffer.
    unsafe { mg::mg_random(bytes.as_mut_ptr() as *mut core::ffi::c_void, bytes.len()) };
    u32::from_le_bytes(bytes)
}

/// One iteration: waits for I/O at most `timeout_ms` (less when an MQTT timer is due sooner),
/// dispatches every event, then runs the MQTT timers that are due. `NotStarted` until `init`
/// or an MQTT `connect` created the loop (and again after `close`); a loop whose clients all
/// disconnected still polls (and just waits).
pub fn poll(timeout_ms: c_int) -> PgStatus {
    let manager: *mut mg_mgr = match event_loop() {
        Some(state) if state.polling => return PgStatus::Reentered,
        Some(state) => {
            state.polling = true;
            &mut *state.manager
        }
        None => return PgStatus::NotStarted,
    };
    let timeout = match mqtt_client::next_wakeup_ms() {
        Some(wakeup) => {
            let wait = wakeup.saturating_sub(now_ms());
            c_int::try_from(wait).map_or(timeout_ms, |wait| wait.min(timeout_ms))
        }
        None => timeout_ms,
    };
    if timeout > 0 {
        mqtt_client::acknowledge_before_wait();
    }
    // SAFETY: the manager stays alive: `teardown` refuses to run while `polling` is set.
    unsafe { mg::mg_mgr_poll(manager, timeout) };
    if let Some(state) = event_loop() {
        state.polling = false;
    }
    mqtt_client::acknowledge_quiet_links();
    mqtt_client::run_due_timers(now_ms());
    PgStatus::Ok
}

/// Frees the manager when nothing uses it (e.g. after the first listener failed to open), so
/// that `poll` keeps saying nothing was started.
pub fn release_if_unused() {
    let unused = event_loop().is_some_and(|state| !state.polling && state.manager.conns.is_null());
    if unused && !http_server::is_running() && !mqtt_client::any_running() {
        let _ = teardown();
    }
}

pub fn is_polling() -> bool {
    event_loop().is_some_and(|state| state.polling)
}

/// Closes every listener, connection and client and frees the manager.
pub fn teardown() -> PgStatus {
    if is_polling() {
        return PgStatus::Reentered;
    }
    http_server::forget();
    mqtt_client::forget_all();
    // SAFETY: VM-thread only; the loop is taken out before its manager is freed.
    if let Some(mut state) = unsafe { (*EVENT_LOOP.get()).take() } {
        // SAFETY: no poll is running; mg_mgr_free closes and frees every connection without
        // calling back into the (already forgotten) listener or clients.
        unsafe { mg::mg_mgr_free(&mut *state.manager) };
    }
    PgStatus::Ok
}
