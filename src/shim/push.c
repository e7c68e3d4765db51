// The `mongoose` module's server push: `websocket()`, `sse()`, `broadcast()` and the WebSocket and
// EventStream objects Python holds for each peer. Like modmongoose.c it only converts and calls:
// Rust keeps the peers (include/pythongoose.h, pg_push_*); the objects here carry an id, and every
// call into Python runs under nlr_push and never raises into Rust.
#include <string.h>

#include "py/nlr.h"
#include "py/obj.h"
#include "py/objstr.h"
#include "py/runtime.h"

#include "pythongoose.h"
#include "shim.h"

#if PYTHONGOOSE_WEB // the whole file: see shim.h

// Peers Python may still be told about: a dict from Rust's peer id to its WebSocket/EventStream
// object, from `Opened` until `Closed` (an object the script keeps after that stays usable: its
// sends raise OSError).
MP_REGISTER_ROOT_POINTER(mp_obj_t pythongoose_push_peers);

typedef struct {
    mp_obj_base_t base;
    uint32_t id;
    mp_obj_t path;
    mp_obj_t query;
} peer_obj_t;

static PgBytes text_or_buffer(mp_obj_t data, bool *binary) {
    if (mp_obj_is_str(data)) {
        size_t len;
        const char *text = mp_obj_str_get_data(data, &len);
        *binary = false;
        return pythongoose_bytes_of(text, len);
    }
    mp_buffer_info_t buffer;
    if (!mp_get_buffer(data, &buffer, MP_BUFFER_READ)) {
        mp_raise_TypeError(MP_ERROR_TEXT("data must be str, bytes, bytearray or memoryview"));
    }
    *binary = true;
    return pythongoose_bytes_of(buffer.buf, buffer.len);
}

static PgBytes optional_text(mp_obj_t obj, bool *present) {
    *present = obj != mp_const_none;
    if (!*present) {
        return pythongoose_bytes_of("", 0);
    }
    size_t len;
    const char *text = mp_obj_str_get_data(obj, &len); // TypeError unless str
    return pythongoose_bytes_of(text, len);
}

// ws.send(data): str -> text frame, a buffer -> binary frame.
static mp_obj_t websocket_send(mp_obj_t self_in, mp_obj_t data) {
    peer_obj_t *self = MP_OBJ_TO_PTR(self_in);
    bool binary;
    PgPushMessage message = { .data = text_or_buffer(data, &binary) };
    message.kind = binary ? PG_PUSH_PAYLOAD_BINARY : PG_PUSH_PAYLOAD_TEXT;
    message.event = message.id = pythongoose_bytes_of("", 0);
    pythongoose_raise_for_status(pg_push_send(self->id, &message));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(websocket_send_obj, websocket_send);

// ws.close(code=1000, reason="")
static mp_obj_t websocket_close(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_code, ARG_reason };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_code, MP_ARG_INT, {.u_int = 1000} },
        { MP_QSTR_reason, MP_ARG_OBJ, {.u_obj = mp_const_none} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    peer_obj_t *self = MP_OBJ_TO_PTR(pos_args[0]);
    mp_int_t code = args[ARG_code].u_int;
    if (code < 1000 || code > 4999) {
        mp_raise_ValueError(MP_ERROR_TEXT("a close code is 1000..4999"));
    }
    bool has_reason;
    PgBytes reason = optional_text(args[ARG_reason].u_obj, &has_reason);
    if (reason.len > 123) {
        mp_raise_ValueError(MP_ERROR_TEXT("a close reason is at most 123 bytes"));
    }
    pg_push_close(self->id, (uint16_t)code, reason);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(websocket_close_obj, 1, websocket_close);

// stream.send(data, event=None, id=None)
static mp_obj_t event_stream_send(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_data, ARG_event, ARG_id };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_data, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_event, MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_id, MP_ARG_OBJ, {.u_obj = mp_const_none} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    peer_obj_t *self = MP_OBJ_TO_PTR(pos_args[0]);
    size_t len;
    const char *text = mp_obj_str_get_data(args[ARG_data].u_obj, &len); // TypeError unless str
    PgPushMessage message = { .kind = PG_PUSH_PAYLOAD_EVENT, .data = pythongoose_bytes_of(text, len) };
    message.event = optional_text(args[ARG_event].u_obj, &message.has_event);
    message.id = optional_text(args[ARG_id].u_obj, &message.has_id);
    pythongoose_raise_for_status(pg_push_send(self->id, &message));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(event_stream_send_obj, 2, event_stream_send);

static mp_obj_t event_stream_close(mp_obj_t self_in) {
    peer_obj_t *self = MP_OBJ_TO_PTR(self_in);
    pg_push_close(self->id, 1000, pythongoose_bytes_of("", 0));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(event_stream_close_obj, event_stream_close);

static void peer_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    peer_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (dest[0] != MP_OBJ_NULL) {
        return; // read-only
    }
    switch (attr) {
        case MP_QSTR_id:
            dest[0] = mp_obj_new_int_from_uint(self->id);
            break;
        case MP_QSTR_path:
            dest[0] = self->path;
            break;
        case MP_QSTR_query:
            dest[0] = self->query;
            break;
        case MP_QSTR_is_open:
            dest[0] = mp_obj_new_bool(pg_push_is_open(self->id));
            break;
        default:
            dest[1] = MP_OBJ_SENTINEL; // look in the locals dict (methods)
            break;
    }
}

static const mp_rom_map_elem_t websocket_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_send), MP_ROM_PTR(&websocket_send_obj) },
    { MP_ROM_QSTR(MP_QSTR_close), MP_ROM_PTR(&websocket_close_obj) },
};
static MP_DEFINE_CONST_DICT(websocket_locals, websocket_locals_table);

MP_DEFINE_CONST_OBJ_TYPE(
    pythongoose_type_websocket,
    MP_QSTR_WebSocket,
    MP_TYPE_FLAG_NONE,
    attr, peer_attr,
    locals_dict, &websocket_locals
    );

static const mp_rom_map_elem_t event_stream_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_send), MP_ROM_PTR(&event_stream_send_obj) },
    { MP_ROM_QSTR(MP_QSTR_close), MP_ROM_PTR(&event_stream_close_obj) },
};
static MP_DEFINE_CONST_DICT(event_stream_locals, event_stream_locals_table);

MP_DEFINE_CONST_OBJ_TYPE(
    pythongoose_type_event_stream,
    MP_QSTR_EventStream,
    MP_TYPE_FLAG_NONE,
    attr, peer_attr,
    locals_dict, &event_stream_locals
    );

// ---------------------------------------------------------------------------------------------
// Events from Rust (never raises).

static mp_obj_t callback_in(uint32_t slot) {
    mp_obj_t handlers = MP_STATE_VM(pythongoose_handlers);
    if (slot == UINT32_MAX || handlers == MP_OBJ_NULL) {
        return MP_OBJ_NULL;
    }
    size_t count;
    mp_obj_t *items;
    mp_obj_list_get(handlers, &count, &items);
    return slot < count && items[slot] != mp_const_none ? items[slot] : MP_OBJ_NULL;
}

int32_t pg_shim_push_event(const PgPushEvent *event) {
    mp_obj_t callback = callback_in(event->callback_slot);
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        if (MP_STATE_VM(pythongoose_push_peers) == MP_OBJ_NULL) {
            MP_STATE_VM(pythongoose_push_peers) = mp_obj_new_dict(0);
        }
        mp_obj_t peers = MP_STATE_VM(pythongoose_push_peers);
        mp_obj_t key = mp_obj_new_int_from_uint(event->peer);
        mp_obj_t peer;
        if (event->kind == PG_PUSH_EVENT_KIND_OPENED) {
            const mp_obj_type_t *type = event->peer_kind == PG_PUSH_KIND_WEB_SOCKET
                ? &pythongoose_type_websocket : &pythongoose_type_event_stream;
            peer_obj_t *obj = mp_obj_malloc(peer_obj_t, type);
            obj->id = event->peer;
            obj->path = mp_const_empty_bytes; // placeholders until the strings exist
            obj->query = mp_const_empty_bytes;
            peer = MP_OBJ_FROM_PTR(obj);
            mp_obj_dict_store(peers, key, peer);
            obj->path = mp_obj_new_str((const char *)event->path.ptr, event->path.len);
            obj->query = mp_obj_new_str((const char *)event->query.ptr, event->query.len);
        } else {
            mp_map_elem_t *found = mp_map_lookup(mp_obj_dict_get_map(peers), key, MP_MAP_LOOKUP);
            if (found == NULL) {
                nlr_pop();
                return PG_CALL_OUTCOME_OK; // never opened for Python (or forgotten at a reset)
            }
            peer = found->value;
            if (event->kind == PG_PUSH_EVENT_KIND_CLOSED) {
                mp_obj_dict_delete(peers, key); // `peer` stays reachable from this frame
            }
        }
        if (callback != MP_OBJ_NULL) {
            if (event->kind == PG_PUSH_EVENT_KIND_MESSAGE) {
                // Text frames are UTF-8 (Rust checked); an empty frame's pointer may be NULL.
                const uint8_t *bytes = event->data.ptr != NULL ? event->data.ptr : (const uint8_t *)"";
                mp_obj_t data = pythongoose_new_unhashed(event->binary ? &mp_type_bytes : &mp_type_str, bytes, event->data.len);
                mp_call_function_2(callback, peer, data);
            } else if (event->kind == PG_PUSH_EVENT_KIND_CLOSED && event->peer_kind == PG_PUSH_KIND_WEB_SOCKET) {
                mp_call_function_2(callback, peer, MP_OBJ_NEW_SMALL_INT(event->code));
            } else {
                mp_call_function_1(callback, peer);
            }
        }
        nlr_pop();
        return PG_CALL_OUTCOME_OK;
    }
    return pythongoose_outcome_of_exception(MP_OBJ_FROM_PTR(nlr.ret_val));
}

void pythongoose_forget_push_peers(void) {
    MP_STATE_VM(pythongoose_push_peers) = MP_OBJ_NULL;
}

// ---------------------------------------------------------------------------------------------
// Module functions.

static uint32_t optional_callback(mp_obj_t callback, const char *what) {
    if (callback == mp_const_none) {
        return UINT32_MAX;
    }
    pythongoose_check_callable(callback, what);
    return pythongoose_root_handler(callback);
}

static void add_endpoint(mp_obj_t pattern_obj, uint8_t kind, mp_obj_t on_open, mp_obj_t on_message, mp_obj_t on_close,
    bool auth, mp_int_t max_message_size, mp_int_t interval_s) {
    size_t len;
    const char *pattern = mp_obj_str_get_data(pattern_obj, &len);
    if (len == 0 || (pattern[0] != '/' && pattern[0] != '#' && pattern[0] != '*')) {
        mp_raise_ValueError(MP_ERROR_TEXT("a pattern starts with '/' (or a wildcard)"));
    }
    if (max_message_size < 1 || max_message_size > 0x7fffffff) {
        mp_raise_ValueError(MP_ERROR_TEXT("max_message_size must be >= 1"));
    }
    if (interval_s < 0 || interval_s > 0x7fffffff) {
        mp_raise_ValueError(MP_ERROR_TEXT("intervals are >= 0 seconds (0: never)"));
    }
    if (!pg_server_is_running()) {
        pythongoose_raise_for_status(PG_STATUS_NOT_STARTED);
    }
    PgPushEndpoint endpoint = {
        .pattern = pythongoose_bytes_of(pattern, len),
        .kind = kind,
        .needs_auth = auth,
        .on_open_slot = optional_callback(on_open, "on_open"),
        .on_message_slot = optional_callback(on_message, "on_message"),
        .on_close_slot = optional_callback(on_close, "on_close"),
        .max_message_size = (uint32_t)max_message_size,
        .interval_s = (uint32_t)interval_s,
    };
    pythongoose_raise_for_status(pg_push_add_endpoint(&endpoint));
}

// mongoose.websocket(pattern, on_message, *, on_open=None, on_close=None, auth=True,
//                    max_message_size=16384, ping_interval_s=20)
static mp_obj_t mongoose_websocket(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_pattern, ARG_on_message, ARG_on_open, ARG_on_close, ARG_auth, ARG_max_message_size, ARG_ping_interval_s };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_pattern, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_on_message, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_on_open, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_on_close, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_auth, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = true} },
        { MP_QSTR_max_message_size, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 16384} },
        { MP_QSTR_ping_interval_s, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 20} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    pythongoose_check_callable(args[ARG_on_message].u_obj, "on_message");
    add_endpoint(args[ARG_pattern].u_obj, PG_PUSH_KIND_WEB_SOCKET, args[ARG_on_open].u_obj, args[ARG_on_message].u_obj,
        args[ARG_on_close].u_obj, args[ARG_auth].u_bool, args[ARG_max_message_size].u_int, args[ARG_ping_interval_s].u_int);
    return mp_const_none;
}
MP_DEFINE_CONST_FUN_OBJ_KW(pythongoose_websocket_obj, 2, mongoose_websocket);

// mongoose.sse(pattern, *, on_open=None, on_close=None, auth=True, keepalive_s=15)
static mp_obj_t mongoose_sse(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_pattern, ARG_on_open, ARG_on_close, ARG_auth, ARG_keepalive_s };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_pattern, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_on_open, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_on_close, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_auth, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = true} },
        { MP_QSTR_keepalive_s, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 15} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    add_endpoint(args[ARG_pattern].u_obj, PG_PUSH_KIND_EVENT_STREAM, args[ARG_on_open].u_obj, mp_const_none,
        args[ARG_on_close].u_obj, args[ARG_auth].u_bool, 1, args[ARG_keepalive_s].u_int);
    return mp_const_none;
}
MP_DEFINE_CONST_FUN_OBJ_KW(pythongoose_sse_obj, 1, mongoose_sse);

// mongoose.broadcast(pattern, data, *, event=None) -> how many peers got it
static mp_obj_t mongoose_broadcast(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_pattern, ARG_data, ARG_event };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_pattern, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_data, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_event, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    size_t len;
    const char *pattern = mp_obj_str_get_data(args[ARG_pattern].u_obj, &len);
    bool binary;
    PgPushMessage message = { .data = text_or_buffer(args[ARG_data].u_obj, &binary) };
    message.kind = binary ? PG_PUSH_PAYLOAD_BINARY : PG_PUSH_PAYLOAD_EVENT;
    message.event = optional_text(args[ARG_event].u_obj, &message.has_event);
    message.id = pythongoose_bytes_of("", 0);
    uint32_t sent = 0;
    pythongoose_raise_for_status(pg_push_broadcast(pythongoose_bytes_of(pattern, len), &message, &sent));
    return mp_obj_new_int_from_uint(sent);
}
MP_DEFINE_CONST_FUN_OBJ_KW(pythongoose_broadcast_obj, 2, mongoose_broadcast);

#endif // PYTHONGOOSE_WEB
