// What the shim's C files share (modmongoose.c: the module, files.c: files and streamed replies,
// push.c: WebSocket and SSE).
// Not part of the Rust boundary: that is include/pythongoose.h.
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "py/obj.h"

#include "pythongoose.h"

PgBytes pythongoose_bytes_of(const void *ptr, size_t len);
mp_obj_t pythongoose_new_unhashed(const mp_obj_type_t *type, const uint8_t *data, size_t len);
// Raises ValueError for CR, LF or NUL (and, in a name, ':' and ' ', or an empty name).
void pythongoose_check_header_text(const char *text, size_t len, bool is_name);
// Formats a dict of reply headers into reply->extra_headers (rooted until Rust copies them).
void pythongoose_set_reply_headers(mp_obj_t headers, PgReply *reply);
// What an exception a callback raised means for the event loop (printed, or kept for poll()).
int32_t pythongoose_outcome_of_exception(mp_obj_t exception);

// Raises the Python exception a status stands for (returns on PG_STATUS_OK).
void pythongoose_raise_for_status(PgStatus status);
// Puts a callback in the rooted handler list; returns its slot (modmongoose.c).
uint32_t pythongoose_root_handler(mp_obj_t handler);
// Raises TypeError unless `obj` is callable.
void pythongoose_check_callable(mp_obj_t obj, const char *what);

// The web-app features (files.c, push.c: static files, File and Template replies, WebSocket, SSE,
// broadcast): 0 leaves them out, with the Rust library built without its `web` feature.
#ifndef PYTHONGOOSE_WEB
#define PYTHONGOOSE_WEB (1)
#endif

#if PYTHONGOOSE_WEB
// files.c: a File or Template a handler returned, into `reply` (false for anything else).
bool pythongoose_convert_stream_reply(mp_obj_t result, PgReply *reply);
// files.c: drops every open stream (teardown: the files are closed by the GC's finalisers).
void pythongoose_forget_streams(void);
extern const mp_obj_type_t pythongoose_type_file;
extern const mp_obj_type_t pythongoose_type_template;

// push.c: websocket(), sse(), broadcast(), and dropping every peer object (teardown).
extern const mp_obj_fun_builtin_var_t pythongoose_websocket_obj;
extern const mp_obj_fun_builtin_var_t pythongoose_sse_obj;
extern const mp_obj_fun_builtin_var_t pythongoose_broadcast_obj;
void pythongoose_forget_push_peers(void);
extern const mp_obj_type_t pythongoose_type_websocket;
extern const mp_obj_type_t pythongoose_type_event_stream;
#else
static inline bool pythongoose_convert_stream_reply(mp_obj_t result, PgReply *reply) {
    (void)result;
    (void)reply;
    return false;
}
static inline void pythongoose_forget_streams(void) {
}
static inline void pythongoose_forget_push_peers(void) {
}
#endif
