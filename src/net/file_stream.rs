//! Replies whose body is a file (static files, `File`, `Template`), sent in chunks as the
//! connection's send buffer drains: heap use does not grow with the file, and a client that
//! reads slowly holds its own connection back, not the others. The file is read through the
//! shim (MicroPython's VFS); a template's `{{name}}`s are replaced as the chunks go by
//! (`crate::http::template`).
//!
//! A connection has at most one stream; the requests pipelined behind it wait in its receive
//! buffer until the stream is done (`is_streaming`).

use alloc::vec::Vec;
use core::ffi::c_void;

use super::mongoose::{self as mg, mg_connection};
use super::VmThreadCell;
use crate::abi::shim::{self, PgCallOutcome};
use crate::abi::types::PgBytes;
use crate::heap;
use crate::http::template::{html_escape_into, Summariser, Summary, Token, Tokenizer};

/// Bytes read from the file at a time: Mongoose's own I/O size on unix (its static files are read
/// the same way), a board's TCP window's worth on a board.
#[cfg(target_os = "none")]
const CHUNK: usize = 4096;
#[cfg(not(target_os = "none"))]
const CHUNK: usize = 16384;
/// The send buffer is refilled while it holds less than this.
const LOW_WATER: usize = CHUNK;

/// A template's values: `(name, escaped text)`, one per distinct name.
pub type TemplateValues = Vec<(Vec<u8>, Vec<u8>)>;

/// A template's state while it streams: the tokenizer and each name's escaped value.
struct TemplateFill {
    tokenizer: Tokenizer,
    values: TemplateValues,
}

struct Stream {
    /// The connection's id (`c->id`): never reused while the manager lives.
    connection_id: usize,
    /// The shim's name for the open file.
    id: u32,
    /// File bytes still to send (templates: until the end of the file).
    remaining: u64,
    template: Option<TemplateFill>,
    /// The connection closes once the stream is done (`Connection: close`, HTTP/1.0).
    close_after: bool,
}

struct Streams {
    open: Vec<Stream>,
    next_id: u32,
}

static STREAMS: VmThreadCell<Streams> = VmThreadCell::new(Streams { open: Vec::new(), next_id: 1 });

/// Runs `f` with the stream table; the borrow ends when `f` returns. `f` must not call Mongoose
/// or the shim.
fn with_streams<R>(f: impl FnOnce(&mut Streams) -> R) -> R {
    // SAFETY: VM-thread only (see VmThreadCell); per this function's contract no other borrow
    // of STREAMS is alive while `f` runs.
    f(unsafe { &mut *STREAMS.get() })
}

fn connection_id(c: *mut mg_connection) -> usize {
    // SAFETY: a live connection.
    unsafe { (*c).id as usize }
}

/// Whether `c` is sending a file (its pipelined requests wait).
pub fn is_streaming(c: *mut mg_connection) -> bool {
    let id = connection_id(c);
    with_streams(|streams| streams.open.iter().any(|s| s.connection_id == id))
}

/// Why a file could not be opened for a reply.
pub enum OpenError {
    /// The call into Python did not return normally (a VFS raised; a stop is pending...).
    Call(Option<PgCallOutcome>),
    /// The C heap or its budget is spent.
    OutOfMemory,
}

/// A stream id for a file about to be opened (ids are not reused while the table holds them).
fn next_stream_id() -> u32 {
    with_streams(|streams| loop {
        let id = streams.next_id;
        streams.next_id = streams.next_id.checked_add(1).unwrap_or(1);
        if !streams.open.iter().any(|s| s.id == id) {
            return id;
        }
    })
}

/// Ok when a call into the shim returned normally (a stop it raised is noted either way).
fn call_result(code: i32) -> Result<(), OpenError> {
    let outcome = PgCallOutcome::from_code(code);
    super::event_loop::note_outcome(outcome);
    match outcome {
        Some(PgCallOutcome::Ok) => Ok(()),
        other => Err(OpenError::Call(other)),
    }
}

/// Opens `path` through the VFS for a reply on `c`; `with_reply` keeps the handler's
/// File/Template object with it. The caller sends the head, then `start` the body.
pub fn open(path: &[u8], with_reply: bool) -> Result<u32, OpenError> {
    let id = next_stream_id();
    // SAFETY: `path` is readable for its length during the call.
    call_result(unsafe { shim::pg_shim_stream_open(id, path.as_ptr(), path.len(), with_reply) })?;
    Ok(id)
}

/// Moves an opened file to `offset` (a Range reply; a template's second pass at 0).
fn seek_to(id: u32, offset: u64) -> Result<(), OpenError> {
    // SAFETY: a plain call; the shim looks the stream up by id.
    call_result(unsafe { shim::pg_shim_stream_seek(id, offset) })
}

/// Moves a freshly opened file to `offset` (nothing to do at 0).
pub fn seek(id: u32, offset: u64) -> Result<(), OpenError> {
    if offset == 0 {
        return Ok(());
    }
    seek_to(id, offset)
}

/// Moves an opened file back to its start (a template's second pass).
pub fn rewind(id: u32) -> Result<(), OpenError> {
    seek_to(id, 0)
}

/// A template's first pass: reads the whole file for its names and literal length.
pub fn summarise_template(id: u32) -> Result<Summary, OpenError> {
    let mut chunk = Vec::new();
    if !heap::admit(CHUNK) || chunk.try_reserve_exact(CHUNK).is_err() {
        return Err(OpenError::OutOfMemory);
    }
    chunk.resize(CHUNK, 0);
    let mut summariser = Summariser::new();
    loop {
        // SAFETY: `chunk` holds CHUNK writable bytes for the call.
        let got = unsafe { shim::pg_shim_stream_read(id, chunk.as_mut_ptr(), CHUNK) };
        let got = usize::try_from(got).ok().filter(|got| *got <= CHUNK).ok_or(OpenError::Call(Some(PgCallOutcome::Failed)))?;
        if got == 0 {
            return summariser.finish().map_err(template_error);
        }
        summariser.feed(chunk.get(..got).unwrap_or_default()).map_err(template_error)?;
    }
}

fn template_error(error: crate::http::template::TemplateError) -> OpenError {
    match error {
        crate::http::template::TemplateError::OutOfMemory => OpenError::OutOfMemory,
        crate::http::template::TemplateError::TooManyNames => OpenError::Call(Some(PgCallOutcome::Failed)),
    }
}

/// Closes an opened file that will not be streamed (the head could not be sent, HEAD...).
pub fn discard(id: u32) {
    // SAFETY: a plain call; an unknown id is ignored by the shim.
    unsafe { shim::pg_shim_stream_close(id) };
}

/// Starts sending `length` bytes of opened file `id` on `c` (the head is already queued), or
/// the template's substituted text when `template` holds its values.
pub fn start(c: *mut mg_connection, id: u32, length: u64, template: Option<TemplateValues>, close_after: bool) {
    let stream = Stream {
        connection_id: connection_id(c),
        id,
        remaining: if template.is_some() { u64::MAX } else { length },
        template: template.map(|values| TemplateFill { tokenizer: Tokenizer::new(), values }),
        close_after,
    };
    let pushed = with_streams(|streams| {
        if streams.open.try_reserve(1).is_err() {
            return false;
        }
        streams.open.push(stream);
        true
    });
    if !pushed {
        discard(id);
        // SAFETY: a live connection; its reply cannot be completed.
        unsafe { (*c).set_is_closing(1) };
        return;
    }
    pump(c);
}

/// What became of a stream after a refill.
pub enum Pumped {
    /// Not streaming, or more to send later.
    Busy,
    /// The last bytes are queued: the connection may serve its next request.
    Done,
}

/// Refills `c`'s send buffer from its file while it holds less than `LOW_WATER` bytes.
pub fn pump(c: *mut mg_connection) -> Pumped {
    let connection = connection_id(c);
    let Some((id, mut remaining, close_after, mut template)) = with_streams(|streams| {
        let stream = streams.open.iter_mut().find(|s| s.connection_id == connection)?;
        Some((stream.id, stream.remaining, stream.close_after, stream.template.take()))
    }) else {
        return Pumped::Busy;
    };
    let mut failed = false;
    let mut finished = remaining == 0;
    // SAFETY: a live connection; its send buffer is read and grown through Mongoose.
    while !finished && !failed && unsafe { (*c).send.len } < LOW_WATER {
        let want = usize::try_from(remaining).unwrap_or(usize::MAX).min(CHUNK);
        match template.as_mut() {
            None => match read_into_send_buffer(c, id, want) {
                Some(0) => failed = true, // the file is shorter than it was when stat'ed
                Some(got) => {
                    remaining = remaining.saturating_sub(got as u64);
                    finished = remaining == 0;
                }
                None => failed = true,
            },
            Some(fill) => match fill_template_chunk(c, id, fill) {
                Some(true) => finished = true,
                Some(false) => {}
                None => failed = true,
            },
        }
    }
    if failed || finished {
        with_streams(|streams| streams.open.retain(|s| s.id != id));
        discard(id);
        if failed {
            // A reply cut short cannot be told apart from a complete one but by its length:
            // the connection closes so the client sees it.
            // SAFETY: a live connection.
            unsafe { (*c).set_is_closing(1) };
            return Pumped::Busy;
        }
        if close_after {
            // SAFETY: a live connection; draining sends what is queued, then closes.
            unsafe { (*c).set_is_draining(1) };
        }
        return Pumped::Done;
    }
    with_streams(|streams| {
        if let Some(stream) = streams.open.iter_mut().find(|s| s.id == id) {
            stream.remaining = remaining;
            stream.template = template;
        }
    });
    Pumped::Busy
}

/// Reads at most `want` bytes of the file straight into the end of `c`'s send buffer: the
/// count read (0 at the end of the file), or None when the buffer cannot grow or the read failed.
fn read_into_send_buffer(c: *mut mg_connection, id: u32, want: usize) -> Option<usize> {
    if !heap::admit(want) {
        return None;
    }
    // SAFETY: a live connection; mg_iobuf_resize grows the buffer (through the counted
    // allocator) and keeps its content; the shim writes at most `want` bytes past `len`, inside
    // the new size; `len` then grows by what was written.
    unsafe {
        let send = &mut (*c).send;
        let len = send.len;
        let needed = len.checked_add(want)?;
        if send.size < needed && !mg::mg_iobuf_resize(send, needed) {
            return None;
        }
        let got = shim::pg_shim_stream_read(id, send.buf.add(len), want);
        let got = usize::try_from(got).ok().filter(|got| *got <= want)?;
        send.len = len + got;
        Some(got)
    }
}

/// Reads one chunk of a template and queues its text with the values filled in: Some(true) at
/// the end of the file, None when the file or the send buffer failed.
fn fill_template_chunk(c: *mut mg_connection, id: u32, fill: &mut TemplateFill) -> Option<bool> {
    let mut chunk = Vec::new();
    if !heap::admit(CHUNK) || chunk.try_reserve_exact(CHUNK).is_err() {
        return None;
    }
    chunk.resize(CHUNK, 0);
    // SAFETY: `chunk` holds CHUNK writable bytes for the call.
    let got = unsafe { shim::pg_shim_stream_read(id, chunk.as_mut_ptr(), CHUNK) };
    let got = usize::try_from(got).ok().filter(|got| *got <= CHUNK)?;
    let values = &fill.values;
    let mut emit = |token: Token<'_>| -> Result<(), ()> {
        let bytes: &[u8] = match token {
            Token::Literal(text) => text,
            Token::Name(name) => values.iter().find(|(n, _)| n.as_slice() == name).map(|(_, v)| v.as_slice()).ok_or(())?,
        };
        queue(c, bytes)
    };
    if got == 0 {
        fill.tokenizer.finish(&mut emit).ok()?;
        return Some(true);
    }
    fill.tokenizer.feed(chunk.get(..got)?, &mut emit).ok()?;
    Some(false)
}

/// Appends bytes to `c`'s send buffer.
fn queue(c: *mut mg_connection, bytes: &[u8]) -> Result<(), ()> {
    if bytes.is_empty() {
        return Ok(());
    }
    // SAFETY: a live connection; mg_send copies the bytes into its buffer.
    let queued = unsafe { mg::mg_send(c, bytes.as_ptr() as *const c_void, bytes.len()) };
    if queued {
        Ok(())
    } else {
        Err(())
    }
}

/// The connection is gone: its file is closed.
pub fn on_close(c: *mut mg_connection) {
    let connection = connection_id(c);
    let closed = with_streams(|streams| {
        let index = streams.open.iter().position(|s| s.connection_id == connection)?;
        Some(streams.open.swap_remove(index).id)
    });
    if let Some(id) = closed {
        discard(id);
    }
}

/// The server is torn down: the table goes (the shim drops its files with its roots).
pub fn forget_all() {
    with_streams(|streams| {
        streams.open = Vec::new();
    });
}

/// A template's values, fetched once each before the reply starts: `(name, escaped text)`.
/// Err when a name has no value (printed by the shim) or the call did not return normally.
pub fn template_values(id: u32, names: &[Vec<u8>]) -> Result<TemplateValues, OpenError> {
    let mut values = Vec::new();
    values.try_reserve_exact(names.len()).map_err(|_| OpenError::OutOfMemory)?;
    for name in names {
        let mut text = PgBytes::EMPTY;
        // SAFETY: `name` is readable for the call; `text` is written by the shim.
        call_result(unsafe { shim::pg_shim_template_value(id, name.as_ptr(), name.len(), &mut text) })?;
        let mut escaped = Vec::new();
        let mut owned_name = Vec::new();
        // SAFETY: the text stays valid until the next call into Python; it is copied (escaped) now.
        let source = unsafe { text.as_slice() };
        if !heap::admit(source.len().saturating_mul(2))
            || owned_name.try_reserve_exact(name.len()).is_err()
            || !html_escape_into(source, &mut escaped)
        {
            return Err(OpenError::OutOfMemory);
        }
        owned_name.extend_from_slice(name);
        values.push((owned_name, escaped));
    }
    Ok(values)
}
