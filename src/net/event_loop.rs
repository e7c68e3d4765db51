//! The one Mongoose manager every listener and client shares, created on first use and freed by
//! `teardown` (the module's `close()`, and what a soft reset must call).

use alloc::boxed::Box;
use core::ffi::c_int;

use super::mongoose::{self as mg, mg_mgr};
use crate::abi::shim::PgCallOutcome;
use super::{http_server, mqtt_client, VmThreadCell};
use super::NetError;

struct EventLoop {
    /// Boxed: Mongoose keeps pointers to the manager.
    manager: Box<mg_mgr>,
    /// True while `mg_mgr_poll` runs (callbacks run inside it): poll and teardown must not re-enter.
    polling: bool,
}

static EVENT_LOOP: VmThreadCell<Option<EventLoop>> = VmThreadCell::new(None);

/// A callback raised KeyboardInterrupt/SystemExit, which the shim holds to raise out of `poll()`
/// (or the API call that ran the callback): until it has, nothing more is delivered to Python,
/// and what is left (MQTT events, HTTP requests) waits for the next `poll()`.
static STOP_PENDING: VmThreadCell<bool> = VmThreadCell::new(false);

/// Runs `f` with the loop's state; the borrow ends when `f` returns. `f` must not call Mongoose
/// or the shim (either may re-enter the module).
fn with_event_loop<R>(f: impl FnOnce(&mut Option<EventLoop>) -> R) -> R {
    // SAFETY: VM-thread only (see VmThreadCell); per this function's contract no other borrow of
    // EVENT_LOOP is alive while `f` runs.
    f(unsafe { &mut *EVENT_LOOP.get() })
}

/// The manager, created on first use.
pub fn manager() -> *mut mg_mgr {
    let existing = with_event_loop(|state| state.as_mut().map(|state| &mut *state.manager as *mut mg_mgr));
    if let Some(existing) = existing {
        return existing;
    }
    let mut manager: Box<mg_mgr> = Box::default();
    // SAFETY: a zeroed mg_mgr at a stable heap address; mg_mgr_init sets it up.
    unsafe { mg::mg_mgr_init(&mut *manager) };
    let pointer: *mut mg_mgr = &mut *manager;
    // SAFETY: a bare-metal board hands the new manager its network interface (Mongoose's own
    // TCP/IP stack); the interface lives in the board glue until `mg_mgr_free` releases it.
    #[cfg(target_os = "none")]
    unsafe {
        crate::abi::board::pg_board_net_attach(pointer as *mut core::ffi::c_void)
    };
    with_event_loop(|state| *state = Some(EventLoop { manager, polling: false }));
    pointer
}

/// Whether a callback's KeyboardInterrupt/SystemExit still waits to be raised.
pub fn stop_pending() -> bool {
    // SAFETY: VM-thread only; a plain copy of a bool.
    unsafe { *STOP_PENDING.get() }
}

/// Notes what a protected call into Python returned: a stop request holds back every further
/// delivery until the shim has raised it (`stop_raised`).
pub fn note_outcome(outcome: Option<PgCallOutcome>) {
    if matches!(outcome, Some(PgCallOutcome::Stopping | PgCallOutcome::Deferred)) {
        // SAFETY: VM-thread only; a plain store.
        unsafe { *STOP_PENDING.get() = true };
    }
}

/// The shim raised (or dropped) the pending KeyboardInterrupt/SystemExit: deliveries resume.
pub fn stop_raised() {
    // SAFETY: VM-thread only; a plain store.
    unsafe { *STOP_PENDING.get() = false };
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
pub fn poll(timeout_ms: c_int) -> Result<(), NetError> {
    let manager = with_event_loop(|state| match state {
        Some(state) if state.polling => Err(NetError::Reentered),
        Some(state) => {
            state.polling = true;
            Ok(&mut *state.manager as *mut mg_mgr)
        }
        None => Err(NetError::NotStarted),
    });
    let manager = manager?;
    // What a stop left undelivered goes first, in arrival order; a new stop ends this poll.
    mqtt_client::deliver();
    if stop_pending() {
        with_event_loop(|state| state.iter_mut().for_each(|state| state.polling = false));
        return Ok(());
    }
    // Requests a stop held back are served by this poll's MG_EV_POLL: no waiting for I/O first.
    let timeout_ms = if http_server::take_backlog() { 0 } else { timeout_ms };
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
    wait_and_dispatch(manager, timeout);
    mqtt_client::acknowledge_quiet_links();
    // Callbacks the timers run (a keepalive timeout's on_disconnect...) are inside the poll too.
    mqtt_client::run_due_timers(now_ms());
    with_event_loop(|state| state.iter_mut().for_each(|state| state.polling = false));
    Ok(())
}

/// Waits for I/O at most `timeout` ms and dispatches every event: Mongoose's socket poll waits itself.
#[cfg(not(target_os = "none"))]
fn wait_and_dispatch(manager: *mut mg_mgr, timeout: c_int) {
    // SAFETY: the manager stays alive: `teardown` refuses to run while `polling` is set.
    unsafe { mg::mg_mgr_poll(manager, timeout) };
}

/// On a bare-metal board Mongoose's built-in TCP/IP stack never sleeps in `mg_mgr_poll`: dispatch
/// what is there, wait in the board's `wfi` (cut short by a received frame or Ctrl-C), then
/// dispatch what the wait brought.
#[cfg(target_os = "none")]
fn wait_and_dispatch(manager: *mut mg_mgr, timeout: c_int) {
    // SAFETY: the manager stays alive: `teardown` refuses to run while `polling` is set.
    unsafe { mg::mg_mgr_poll(manager, 0) };
    if let Ok(ms) = u32::try_from(timeout) {
        if ms > 0 {
            // SAFETY: the board's wait only sleeps and reads devices; it never calls back into Rust.
            unsafe { crate::abi::board::pg_board_wait_ms(ms) };
            // SAFETY: as above.
            unsafe { mg::mg_mgr_poll(manager, 0) };
        }
    }
}

/// Frees the manager when nothing uses it (e.g. after the first listener failed to open), so
/// that `poll` keeps saying nothing was started.
pub fn release_if_unused() {
    let unused = with_event_loop(|state| state.as_ref().is_some_and(|state| !state.polling && state.manager.conns.is_null()));
    if unused && !http_server::is_running() && !mqtt_client::any_running() {
        let _ = teardown();
    }
}

pub fn is_polling() -> bool {
    with_event_loop(|state| state.as_ref().is_some_and(|state| state.polling))
}

/// Closes every listener, connection and client and frees the manager.
pub fn teardown() -> Result<(), NetError> {
    if is_polling() {
        return Err(NetError::Reentered);
    }
    http_server::forget();
    mqtt_client::forget_all();
    stop_raised();
    if let Some(mut state) = with_event_loop(Option::take) {
        say_goodbye(&mut state.manager);
        // SAFETY: no poll is running; mg_mgr_free closes and frees every connection without
        // calling back into the (already forgotten) listener or clients.
        unsafe { mg::mg_mgr_free(&mut *state.manager) };
    }
    Ok(())
}

/// Marks every connection draining before `mg_mgr_free`, so that its last poll tells each TCP
/// peer the connection is over. With sockets (unix) closing the socket does that anyway; with
/// Mongoose's own TCP/IP stack (a bare-metal board) a connection that is only freed sends
/// nothing, and the peer (an HTTP client on keep-alive, the MQTT broker) would hold it open until
/// its own timeout. Draining makes that poll send what is queued, then a FIN. Listeners,
/// connections still connecting and UDP are left alone by Mongoose.
fn say_goodbye(manager: &mut mg_mgr) {
    let mut connection = manager.conns;
    while !connection.is_null() {
        // SAFETY: a connection of this manager's list, alive until mg_mgr_free frees it; no poll
        // runs, so nothing else touches the list meanwhile.
        unsafe {
            (*connection).set_is_draining(1);
            connection = (*connection).next;
        }
    }
}

