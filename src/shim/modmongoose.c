// The C shim of MicroPython's `mongoose` module: module and type tables, QSTRs, root pointers,
// argument conversion, raising, and the protected calls into Python that the Rust event layer
// makes. All logic lives in Rust (include/pythongoose.h); this file only converts and calls.
//
// Boundary rules kept here (see DESIGN.md):
// - arguments are converted to plain C values before Rust is called; Rust returns PgStatus codes
//   and only this file raises;
// - every call from Rust into Python (pg_shim_*) runs under nlr_push and returns an outcome code,
//   so no MicroPython exception (longjmp) ever crosses a Rust frame;
// - every Python object Rust may still call is reachable from a root pointer below.

#include <limits.h>
#include <stdio.h>
#include <string.h>
#if defined(__unix__)
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#if defined(__linux__)
#include <sys/epoll.h>
#endif
#elif defined(ESP_PLATFORM)
#include <errno.h>
#include <sys/select.h>
#include "lwip/netdb.h"
#endif

#include "py/mperrno.h"
#include "py/mphal.h"
#include "py/nlr.h"
#include "py/obj.h"
#include "py/objlist.h"
#include "py/objstr.h"
#include "py/runtime.h"
#include "py/unicode.h"

#include "pythongoose.h"
#include "shim.h"

#if MICROPY_ASYNC_KBD_INTR
// With it, Ctrl-C longjmps out of the signal handler wherever the process is, Rust and Mongoose
// frames included: their clean-up would be skipped. Build the port with it set to 0 (see
// mpy/unix-variant/mpconfigvariant.h); KeyboardInterrupt then comes through the scheduler.
#error "pythongoose needs MICROPY_ASYNC_KBD_INTR=0"
#endif

// 0 builds the HTTP-only module (the Rust library then comes without its `mqtt` feature).
#ifndef PYTHONGOOSE_MQTT
#define PYTHONGOOSE_MQTT (1)
#endif

// Handlers reachable by the GC while Rust can call them: the list's index is the route's slot.
MP_REGISTER_ROOT_POINTER(mp_obj_t pythongoose_handlers);
// The auth callback, or MP_OBJ_NULL.
MP_REGISTER_ROOT_POINTER(mp_obj_t pythongoose_auth_callback);
// KeyboardInterrupt / SystemExit caught inside a callback, raised again out of poll().
MP_REGISTER_ROOT_POINTER(mp_obj_t pythongoose_pending_exception);
// What a handler returned, and the objects made from it (JSON text, header lines), while the
// reply is converted: Rust reads the reply through raw pointers into them, so they stay rooted
// across every allocation until the handler call returns to Rust.
MP_REGISTER_ROOT_POINTER(mp_obj_t pythongoose_reply_objects[3]);
#if PYTHONGOOSE_MQTT
// Running MQTT clients (dict: Rust client id -> MQTTclient object). A client the script dropped
// keeps working, callbacks and all, until it stops.
MP_REGISTER_ROOT_POINTER(mp_obj_t pythongoose_mqtt_clients);
// The topic object of the last message received (messages mostly come on the same few topics:
// reusing the immutable str saves checking and hashing the name again).
MP_REGISTER_ROOT_POINTER(mp_obj_t pythongoose_last_topic);
#endif
// The session object (see "Soft reset" below): made at the first `import mongoose` of a VM
// session, finalised when the GC sweeps the whole heap at soft reset, which tears everything down.
MP_REGISTER_ROOT_POINTER(mp_obj_t pythongoose_session);

#define DEFAULT_LISTEN_URL "http://0.0.0.0:8000"

// Defaults sized for the platform (each can be set per init()/connect()). A board (the ESP32, the
// emulated board: no OS, tens of KB of heap for everything) gets limits that a single request or
// a burst of publishes cannot turn into a MemoryError for the rest of the script; the unix port
// keeps roomier ones. README "Defaults on a board" lists them.
#if defined(__unix__)
#define DEFAULT_MAX_HEADER_SIZE 8192
#define DEFAULT_MAX_BODY_SIZE 65536
#define DEFAULT_MQTT_MAX_PACKET_SIZE 65536
#define DEFAULT_MQTT_MAX_QUEUE 32
#define DEFAULT_MQTT_MAX_QUEUE_BYTES (1024 * 1024)
#define DEFAULT_MQTT_MAX_INBOUND_QOS2 65535
#else
#define DEFAULT_MAX_HEADER_SIZE 4096
#define DEFAULT_MAX_BODY_SIZE 16384
#define DEFAULT_MQTT_MAX_PACKET_SIZE 16384
#define DEFAULT_MQTT_MAX_QUEUE 16
#define DEFAULT_MQTT_MAX_QUEUE_BYTES 16384
#define DEFAULT_MQTT_MAX_INBOUND_QOS2 64
#endif
#define CONTENT_TYPE_TEXT "text/plain; charset=utf-8"
#define CONTENT_TYPE_BINARY "application/octet-stream"
#define CONTENT_TYPE_JSON "application/json"

enum { CONVENTION_BODY_TEXT = 0, CONVENTION_REQUEST = 1 };

static PgBytes bytes_of(const void *ptr, size_t len) {
    PgBytes b = { (const uint8_t *)ptr, len };
    return b;
}

PgBytes pythongoose_bytes_of(const void *ptr, size_t len) {
    return bytes_of(ptr, len);
}

static PgBytes bytes_of_cstr(const char *text) {
    return bytes_of(text, strlen(text));
}

// str or a bytes-like object, as bytes (valid until the next Python allocation); TypeError else.
static PgBytes bytes_arg(mp_obj_t obj, const char *what) {
    if (mp_obj_is_str(obj)) {
        size_t len;
        const char *data = mp_obj_str_get_data(obj, &len);
        return bytes_of(data, len);
    }
    mp_buffer_info_t buffer;
    if (!mp_get_buffer(obj, &buffer, MP_BUFFER_READ)) {
        mp_raise_msg_varg(&mp_type_TypeError, MP_ERROR_TEXT("%s must be str, bytes, bytearray or memoryview"), what);
    }
    return bytes_of(buffer.buf, buffer.len);
}

// As bytes_arg; None is empty (the option is not given).
static PgBytes optional_bytes_arg(mp_obj_t obj, const char *what) {
    return obj == mp_const_none ? bytes_of("", 0) : bytes_arg(obj, what);
}

// Wall-clock milliseconds since 1970, for dating TLS certificates (Rust: abi/shim.rs): the
// port's mp_hal_time_ns (unix and ESP32 have it; the emulated board reads QEMU's RTC).
uint64_t pg_shim_wall_clock_ms(void) {
    return mp_hal_time_ns() / 1000000u;
}

static void raise_pending_exception(void);

// Raises what a call into Rust left: first a KeyboardInterrupt/SystemExit a callback raised
// during it, then the Python exception that matches its status (returns on PG_STATUS_OK).
void pythongoose_raise_for_status(PgStatus status) {
    raise_pending_exception();
    const mp_obj_type_t *type;
    switch (status) {
        case PG_STATUS_OK:
            return;
        case PG_STATUS_HOST_NOT_FOUND:
            mp_raise_msg_varg(&mp_type_OSError, MP_ERROR_TEXT("mongoose: %s"), pg_last_error_message());
        case PG_STATUS_OUT_OF_MEMORY:
            type = &mp_type_MemoryError;
            break;
        case PG_STATUS_INVALID_ARGUMENT:
            mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("mongoose: %s"), pg_last_error_message());
        case PG_STATUS_LISTEN_FAILED:
        case PG_STATUS_PEER_CLOSED:
        #if PYTHONGOOSE_MQTT
        case PG_STATUS_MQTT_NOT_CONNECTED:
        case PG_STATUS_MQTT_QUEUE_FULL:
        case PG_STATUS_MQTT_NO_SUCH_CLIENT:
        #endif
            type = &mp_type_OSError;
            break;
        default:
            type = &mp_type_RuntimeError;
            break;
    }
    mp_raise_msg_varg(type, MP_ERROR_TEXT("mongoose: %s"), pg_status_message(status));
}

// A KeyboardInterrupt/SystemExit a callback raised is carried out of poll() (or the call that
// ran the callback) and raised here; Rust then delivers what it held back, from the next poll.
static void raise_pending_exception(void) {
    mp_obj_t pending = MP_STATE_VM(pythongoose_pending_exception);
    if (pending != MP_OBJ_NULL) {
        MP_STATE_VM(pythongoose_pending_exception) = MP_OBJ_NULL;
        pg_stop_raised();
        nlr_raise(pending);
    }
}

// The bytes of `b`, never NULL: Rust passes NULL for empty strings, MicroPython wants a pointer.
static const uint8_t *data_of(PgBytes b) {
    return b.ptr != NULL ? b.ptr : (const uint8_t *)"";
}

// A new str or bytes object holding a copy of `data`, its hash left to be computed when something
// asks for it (hash 0 means "not computed yet" to MicroPython: its hash operation and string
// comparison handle it, as for the exception messages py/objexcept.c makes). A message or body
// handed to a callback is rarely hashed; hashing each one up front was ~10% of a WebSocket echo.
// Can raise MemoryError: call under nlr_push.
mp_obj_t pythongoose_new_unhashed(const mp_obj_type_t *type, const uint8_t *data, size_t len) {
    byte *copy = m_new(byte, len + 1);
    memcpy(copy, data, len);
    copy[len] = '\0';
    mp_obj_str_t *o = mp_obj_malloc(mp_obj_str_t, type);
    o->len = len;
    o->hash = 0;
    o->data = copy;
    return MP_OBJ_FROM_PTR(o);
}

static mp_obj_t new_bytes_of(PgBytes b) {
    return pythongoose_new_unhashed(&mp_type_bytes, data_of(b), b.len);
}

// Text as str when it is UTF-8, else bytes. Short strings already interned cost no allocation.
// Can raise MemoryError: call under nlr_push.
static mp_obj_t new_text_or_bytes(PgBytes b) {
    if (utf8_check(data_of(b), b.len)) {
        return mp_obj_new_str((const char *)data_of(b), b.len);
    }
    return new_bytes_of(b);
}

static bool is_stop_request(mp_obj_t exception) {
    const mp_obj_type_t *type = mp_obj_get_type(exception);
    return mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(type), MP_OBJ_FROM_PTR(&mp_type_KeyboardInterrupt))
        || mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(type), MP_OBJ_FROM_PTR(&mp_type_SystemExit));
}

// What an exception from a callback means for the event loop. Never raises: printing runs the
// exception's own __str__/__repr__ (user code), so it runs protected, with a fixed line when it
// raises in turn (a KeyboardInterrupt raised while printing is kept, like one from the callback).
int32_t pythongoose_outcome_of_exception(mp_obj_t exception_in) {
    if (is_stop_request(exception_in)) {
        MP_STATE_VM(pythongoose_pending_exception) = exception_in;
        return PG_CALL_OUTCOME_STOPPING;
    }
    // Read again after a raise while printing: volatile, so not a register the raise restored
    // to a stale value (GCC's -Wclobbered names it when NLR is setjmp-based).
    mp_obj_t volatile exception = exception_in;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_printf(&mp_plat_print, "mongoose: a callback raised an exception:\n");
        mp_obj_print_exception(&mp_plat_print, exception);
        nlr_pop();
    } else {
        mp_obj_t printing_error = MP_OBJ_FROM_PTR(nlr.ret_val);
        mp_printf(&mp_plat_print, "\nmongoose: the %s a callback raised could not be printed (printing it raised %s)\n",
            mp_obj_get_type_str(exception), mp_obj_get_type_str(printing_error));
        if (is_stop_request(printing_error)) {
            MP_STATE_VM(pythongoose_pending_exception) = printing_error;
            return PG_CALL_OUTCOME_STOPPING;
        }
    }
    return PG_CALL_OUTCOME_FAILED;
}

// ---------------------------------------------------------------------------------------------
// mongoose.Request: a view of the request being served, valid only during its handler call.

typedef struct {
    mp_obj_base_t base;
    const PgRequest *request; // NULL once the handler returned
} request_obj_t;

static const PgRequest *request_of(mp_obj_t self_in) {
    request_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->request == NULL) {
        mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("a Request is only valid inside its handler"));
    }
    return self->request;
}

static mp_obj_t new_str_of(PgBytes b) {
    return mp_obj_new_str((const char *)data_of(b), b.len);
}

// Strings up to this length are looked up among the interned ones (no allocation when found).
#define INTERN_LOOKUP_MAX_LEN 32

// A str of text already checked to be UTF-8. Long text skips the interned-string look-up and
// leaves the hash to be computed on first use (hash 0 means "not computed" in MicroPython), so
// a body is scanned once, not three times. Can raise MemoryError: call under nlr_push.
static mp_obj_t new_str_of_checked_utf8(PgBytes b) {
    if (b.len <= INTERN_LOOKUP_MAX_LEN) {
        return new_str_of(b);
    }
    mp_obj_str_t *o = mp_obj_malloc(mp_obj_str_t, &mp_type_str);
    byte *data = m_new(byte, b.len + 1);
    memcpy(data, b.ptr, b.len);
    data[b.len] = '\0';
    o->hash = 0;
    o->len = b.len;
    o->data = data;
    return MP_OBJ_FROM_PTR(o);
}

// request.header(name, default=None): a header's value (case-insensitive name).
static mp_obj_t request_header(size_t n_args, const mp_obj_t *args) {
    const PgRequest *request = request_of(args[0]);
    size_t name_len;
    const char *name = mp_obj_str_get_data(args[1], &name_len);
    PgBytes value;
    if (pg_request_header(request, (const uint8_t *)name, name_len, &value)) {
        return new_text_or_bytes(value);
    }
    return n_args > 2 ? args[2] : mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(request_header_obj, 2, 3, request_header);

// request.json(): the body parsed as JSON.
static mp_obj_t request_json(mp_obj_t self_in) {
    const PgRequest *request = request_of(self_in);
    mp_obj_t json = mp_import_name(MP_QSTR_json, mp_const_none, MP_OBJ_NEW_SMALL_INT(0));
    mp_obj_t body = new_bytes_of(request->body);
    return mp_call_function_1(mp_load_attr(json, MP_QSTR_loads), body);
}
static MP_DEFINE_CONST_FUN_OBJ_1(request_json_obj, request_json);

// request.headers: a dict of lower-cased names to values.
static mp_obj_t request_headers_dict(const PgRequest *request) {
    mp_obj_t dict = mp_obj_new_dict(0);
    PgBytes name, value;
    for (size_t i = 0; pg_request_header_at(request, i, &name, &value); i++) {
        vstr_t lower;
        vstr_init(&lower, name.len + 1);
        for (size_t j = 0; j < name.len; j++) {
            vstr_add_byte(&lower, unichar_tolower(name.ptr[j]));
        }
        mp_obj_dict_store(dict, mp_obj_new_str_from_vstr(&lower), new_text_or_bytes(value));
    }
    return dict;
}

static void request_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    if (dest[0] != MP_OBJ_NULL) {
        return; // read-only: store/delete fail with AttributeError
    }
    switch (attr) {
        case MP_QSTR_header:
            dest[0] = MP_OBJ_FROM_PTR(&request_header_obj);
            dest[1] = self_in;
            return;
        case MP_QSTR_json:
            dest[0] = MP_OBJ_FROM_PTR(&request_json_obj);
            dest[1] = self_in;
            return;
        default:
            break;
    }
    const PgRequest *request = request_of(self_in);
    switch (attr) {
        case MP_QSTR_method:
            dest[0] = new_str_of(request->method);
            break;
        case MP_QSTR_path:
            dest[0] = new_text_or_bytes(request->path);
            break;
        case MP_QSTR_query:
            dest[0] = new_text_or_bytes(request->query);
            break;
        case MP_QSTR_body:
            dest[0] = new_bytes_of(request->body);
            break;
        case MP_QSTR_text:
            dest[0] = new_str_of(request->body); // raises UnicodeError when not UTF-8
            break;
        case MP_QSTR_headers:
            dest[0] = request_headers_dict(request);
            break;
        default:
            break;
    }
}

static void request_print(const mp_print_t *print, mp_obj_t self_in, mp_print_kind_t kind) {
    (void)kind;
    request_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->request == NULL) {
        mp_printf(print, "<Request (finished)>");
        return;
    }
    // Not mp_printf's %.*s: it runs strlen over its argument, and these bytes are not
    // NUL-terminated (they point into the receive buffer).
    mp_print_str(print, "<Request ");
    mp_print_strn(print, (const char *)self->request->method.ptr, self->request->method.len, 0, ' ', 0);
    mp_print_str(print, " ");
    mp_print_strn(print, (const char *)self->request->path.ptr, self->request->path.len, 0, ' ', 0);
    mp_print_str(print, ">");
}

static MP_DEFINE_CONST_OBJ_TYPE(
    pythongoose_type_request,
    MP_QSTR_Request,
    MP_TYPE_FLAG_NONE,
    attr, request_attr,
    print, request_print
    );

// ---------------------------------------------------------------------------------------------
// Handler replies.

// Sets the reply body from a handler's value. Raises TypeError for unsupported types.
static void set_reply_body(mp_obj_t body, PgReply *reply) {
    if (body == mp_const_none) {
        reply->body = bytes_of("", 0);
        reply->content_type = bytes_of_cstr(CONTENT_TYPE_TEXT);
        return;
    }
    if (mp_obj_is_str(body)) {
        size_t len;
        const char *data = mp_obj_str_get_data(body, &len);
        reply->body = bytes_of(data, len);
        reply->content_type = bytes_of_cstr(CONTENT_TYPE_TEXT);
        return;
    }
    if (mp_obj_is_type(body, &mp_type_dict) || mp_obj_is_type(body, &mp_type_list)) {
        mp_obj_t json = mp_import_name(MP_QSTR_json, mp_const_none, MP_OBJ_NEW_SMALL_INT(0));
        mp_obj_t text = mp_call_function_1(mp_load_attr(json, MP_QSTR_dumps), body);
        MP_STATE_VM(pythongoose_reply_objects)[1] = text;
        size_t len;
        const char *data = mp_obj_str_get_data(text, &len);
        reply->body = bytes_of(data, len);
        reply->content_type = bytes_of_cstr(CONTENT_TYPE_JSON);
        return;
    }
    mp_buffer_info_t buffer;
    if (mp_get_buffer(body, &buffer, MP_BUFFER_READ)) {
        reply->body = bytes_of(buffer.buf, buffer.len);
        reply->content_type = bytes_of_cstr(CONTENT_TYPE_BINARY);
        return;
    }
    // Kept shorter than the longest message in the build: MicroPython 1.25 formats a compressed
    // message in a stack buffer one byte too short for a message of the maximum length
    // (py/objexcept.c), which this one was (ASan: stack-buffer-overflow in mp_decompress_rom_string).
    mp_raise_msg_varg(&mp_type_TypeError,
        MP_ERROR_TEXT("handler returned %s; expected str, bytes, dict, list, None or a tuple"),
        mp_obj_get_type_str(body));
}

void pythongoose_check_header_text(const char *text, size_t len, bool is_name) {
    if (is_name && len == 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("empty header name"));
    }
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (ch == '\r' || ch == '\n' || ch == '\0' || (is_name && (ch == ':' || ch == ' '))) {
            mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("invalid character in header %s"),
                is_name ? "name" : "value");
        }
    }
}

// Formats a handler's headers dict as "Name: value\r\n" lines into a new GC buffer.
void pythongoose_set_reply_headers(mp_obj_t headers, PgReply *reply) {
    if (!mp_obj_is_type(headers, &mp_type_dict)) {
        mp_raise_TypeError(MP_ERROR_TEXT("reply headers must be a dict"));
    }
    mp_map_t *map = mp_obj_dict_get_map(headers);
    vstr_t lines;
    vstr_init(&lines, 64);
    for (size_t i = 0; i < map->alloc; i++) {
        if (!mp_map_slot_is_filled(map, i)) {
            continue;
        }
        size_t name_len;
        const char *name = mp_obj_str_get_data(map->table[i].key, &name_len);
        pythongoose_check_header_text(name, name_len, true);
        if (name_len == 14 && strncasecmp(name, "Content-Length", 14) == 0) {
            continue; // the server sets it from the body
        }
        if (name_len == 12 && strncasecmp(name, "Content-Type", 12) == 0) {
            reply->content_type = bytes_of("", 0);
        }
        vstr_add_strn(&lines, name, name_len);
        vstr_add_strn(&lines, ": ", 2);
        size_t start = lines.len;
        mp_obj_t value = map->table[i].value;
        if (mp_obj_is_str(value)) {
            size_t value_len;
            const char *text = mp_obj_str_get_data(value, &value_len);
            vstr_add_strn(&lines, text, value_len);
        } else if (mp_obj_is_int(value)) {
            vstr_printf(&lines, "%d", (int)mp_obj_get_int(value));
        } else {
            mp_raise_TypeError(MP_ERROR_TEXT("header values must be str or int"));
        }
        pythongoose_check_header_text(lines.buf + start, lines.len - start, false);
        vstr_add_strn(&lines, "\r\n", 2);
    }
    mp_obj_t text = mp_obj_new_str_from_vstr(&lines);
    MP_STATE_VM(pythongoose_reply_objects)[2] = text;
    size_t len;
    const char *data = mp_obj_str_get_data(text, &len);
    reply->extra_headers = bytes_of(data, len);
}

// Converts what a handler returned into `reply`. Raises on anything unsupported.
static void convert_reply(mp_obj_t result, PgReply *reply) {
    reply->status = 200;
    reply->extra_headers = bytes_of("", 0);
    reply->stream = PG_REPLY_STREAM_NONE;
    if (pythongoose_convert_stream_reply(result, reply)) {
        return;
    }
    if (result == mp_const_none) {
        reply->status = 204;
        reply->body = bytes_of("", 0);
        reply->content_type = bytes_of("", 0);
        return;
    }
    if (mp_obj_is_type(result, &mp_type_tuple)) {
        size_t n;
        mp_obj_t *items;
        mp_obj_tuple_get(result, &n, &items);
        if (n != 2 && n != 3) {
            mp_raise_TypeError(MP_ERROR_TEXT("a reply tuple is (status, body) or (status, body, headers)"));
        }
        mp_int_t status = mp_obj_get_int(items[0]);
        if (status < 100 || status > 599) {
            mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("HTTP status %d is not in 100..599"), (int)status);
        }
        reply->status = (int32_t)status;
        set_reply_body(items[1], reply);
        if (n == 3 && items[2] != mp_const_none) {
            pythongoose_set_reply_headers(items[2], reply);
        }
        return;
    }
    set_reply_body(result, reply);
}

// ---------------------------------------------------------------------------------------------
// Protected calls from Rust into Python (declared in include/pythongoose.h). They never raise.

static void forget_reply_objects(void) {
    for (size_t i = 0; i < MP_ARRAY_SIZE(MP_STATE_VM(pythongoose_reply_objects)); i++) {
        MP_STATE_VM(pythongoose_reply_objects)[i] = MP_OBJ_NULL;
    }
}

// The callback rooted in `slot`; MP_OBJ_NULL when there is none, with the outcome to return
// (a stop request pending first: the call is deferred to after it).
static mp_obj_t callback_at(uint32_t slot, int32_t *outcome) {
    *outcome = PG_CALL_OUTCOME_FAILED;
    if (MP_STATE_VM(pythongoose_pending_exception) != MP_OBJ_NULL) {
        *outcome = PG_CALL_OUTCOME_DEFERRED;
        return MP_OBJ_NULL;
    }
    mp_obj_t handlers = MP_STATE_VM(pythongoose_handlers);
    if (handlers == MP_OBJ_NULL) {
        return MP_OBJ_NULL;
    }
    size_t count;
    mp_obj_t *items;
    mp_obj_list_get(handlers, &count, &items);
    return slot < count ? items[slot] : MP_OBJ_NULL;
}

// A Request object for `request`; the caller clears its `request` when the call returns to Rust
// (the request's memory goes away then).
static request_obj_t *new_request_obj(const PgRequest *request) {
    request_obj_t *obj = mp_obj_malloc(request_obj_t, &pythongoose_type_request);
    obj->request = request;
    return obj;
}

int32_t pg_shim_call_handler(uint32_t slot, uint8_t convention, const PgRequest *request, PgReply *reply) {
    int32_t missing;
    mp_obj_t handler = callback_at(slot, &missing);
    if (handler == MP_OBJ_NULL) {
        return missing;
    }
    #if PYTHONGOOSE_WEB
    MP_STATE_VM(pythongoose_pending_stream) = MP_OBJ_NULL; // a File of an earlier reply never opened
    #endif
    if (convention == CONVENTION_BODY_TEXT
        && !utf8_check(data_of(request->body), request->body.len)) {
        return PG_CALL_OUTCOME_BAD_BODY_TEXT;
    }
    request_obj_t *volatile request_obj = NULL;
    int32_t outcome;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t argument;
        if (convention == CONVENTION_BODY_TEXT) {
            argument = new_str_of_checked_utf8(request->body);
        } else {
            request_obj_t *obj = new_request_obj(request);
            request_obj = obj;
            argument = MP_OBJ_FROM_PTR(obj);
        }
        mp_obj_t result = mp_call_function_1(handler, argument);
        MP_STATE_VM(pythongoose_reply_objects)[0] = result;
        convert_reply(result, reply);
        nlr_pop();
        outcome = PG_CALL_OUTCOME_OK;
    } else {
        outcome = pythongoose_outcome_of_exception(MP_OBJ_FROM_PTR(nlr.ret_val));
    }
    if (request_obj != NULL) {
        request_obj->request = NULL; // the request's memory goes away after this call
    }
    // Rust copies the reply before anything allocates on the GC heap again: unrooted from here,
    // nothing can collect them before that copy.
    forget_reply_objects();
    return outcome;
}

int32_t pg_shim_call_chunk(uint32_t slot, const PgRequest *request, const uint8_t *chunk, uintptr_t chunk_len) {
    int32_t missing;
    mp_obj_t on_chunk = callback_at(slot, &missing);
    if (on_chunk == MP_OBJ_NULL) {
        return missing;
    }
    request_obj_t *volatile request_obj = NULL;
    int32_t outcome;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        request_obj_t *obj = new_request_obj(request);
        request_obj = obj;
        mp_obj_t data = mp_obj_new_bytes(chunk, chunk_len);
        mp_call_function_2(on_chunk, MP_OBJ_FROM_PTR(obj), data);
        nlr_pop();
        outcome = PG_CALL_OUTCOME_OK;
    } else {
        outcome = pythongoose_outcome_of_exception(MP_OBJ_FROM_PTR(nlr.ret_val));
    }
    if (request_obj != NULL) {
        request_obj->request = NULL; // the request's memory goes away after this call
    }
    return outcome;
}

int32_t pg_shim_check_auth(const uint8_t *user, uintptr_t user_len, const uint8_t *password, uintptr_t password_len) {
    if (MP_STATE_VM(pythongoose_pending_exception) != MP_OBJ_NULL) {
        return PG_CALL_OUTCOME_DEFERRED;
    }
    mp_obj_t callback = MP_STATE_VM(pythongoose_auth_callback);
    if (callback == MP_OBJ_NULL) {
        return PG_CALL_OUTCOME_AUTH_REJECTED;
    }
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t user_obj = new_text_or_bytes(bytes_of(user, user_len));
        mp_obj_t password_obj = new_text_or_bytes(bytes_of(password, password_len));
        bool accepted = mp_obj_is_true(mp_call_function_2(callback, user_obj, password_obj));
        nlr_pop();
        return accepted ? PG_CALL_OUTCOME_AUTH_ACCEPTED : PG_CALL_OUTCOME_AUTH_REJECTED;
    }
    return pythongoose_outcome_of_exception(MP_OBJ_FROM_PTR(nlr.ret_val));
}

// ---------------------------------------------------------------------------------------------
// Module functions.

void pythongoose_check_callable(mp_obj_t obj, const char *what) {
    if (!mp_obj_is_callable(obj)) {
        mp_raise_msg_varg(&mp_type_TypeError, MP_ERROR_TEXT("%s must be callable"), what);
    }
}

// Puts `handler` in the rooted handler list (reusing a released slot); returns its slot.
uint32_t pythongoose_root_handler(mp_obj_t handler) {
    mp_obj_t handlers = MP_STATE_VM(pythongoose_handlers);
    size_t count;
    mp_obj_t *items;
    mp_obj_list_get(handlers, &count, &items);
    for (size_t slot = 0; slot < count; slot++) {
        if (items[slot] == mp_const_none) {
            items[slot] = handler;
            return (uint32_t)slot;
        }
    }
    mp_obj_list_append(handlers, handler);
    return (uint32_t)count;
}

static void release_slot(uint32_t slot) {
    size_t count;
    mp_obj_t *items;
    mp_obj_list_get(MP_STATE_VM(pythongoose_handlers), &count, &items);
    if (slot < count) {
        items[slot] = mp_const_none;
    }
}

// Roots the handler (and on_chunk, unless MP_OBJ_NULL) and adds the route; max_body -1: default.
static void add_route_with(const char *pattern, size_t pattern_len, mp_obj_t handler, uint32_t methods, bool needs_auth,
    uint8_t convention, mp_obj_t on_chunk, int64_t max_body) {
    uint32_t slot = pythongoose_root_handler(handler);
    uint32_t chunk_slot = on_chunk == MP_OBJ_NULL ? UINT32_MAX : pythongoose_root_handler(on_chunk);
    PgRoute route = {
        .pattern = bytes_of(pattern, pattern_len),
        .methods = methods,
        .needs_auth = needs_auth,
        .handler_slot = slot,
        .convention = convention,
        .chunk_slot = chunk_slot,
        .max_body = max_body,
    };
    PgReplacedSlots replaced = { UINT32_MAX, UINT32_MAX };
    PgStatus status = pg_server_add_route(&route, &replaced);
    if (status != PG_STATUS_OK) {
        release_slot(slot); // not routed: release them
        release_slot(chunk_slot);
    }
    if (replaced.handler_slot != slot && replaced.handler_slot != chunk_slot) {
        release_slot(replaced.handler_slot); // no route reaches it any more
    }
    if (replaced.chunk_slot != slot && replaced.chunk_slot != chunk_slot) {
        release_slot(replaced.chunk_slot);
    }
    pythongoose_raise_for_status(status);
}

static void add_route(const char *pattern, size_t pattern_len, mp_obj_t handler, uint32_t methods, bool needs_auth,
    uint8_t convention) {
    add_route_with(pattern, pattern_len, handler, methods, needs_auth, convention, MP_OBJ_NULL, -1);
}

static void forget_callbacks(void) {
    MP_STATE_VM(pythongoose_handlers) = MP_OBJ_NULL;
    MP_STATE_VM(pythongoose_auth_callback) = MP_OBJ_NULL;
    pythongoose_forget_streams();
    pythongoose_forget_push_peers();
}

// mongoose.init(api=None, auth=None, *, url="http://0.0.0.0:8000", max_header_size=8192,
//               max_body_size=65536, request_timeout_ms=10000, idle_timeout_ms=60000, cors=None)
// (the size limits' defaults are the platform's: DEFAULT_* above)
static mp_obj_t mongoose_init(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_api, ARG_auth, ARG_url, ARG_max_header_size, ARG_max_body_size, ARG_request_timeout_ms,
           ARG_idle_timeout_ms, ARG_cors, ARG_cert, ARG_key };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_api, MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_auth, MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_url, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_max_header_size, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = DEFAULT_MAX_HEADER_SIZE} },
        { MP_QSTR_max_body_size, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = DEFAULT_MAX_BODY_SIZE} },
        { MP_QSTR_request_timeout_ms, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 10000} },
        { MP_QSTR_idle_timeout_ms, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 60000} },
        { MP_QSTR_cors, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_cert, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_key, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);

    mp_obj_t api = args[ARG_api].u_obj;
    mp_obj_t auth = args[ARG_auth].u_obj;
    if (pg_server_is_running()) {
        pythongoose_raise_for_status(PG_STATUS_ALREADY_STARTED);
    }
    if (api != mp_const_none && !mp_obj_is_type(api, &mp_type_dict)) {
        pythongoose_check_callable(api, "api (a function, or a dict of endpoint names to functions)");
    }
    if (mp_obj_is_type(api, &mp_type_dict)) {
        mp_map_t *map = mp_obj_dict_get_map(api);
        for (size_t i = 0; i < map->alloc; i++) {
            if (mp_map_slot_is_filled(map, i)) {
                size_t len;
                const char *name = mp_obj_str_get_data(map->table[i].key, &len); // TypeError if not str
                if (len == 0 || memchr(name, '/', len) != NULL || memchr(name, '\0', len) != NULL) {
                    mp_raise_ValueError(MP_ERROR_TEXT("endpoint names must be non-empty and contain no '/'"));
                }
                pythongoose_check_callable(map->table[i].value, "each endpoint handler");
            }
        }
    }
    if (auth != mp_const_none) {
        pythongoose_check_callable(auth, "auth");
    }
    const char *url = DEFAULT_LISTEN_URL;
    if (args[ARG_url].u_obj != mp_const_none) {
        size_t url_len;
        url = mp_obj_str_get_data(args[ARG_url].u_obj, &url_len);
        if (strlen(url) != url_len) {
            mp_raise_ValueError(MP_ERROR_TEXT("url contains NUL"));
        }
    }
    if (args[ARG_max_header_size].u_int < 64 || args[ARG_max_body_size].u_int < 1) {
        mp_raise_ValueError(MP_ERROR_TEXT("max_header_size must be >= 64 and max_body_size >= 1"));
    }
    for (int arg = ARG_request_timeout_ms; arg <= ARG_idle_timeout_ms; arg++) {
        if (args[arg].u_int < 0 || args[arg].u_int > 0x7fffffff) {
            mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%q must be >= 0 (0: no limit)"), allowed_args[arg].qst);
        }
    }

    PgBytes cors = bytes_of("", 0);
    if (args[ARG_cors].u_obj != mp_const_none) {
        size_t len;
        const char *origin = mp_obj_str_get_data(args[ARG_cors].u_obj, &len); // TypeError unless str
        if (len == 0) {
            mp_raise_ValueError(MP_ERROR_TEXT("cors is an origin such as \"*\" or \"https://example.com\""));
        }
        pythongoose_check_header_text(origin, len, false);
        cors = bytes_of(origin, len);
    }

    MP_STATE_VM(pythongoose_handlers) = mp_obj_new_list(0, NULL);
    MP_STATE_VM(pythongoose_auth_callback) = auth == mp_const_none ? MP_OBJ_NULL : auth;
    MP_STATE_VM(pythongoose_pending_exception) = MP_OBJ_NULL;
    PgServerConfig config = {
        .listen_url = url,
        .max_header_bytes = (uintptr_t)args[ARG_max_header_size].u_int,
        .max_body_bytes = (uintptr_t)args[ARG_max_body_size].u_int,
        .request_timeout_ms = (uint32_t)args[ARG_request_timeout_ms].u_int,
        .idle_timeout_ms = (uint32_t)args[ARG_idle_timeout_ms].u_int,
        .auth_enabled = auth != mp_const_none,
        .cors_origin = cors,
        .tls_cert = optional_bytes_arg(args[ARG_cert].u_obj, "cert"),
        .tls_key = optional_bytes_arg(args[ARG_key].u_obj, "key"),
    };
    PgStatus status = pg_server_start(&config);
    if (status != PG_STATUS_OK) {
        forget_callbacks();
        if (status == PG_STATUS_LISTEN_FAILED) {
            mp_raise_msg_varg(&mp_type_OSError, MP_ERROR_TEXT("mongoose: cannot listen on %s"), url);
        }
        pythongoose_raise_for_status(status);
    }
    if (mp_obj_is_type(api, &mp_type_dict)) {
        mp_map_t *map = mp_obj_dict_get_map(api);
        for (size_t i = 0; i < map->alloc; i++) {
            if (mp_map_slot_is_filled(map, i)) {
                size_t len;
                const char *name = mp_obj_str_get_data(map->table[i].key, &len);
                vstr_t pattern;
                vstr_init(&pattern, len + 6);
                vstr_add_str(&pattern, "/api/");
                vstr_add_strn(&pattern, name, len);
                add_route(pattern.buf, pattern.len, map->table[i].value, 0, true, CONVENTION_BODY_TEXT);
                vstr_clear(&pattern);
            }
        }
    } else if (api != mp_const_none) {
        add_route("/api/*", 6, api, 0, true, CONVENTION_BODY_TEXT);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(mongoose_init_obj, 0, mongoose_init);

// mongoose.listen(url, *, cert=None, key=None): another listener for the same routes (e.g. HTTPS
// on 8443 beside HTTP on 8000). RuntimeError before init(); OSError when the port is taken.
static mp_obj_t mongoose_listen(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_url, ARG_cert, ARG_key };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_url, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_cert, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_key, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    size_t url_len;
    const char *url = mp_obj_str_get_data(args[ARG_url].u_obj, &url_len);
    if (strlen(url) != url_len) {
        mp_raise_ValueError(MP_ERROR_TEXT("url contains NUL"));
    }
    PgListenConfig config = {
        .listen_url = url,
        .tls_cert = optional_bytes_arg(args[ARG_cert].u_obj, "cert"),
        .tls_key = optional_bytes_arg(args[ARG_key].u_obj, "key"),
    };
    PgStatus status = pg_server_listen(&config);
    if (status == PG_STATUS_LISTEN_FAILED) {
        mp_raise_msg_varg(&mp_type_OSError, MP_ERROR_TEXT("mongoose: cannot listen on %s"), url);
    }
    pythongoose_raise_for_status(status);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(mongoose_listen_obj, 1, mongoose_listen);

static uint32_t method_bit_of(mp_obj_t name_obj) {
    size_t len;
    const char *name = mp_obj_str_get_data(name_obj, &len);
    uint32_t bit = pg_method_bit((const uint8_t *)name, len);
    if (bit == 0) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("unknown HTTP method '%s'"), name);
    }
    return bit;
}

// mongoose.route(pattern, handler, methods=None, auth=True) -> handler
static mp_obj_t mongoose_route(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_pattern, ARG_handler, ARG_methods, ARG_auth, ARG_on_chunk, ARG_max_body_size };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_pattern, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_handler, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_methods, MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_auth, MP_ARG_BOOL, {.u_bool = true} },
        { MP_QSTR_on_chunk, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_max_body_size, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);

    if (!pg_server_is_running()) {
        pythongoose_raise_for_status(PG_STATUS_NOT_STARTED);
    }
    size_t pattern_len;
    const char *pattern = mp_obj_str_get_data(args[ARG_pattern].u_obj, &pattern_len);
    if (pattern_len == 0 || (pattern[0] != '/' && pattern[0] != '#' && pattern[0] != '*')
        || memchr(pattern, '\0', pattern_len) != NULL) {
        mp_raise_ValueError(MP_ERROR_TEXT("a route pattern starts with '/' (or a wildcard) and has no NUL"));
    }
    mp_obj_t handler = args[ARG_handler].u_obj;
    pythongoose_check_callable(handler, "handler");
    uint32_t methods = 0;
    mp_obj_t methods_obj = args[ARG_methods].u_obj;
    if (mp_obj_is_str(methods_obj)) {
        methods = method_bit_of(methods_obj);
    } else if (methods_obj != mp_const_none) {
        mp_obj_t iter = mp_getiter(methods_obj, NULL);
        mp_obj_t item;
        while ((item = mp_iternext(iter)) != MP_OBJ_STOP_ITERATION) {
            methods |= method_bit_of(item);
        }
        if (methods == 0) {
            mp_raise_ValueError(MP_ERROR_TEXT("methods is empty"));
        }
    }
    mp_obj_t on_chunk = args[ARG_on_chunk].u_obj == mp_const_none ? MP_OBJ_NULL : args[ARG_on_chunk].u_obj;
    if (on_chunk != MP_OBJ_NULL) {
        pythongoose_check_callable(on_chunk, "on_chunk");
    }
    int64_t max_body = -1;
    if (args[ARG_max_body_size].u_obj != mp_const_none) {
        mp_int_t limit = mp_obj_get_int(args[ARG_max_body_size].u_obj);
        if (limit < 1) {
            mp_raise_ValueError(MP_ERROR_TEXT("max_body_size must be >= 1 (or None)"));
        }
        max_body = limit;
    }
    add_route_with(pattern, pattern_len, handler, methods, args[ARG_auth].u_bool, CONVENTION_REQUEST, on_chunk, max_body);
    return handler;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(mongoose_route_obj, 2, mongoose_route);

#if PYTHONGOOSE_WEB
// mongoose.static(prefix, directory, *, index="index.html", max_age=3600, auth=False): GET/HEAD of
// the files under `directory` (read through the VFS) for paths under `prefix`.
static mp_obj_t mongoose_static(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_prefix, ARG_directory, ARG_index, ARG_max_age, ARG_auth };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_prefix, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_directory, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_index, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_max_age, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 3600} },
        { MP_QSTR_auth, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    size_t prefix_len, directory_len, index_len = 10;
    const char *prefix = mp_obj_str_get_data(args[ARG_prefix].u_obj, &prefix_len);
    const char *directory = mp_obj_str_get_data(args[ARG_directory].u_obj, &directory_len);
    const char *index = "index.html";
    if (args[ARG_index].u_obj != MP_OBJ_NULL) {
        index = mp_obj_str_get_data(args[ARG_index].u_obj, &index_len);
    }
    mp_int_t max_age = args[ARG_max_age].u_int;
    if (max_age < 0 || max_age > 0x7fffffff) {
        mp_raise_ValueError(MP_ERROR_TEXT("max_age must be >= 0 seconds"));
    }
    PgStaticMount mount = {
        .prefix = bytes_of(prefix, prefix_len),
        .directory = bytes_of(directory, directory_len),
        .index = bytes_of(index, index_len),
        .max_age_s = (uint32_t)max_age,
        .auth = args[ARG_auth].u_bool,
    };
    pythongoose_raise_for_status(pg_server_add_static(&mount));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(mongoose_static_obj, 2, mongoose_static);
#endif

// Runs the event loop once (at most `ms` of waiting), then raises what it left: an exception a
// callback carried out, a Ctrl-C or scheduled callback that ended the wait (here, not a
// statement later), or the loop's status.
static void poll_once(int ms) {
    raise_pending_exception();
    PgStatus status = pg_poll(ms);
    raise_pending_exception();
    mp_handle_pending(true);
    if (status == PG_STATUS_NOT_STARTED) {
        mp_raise_msg(&mp_type_RuntimeError,
            MP_ERROR_TEXT("mongoose: nothing to poll: call mongoose.init() or connect an MQTTclient first"));
    }
    pythongoose_raise_for_status(status);
}

// mongoose.poll(ms=0): runs the event loop once, waiting at most ms milliseconds for I/O.
static mp_obj_t mongoose_poll(size_t n_args, const mp_obj_t *args) {
    mp_int_t ms = n_args > 0 ? mp_obj_get_int(args[0]) : 0;
    if (ms < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("poll timeout must be >= 0 ms"));
    }
    poll_once(ms > INT_MAX ? INT_MAX : (int)ms);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mongoose_poll_obj, 0, 1, mongoose_poll);

#if PYTHONGOOSE_MQTT
static void forget_mqtt_clients(void);
#else
static void forget_mqtt_clients(void) {
}
#endif

// mongoose.close(): closes the HTTP server, every MQTT client and every connection; init() and
// connect() may be called again afterwards.
static mp_obj_t mongoose_close(void) {
    pythongoose_raise_for_status(pg_close());
    forget_callbacks();
    forget_mqtt_clients();
    MP_STATE_VM(pythongoose_pending_exception) = MP_OBJ_NULL;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_0(mongoose_close_obj, mongoose_close);

// ---------------------------------------------------------------------------------------------
// The event loop's blocking wait (HTTP-only builds need it as much as MQTT ones).

// Mongoose's blocking wait inside mg_mgr_poll: Mongoose's C is compiled with its epoll_wait (Linux,
// build.rs) or select (ESP32, micropython.cmake) renamed to these, so other Python threads run
// while poll() waits, as they do during time.sleep(). Safe because only the kernel's wait happens
// without the GIL: Mongoose computed what to wait for before and reads the result after, both
// with the GIL held, and every mg_mgr_poll runs from a Python call that holds it. Another thread
// may meanwhile call the module (publish, add a route...): the loop's own state is guarded by
// its "polling" flag (a second poll() or deinit() is refused), the rest is serialised by the GIL.
#if defined(__linux__)
int pg_shim_epoll_wait(int epfd, struct epoll_event *events, int max_events, int timeout_ms) {
    if (timeout_ms == 0) {
        return epoll_wait(epfd, events, max_events, 0);
    }
    MP_THREAD_GIL_EXIT();
    int ready = epoll_wait(epfd, events, max_events, timeout_ms);
    int saved_errno = errno;
    MP_THREAD_GIL_ENTER();
    errno = saved_errno;
    return ready;
}
#elif defined(ESP_PLATFORM)
int pg_shim_select(int nfds, fd_set *readfds, fd_set *writefds, fd_set *exceptfds, struct timeval *timeout) {
    if (timeout != NULL && timeout->tv_sec == 0 && timeout->tv_usec == 0) {
        return select(nfds, readfds, writefds, exceptfds, timeout);
    }
    MP_THREAD_GIL_EXIT();
    int ready = select(nfds, readfds, writefds, exceptfds, timeout);
    int saved_errno = errno;
    MP_THREAD_GIL_ENTER();
    errno = saved_errno;
    return ready;
}
#endif

#if PYTHONGOOSE_MQTT
// ---------------------------------------------------------------------------------------------
// mongoose.MQTTclient

typedef struct {
    mp_obj_base_t base;
    mp_obj_t on_connect;
    mp_obj_t on_publish;
    mp_obj_t on_disconnect;
    mp_obj_t on_status;
    mp_obj_t last_reason; // why the link last went down or an attempt failed (str), or None
    int32_t client; // Rust client id while running, else -1
    bool session_present; // of the latest CONNACK
    bool waiting; // inside connect(wait_ms=...): a final stop is raised there, not printed
} mqtt_client_obj_t;

static const mp_obj_type_t pythongoose_type_mqtt_client;

static mp_obj_t mqtt_client_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *all_args) {
    enum { ARG_on_connect, ARG_on_publish, ARG_on_disconnect, ARG_on_status };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_on_connect, MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_on_publish, MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_on_disconnect, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_on_status, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all_kw_array(n_args, n_kw, all_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    static const char *const names[] = { "on_connect", "on_publish", "on_disconnect", "on_status" };
    for (size_t i = 0; i < MP_ARRAY_SIZE(allowed_args); i++) {
        if (args[i].u_obj != mp_const_none) {
            pythongoose_check_callable(args[i].u_obj, names[i]);
        }
    }
    mqtt_client_obj_t *self = mp_obj_malloc(mqtt_client_obj_t, type);
    self->on_connect = args[ARG_on_connect].u_obj;
    self->on_publish = args[ARG_on_publish].u_obj;
    self->on_disconnect = args[ARG_on_disconnect].u_obj;
    self->on_status = args[ARG_on_status].u_obj;
    self->last_reason = mp_const_none;
    self->client = -1;
    self->waiting = false;
    return MP_OBJ_FROM_PTR(self);
}

static mp_obj_t mqtt_clients_dict(void) {
    if (MP_STATE_VM(pythongoose_mqtt_clients) == MP_OBJ_NULL) {
        MP_STATE_VM(pythongoose_mqtt_clients) = mp_obj_new_dict(0);
    }
    return MP_STATE_VM(pythongoose_mqtt_clients);
}

// The running client object with this Rust id, or NULL. Never raises or allocates.
static mqtt_client_obj_t *mqtt_client_of(uint32_t client, bool remove) {
    mp_obj_t clients = MP_STATE_VM(pythongoose_mqtt_clients);
    if (clients == MP_OBJ_NULL) {
        return NULL;
    }
    mp_map_elem_t *elem = mp_map_lookup(mp_obj_dict_get_map(clients), MP_OBJ_NEW_SMALL_INT(client),
        remove ? MP_MAP_LOOKUP_REMOVE_IF_FOUND : MP_MAP_LOOKUP);
    return elem == NULL ? NULL : MP_OBJ_TO_PTR(elem->value);
}

static void forget_mqtt_clients(void) {
    mp_obj_t clients = MP_STATE_VM(pythongoose_mqtt_clients);
    if (clients != MP_OBJ_NULL) {
        mp_map_t *map = mp_obj_dict_get_map(clients);
        for (size_t i = 0; i < map->alloc; i++) {
            if (mp_map_slot_is_filled(map, i)) {
                ((mqtt_client_obj_t *)MP_OBJ_TO_PTR(map->table[i].value))->client = -1;
            }
        }
    }
    MP_STATE_VM(pythongoose_mqtt_clients) = MP_OBJ_NULL;
    MP_STATE_VM(pythongoose_last_topic) = MP_OBJ_NULL;
}

// Bytes of a str or buffer argument (str/bytes/bytearray/memoryview).
static PgBytes topic_arg(mp_obj_t obj) {
    if (!mp_obj_is_str(obj)) {
        mp_raise_TypeError(MP_ERROR_TEXT("topic must be str"));
    }
    return bytes_arg(obj, "topic");
}

static uint8_t qos_arg(mp_int_t qos) {
    if (qos < 0 || qos > 2) {
        mp_raise_ValueError(MP_ERROR_TEXT("qos must be 0, 1 or 2"));
    }
    return (uint8_t)qos;
}

static mqtt_client_obj_t *running_client(mp_obj_t self_in) {
    mqtt_client_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->client < 0) {
        pythongoose_raise_for_status(PG_STATUS_MQTT_NO_SUCH_CLIENT);
    }
    return self;
}

// The platform's resolver for broker host names (Rust decides when one is needed), blocking like
// umqtt's, with the GIL released: the unix port's getaddrinfo, lwIP's on ESP32 (the one
// MicroPython's own socket.getaddrinfo uses). A board built with PYTHONGOOSE_NO_NAME_SERVICE has
// none (-2: the name cannot be resolved there); elsewhere -1: Mongoose's DNS client resolves it.
int32_t pg_shim_resolve_ipv4(const uint8_t *name, uintptr_t name_len, uint8_t *address_out) {
    #if defined(__unix__) || defined(ESP_PLATFORM)
    #if defined(ESP_PLATFORM)
    #define PG_GETADDRINFO lwip_getaddrinfo
    #define PG_FREEADDRINFO lwip_freeaddrinfo
    #else
    #define PG_GETADDRINFO getaddrinfo
    #define PG_FREEADDRINFO freeaddrinfo
    #endif
    char text[254];
    if (name_len == 0 || name_len >= sizeof(text)) {
        return 0;
    }
    memcpy(text, name, name_len);
    text[name_len] = '\0';
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
    struct addrinfo *found = NULL;
    MP_THREAD_GIL_EXIT();
    int error = PG_GETADDRINFO(text, NULL, &hints, &found);
    MP_THREAD_GIL_ENTER();
    if (error != 0 || found == NULL) {
        if (found != NULL) {
            PG_FREEADDRINFO(found);
        }
        return 0;
    }
    memcpy(address_out, &((struct sockaddr_in *)found->ai_addr)->sin_addr, 4);
    PG_FREEADDRINFO(found);
    return 1;
    #else
    (void)name;
    (void)name_len;
    (void)address_out;
    #if defined(PYTHONGOOSE_NO_NAME_SERVICE)
    return -2;
    #else
    return -1;
    #endif
    #endif
}


// Whether MicroPython holds an asynchronous exception (Ctrl-C) to raise at its next check.
bool pg_shim_interrupt_pending(void) {
    return MP_STATE_THREAD(mp_pending_exception) != MP_OBJ_NULL;
}

// client.connect(url, user=None, pwd=None, will_topic=None, will_msg=None, will_qos=0,
//                will_retain=False, *, client_id=None, keepalive=60, clean_session=True,
//                reconnect=True, max_inflight=8, max_queue=32, max_queue_bytes=1048576,
//                ack_timeout_ms=10000, connect_timeout_ms=10000, reconnect_min_ms=1000,
//                reconnect_max_ms=60000, max_packet_size=65536, wait_ms=0,
//                ca=None, cert=None, key=None, server_name=None, insecure=False)
// (ca/cert/key: PEM str or bytes, for mqtts:// only; Rust checks them)
// (the size limits' defaults are the platform's: DEFAULT_* above)
// With wait_ms > 0 it runs the event loop until CONNACK and returns the session-present flag, or
// raises OSError: the client stopped (refused, or failed with reconnect=False), or wait_ms ran
// out (ETIMEDOUT; the client keeps trying unless disconnect() is called).
static mp_obj_t wait_until_connected(mqtt_client_obj_t *self, uint32_t client, mp_int_t wait_ms);

static mp_obj_t mqtt_client_connect(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_url, ARG_user, ARG_pwd, ARG_will_topic, ARG_will_msg, ARG_will_qos, ARG_will_retain, ARG_client_id,
           ARG_keepalive, ARG_clean_session, ARG_reconnect, ARG_max_inflight, ARG_max_queue, ARG_max_queue_bytes,
           ARG_ack_timeout_ms, ARG_connect_timeout_ms, ARG_reconnect_min_ms, ARG_reconnect_max_ms,
           ARG_max_packet_size, ARG_wait_ms, ARG_ca, ARG_cert, ARG_key, ARG_server_name, ARG_insecure };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_url, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_user, MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_pwd, MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_will_topic, MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_will_msg, MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_will_qos, MP_ARG_INT, {.u_int = 0} },
        { MP_QSTR_will_retain, MP_ARG_BOOL, {.u_bool = false} },
        { MP_QSTR_client_id, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_keepalive, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 60} },
        { MP_QSTR_clean_session, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = true} },
        { MP_QSTR_reconnect, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = true} },
        { MP_QSTR_max_inflight, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 8} },
        { MP_QSTR_max_queue, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = DEFAULT_MQTT_MAX_QUEUE} },
        { MP_QSTR_max_queue_bytes, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = DEFAULT_MQTT_MAX_QUEUE_BYTES} },
        { MP_QSTR_ack_timeout_ms, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 10000} },
        { MP_QSTR_connect_timeout_ms, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 10000} },
        { MP_QSTR_reconnect_min_ms, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 1000} },
        { MP_QSTR_reconnect_max_ms, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 60000} },
        { MP_QSTR_max_packet_size, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = DEFAULT_MQTT_MAX_PACKET_SIZE} },
        { MP_QSTR_wait_ms, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 0} },
        { MP_QSTR_ca, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_cert, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_key, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_server_name, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_insecure, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    mqtt_client_obj_t *self = MP_OBJ_TO_PTR(pos_args[0]);
    if (self->client >= 0) {
        mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("mongoose: this client is already running (disconnect() first)"));
    }
    size_t url_len;
    const char *url = mp_obj_str_get_data(args[ARG_url].u_obj, &url_len);
    if (strlen(url) != url_len || url_len == 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("url must be a non-empty str without NUL, e.g. mqtt://host:1883"));
    }
    if (args[ARG_keepalive].u_int < 0 || args[ARG_keepalive].u_int > 65535) {
        mp_raise_ValueError(MP_ERROR_TEXT("keepalive must be 0..65535 seconds"));
    }
    static const uint8_t positive[] = { ARG_max_inflight, ARG_ack_timeout_ms, ARG_connect_timeout_ms,
                                        ARG_reconnect_min_ms, ARG_reconnect_max_ms, ARG_max_packet_size,
                                        ARG_max_queue_bytes };
    for (size_t i = 0; i < sizeof(positive); i++) {
        mp_int_t value = args[positive[i]].u_int;
        if (value < 1 || value > 0x7fffffff) {
            mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%q must be >= 1"), allowed_args[positive[i]].qst);
        }
    }
    if (args[ARG_max_queue].u_int < 0 || args[ARG_max_queue].u_int > 0x7fffffff) {
        mp_raise_ValueError(MP_ERROR_TEXT("max_queue must be >= 0"));
    }
    mp_int_t wait_ms = args[ARG_wait_ms].u_int;
    if (wait_ms < 0 || wait_ms > 0x7fffffff) {
        mp_raise_ValueError(MP_ERROR_TEXT("wait_ms must be >= 0"));
    }
    if (wait_ms > 0 && pg_is_polling()) {
        mp_raise_msg(&mp_type_RuntimeError,
            MP_ERROR_TEXT("mongoose: connect(wait_ms=...) cannot wait inside a callback; use on_connect"));
    }
    // The seed passes "" for "no user name / password".
    bool has_user = args[ARG_user].u_obj != mp_const_none;
    PgBytes user = has_user ? bytes_arg(args[ARG_user].u_obj, "user") : bytes_of("", 0);
    has_user = has_user && user.len > 0;
    bool has_password = args[ARG_pwd].u_obj != mp_const_none;
    PgBytes password = has_password ? bytes_arg(args[ARG_pwd].u_obj, "pwd") : bytes_of("", 0);
    has_password = has_password && password.len > 0;
    bool has_will = args[ARG_will_topic].u_obj != mp_const_none;
    PgMqttConfig config = {
        .url = url,
        .client_id = args[ARG_client_id].u_obj == mp_const_none ? bytes_of("", 0) : bytes_arg(args[ARG_client_id].u_obj, "client_id"),
        .has_username = has_user,
        .username = user,
        .has_password = has_password,
        .password = password,
        .has_will = has_will,
        .will_topic = has_will ? topic_arg(args[ARG_will_topic].u_obj) : bytes_of("", 0),
        .will_message = has_will && args[ARG_will_msg].u_obj != mp_const_none ? bytes_arg(args[ARG_will_msg].u_obj, "will_msg") : bytes_of("", 0),
        .will_qos = qos_arg(args[ARG_will_qos].u_int),
        .will_retain = args[ARG_will_retain].u_bool,
        .keepalive_s = (uint16_t)args[ARG_keepalive].u_int,
        .clean_session = args[ARG_clean_session].u_bool,
        .auto_reconnect = args[ARG_reconnect].u_bool,
        .max_inflight = (uint32_t)args[ARG_max_inflight].u_int,
        .max_queued = (uint32_t)args[ARG_max_queue].u_int,
        .max_queued_bytes = (uint32_t)args[ARG_max_queue_bytes].u_int,
        .max_inbound_qos2 = DEFAULT_MQTT_MAX_INBOUND_QOS2,
        .ack_timeout_ms = (uint32_t)args[ARG_ack_timeout_ms].u_int,
        .connect_timeout_ms = (uint32_t)args[ARG_connect_timeout_ms].u_int,
        .reconnect_min_ms = (uint32_t)args[ARG_reconnect_min_ms].u_int,
        .reconnect_max_ms = (uint32_t)args[ARG_reconnect_max_ms].u_int,
        .max_packet_size = (uint32_t)args[ARG_max_packet_size].u_int,
        .tls_ca = optional_bytes_arg(args[ARG_ca].u_obj, "ca"),
        .tls_cert = optional_bytes_arg(args[ARG_cert].u_obj, "cert"),
        .tls_key = optional_bytes_arg(args[ARG_key].u_obj, "key"),
        .has_server_name = args[ARG_server_name].u_obj != mp_const_none,
        .server_name = optional_bytes_arg(args[ARG_server_name].u_obj, "server_name"),
        .tls_insecure = args[ARG_insecure].u_bool,
    };
    // Rooted under its id before Rust creates it: from then on Rust may call back at any time.
    uint32_t client = pg_mqtt_reserve_id();
    mp_obj_dict_store(mqtt_clients_dict(), MP_OBJ_NEW_SMALL_INT(client), MP_OBJ_FROM_PTR(self));
    PgStatus status = pg_mqtt_connect(&config, client);
    if (status != PG_STATUS_OK) {
        mqtt_client_of(client, true); // not created: unroot it
        pythongoose_raise_for_status(status);
    }
    self->client = (int32_t)client;
    self->last_reason = mp_const_none;
    self->session_present = false;
    pythongoose_raise_for_status(pg_mqtt_start(client));
    return wait_ms > 0 ? wait_until_connected(self, client, wait_ms) : mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(mqtt_client_connect_obj, 2, mqtt_client_connect);

static mp_obj_t wait_for_connack(mqtt_client_obj_t *self, uint32_t client, mp_int_t wait_ms);

// The client's final stop is raised by connect() while it waits, not printed as well.
static mp_obj_t wait_until_connected(mqtt_client_obj_t *self, uint32_t client, mp_int_t wait_ms) {
    self->waiting = true;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t session_present = wait_for_connack(self, client, wait_ms);
        nlr_pop();
        self->waiting = false;
        return session_present;
    }
    self->waiting = false;
    nlr_jump(nlr.ret_val);
}

static mp_obj_t wait_for_connack(mqtt_client_obj_t *self, uint32_t client, mp_int_t wait_ms) {
    PgWaitResult result = pg_mqtt_wait_connected(client, (uint32_t)wait_ms);
    raise_pending_exception();
    mp_handle_pending(true);
    switch (result) {
        case PG_WAIT_RESULT_CONNECTED:
            return mp_obj_new_bool(self->session_present);
        case PG_WAIT_RESULT_REENTERED:
            mp_raise_msg(&mp_type_RuntimeError,
                MP_ERROR_TEXT("mongoose: connect(wait_ms=...) cannot wait inside a callback; use on_connect"));
        case PG_WAIT_RESULT_TIMED_OUT: {
            vstr_t text;
            vstr_init(&text, 80);
            vstr_printf(&text, "mongoose: not connected within %d ms (the client keeps trying)", (int)wait_ms);
            if (self->last_reason != mp_const_none) {
                vstr_printf(&text, "; last attempt: %s", mp_obj_str_get_str(self->last_reason));
            }
            mp_obj_t args[2] = { MP_OBJ_NEW_SMALL_INT(MP_ETIMEDOUT), mp_obj_new_str_from_vstr(&text) };
            nlr_raise(mp_obj_new_exception_args(&mp_type_OSError, 2, args));
        }
        default:
            mp_raise_msg_varg(&mp_type_OSError, MP_ERROR_TEXT("mongoose: MQTT client stopped: %s"),
                self->last_reason == mp_const_none ? "disconnected" : mp_obj_str_get_str(self->last_reason));
    }
}

// client.pub(topic, msg, qos=0, retain=False) -> packet id (QoS 1/2) or None (QoS 0)
static mp_obj_t mqtt_client_pub(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_topic, ARG_msg, ARG_qos, ARG_retain };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_topic, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_msg, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_qos, MP_ARG_INT, {.u_int = 0} },
        { MP_QSTR_retain, MP_ARG_BOOL, {.u_bool = false} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    mqtt_client_obj_t *self = running_client(pos_args[0]);
    PgBytes topic = topic_arg(args[ARG_topic].u_obj);
    PgBytes payload = bytes_arg(args[ARG_msg].u_obj, "msg");
    uint8_t qos = qos_arg(args[ARG_qos].u_int);
    uint16_t packet_id = 0;
    pythongoose_raise_for_status(pg_mqtt_publish((uint32_t)self->client, topic, payload, qos, args[ARG_retain].u_bool, &packet_id));
    return qos == 0 ? mp_const_none : MP_OBJ_NEW_SMALL_INT(packet_id);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(mqtt_client_pub_obj, 3, mqtt_client_pub);

// client.sub(topic, qos=0) or client.sub([(topic, qos), ...]) -> packet id
static mp_obj_t mqtt_client_sub(size_t n_args, const mp_obj_t *args) {
    mqtt_client_obj_t *self = running_client(args[0]);
    mp_obj_t topics = args[1];
    if (mp_obj_is_str(topics)) {
        PgMqttFilter filter = { topic_arg(topics), qos_arg(n_args > 2 ? mp_obj_get_int(args[2]) : 0) };
        uint16_t packet_id = 0;
        pythongoose_raise_for_status(pg_mqtt_subscribe((uint32_t)self->client, &filter, 1, &packet_id));
        return MP_OBJ_NEW_SMALL_INT(packet_id);
    }
    if (n_args > 2) {
        mp_raise_TypeError(MP_ERROR_TEXT("with a list of (topic, qos), qos is given per topic"));
    }
    size_t count;
    mp_obj_t *items;
    mp_obj_get_array(topics, &count, &items);
    if (count == 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("at least one topic is required"));
    }
    PgMqttFilter *filters = m_new(PgMqttFilter, count);
    for (size_t i = 0; i < count; i++) {
        size_t pair_len;
        mp_obj_t *pair;
        mp_obj_get_array(items[i], &pair_len, &pair);
        if (pair_len != 2) {
            mp_raise_TypeError(MP_ERROR_TEXT("sub() takes a topic or a list of (topic, qos)"));
        }
        filters[i].topic = topic_arg(pair[0]);
        filters[i].qos = qos_arg(mp_obj_get_int(pair[1]));
    }
    uint16_t packet_id = 0;
    PgStatus status = pg_mqtt_subscribe((uint32_t)self->client, filters, count, &packet_id);
    m_del(PgMqttFilter, filters, count);
    pythongoose_raise_for_status(status);
    return MP_OBJ_NEW_SMALL_INT(packet_id);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mqtt_client_sub_obj, 2, 3, mqtt_client_sub);

// client.unsub(topic or [topics]) -> packet id
static mp_obj_t mqtt_client_unsub(mp_obj_t self_in, mp_obj_t topics) {
    mqtt_client_obj_t *self = running_client(self_in);
    size_t count = 1;
    mp_obj_t *items = &topics;
    if (!mp_obj_is_str(topics)) {
        mp_obj_get_array(topics, &count, &items);
    }
    if (count == 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("at least one topic is required"));
    }
    PgBytes *filters = m_new(PgBytes, count);
    for (size_t i = 0; i < count; i++) {
        filters[i] = topic_arg(items[i]);
    }
    uint16_t packet_id = 0;
    PgStatus status = pg_mqtt_unsubscribe((uint32_t)self->client, filters, count, &packet_id);
    m_del(PgBytes, filters, count);
    pythongoose_raise_for_status(status);
    return MP_OBJ_NEW_SMALL_INT(packet_id);
}
static MP_DEFINE_CONST_FUN_OBJ_2(mqtt_client_unsub_obj, mqtt_client_unsub);

// client.disconnect(): clean DISCONNECT (the broker drops the will); no-op when not running.
static mp_obj_t mqtt_client_disconnect(mp_obj_t self_in) {
    mqtt_client_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->client >= 0) {
        uint32_t client = (uint32_t)self->client;
        // Not running from here on (pub() raises, connect() may start it again); its last events
        // still reach its callbacks, and the object stays rooted until Rust releases the id.
        self->client = -1;
        pythongoose_raise_for_status(pg_mqtt_disconnect(client));
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(mqtt_client_disconnect_obj, mqtt_client_disconnect);

static mp_obj_t mqtt_client_is_connected(mp_obj_t self_in) {
    mqtt_client_obj_t *self = MP_OBJ_TO_PTR(self_in);
    return mp_obj_new_bool(self->client >= 0 && pg_mqtt_is_connected((uint32_t)self->client));
}
static MP_DEFINE_CONST_FUN_OBJ_1(mqtt_client_is_connected_obj, mqtt_client_is_connected);

// client.pending(): QoS>0 publishes not acknowledged yet (in flight and queued).
static mp_obj_t mqtt_client_pending(mp_obj_t self_in) {
    mqtt_client_obj_t *self = MP_OBJ_TO_PTR(self_in);
    return MP_OBJ_NEW_SMALL_INT(self->client >= 0 ? pg_mqtt_pending((uint32_t)self->client) : 0);
}
static MP_DEFINE_CONST_FUN_OBJ_1(mqtt_client_pending_obj, mqtt_client_pending);

static void mqtt_client_print(const mp_print_t *print, mp_obj_t self_in, mp_print_kind_t kind) {
    (void)kind;
    mqtt_client_obj_t *self = MP_OBJ_TO_PTR(self_in);
    const char *state = self->client < 0 ? "not running"
        : pg_mqtt_is_connected((uint32_t)self->client) ? "connected" : "connecting";
    mp_printf(print, "<MQTTclient %s>", state);
}

static const mp_rom_map_elem_t mqtt_client_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_connect), MP_ROM_PTR(&mqtt_client_connect_obj) },
    { MP_ROM_QSTR(MP_QSTR_pub), MP_ROM_PTR(&mqtt_client_pub_obj) },
    { MP_ROM_QSTR(MP_QSTR_sub), MP_ROM_PTR(&mqtt_client_sub_obj) },
    { MP_ROM_QSTR(MP_QSTR_unsub), MP_ROM_PTR(&mqtt_client_unsub_obj) },
    { MP_ROM_QSTR(MP_QSTR_disconnect), MP_ROM_PTR(&mqtt_client_disconnect_obj) },
    { MP_ROM_QSTR(MP_QSTR_is_connected), MP_ROM_PTR(&mqtt_client_is_connected_obj) },
    { MP_ROM_QSTR(MP_QSTR_pending), MP_ROM_PTR(&mqtt_client_pending_obj) },
};
static MP_DEFINE_CONST_DICT(mqtt_client_locals, mqtt_client_locals_table);

// client.session_present: the flag of the latest CONNACK (read-only; methods come from locals).
static void mqtt_client_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    if (dest[0] == MP_OBJ_NULL && attr == MP_QSTR_session_present) {
        dest[0] = mp_obj_new_bool(((mqtt_client_obj_t *)MP_OBJ_TO_PTR(self_in))->session_present);
        return;
    }
    dest[1] = MP_OBJ_SENTINEL; // continue in locals_dict
}

static MP_DEFINE_CONST_OBJ_TYPE(
    pythongoose_type_mqtt_client,
    MP_QSTR_MQTTclient,
    MP_TYPE_FLAG_NONE,
    make_new, mqtt_client_make_new,
    print, mqtt_client_print,
    attr, mqtt_client_attr,
    locals_dict, &mqtt_client_locals
    );

// The topic of a received message as str (bytes if not UTF-8), reusing the previous message's
// object when the name is the same. Can raise MemoryError: call under nlr_push.
static mp_obj_t topic_object(PgBytes topic) {
    mp_obj_t last = MP_STATE_VM(pythongoose_last_topic);
    if (last != MP_OBJ_NULL) {
        size_t last_len;
        const char *last_data = mp_obj_str_get_data(last, &last_len);
        if (last_len == topic.len && memcmp(last_data, topic.ptr, topic.len) == 0) {
            return last;
        }
    }
    mp_obj_t object = new_text_or_bytes(topic);
    MP_STATE_VM(pythongoose_last_topic) = object;
    return object;
}

// Called by Rust for every event of a running client. Never raises.
int32_t pg_shim_mqtt_event(uint32_t client, const PgMqttEvent *event) {
    if (event->kind == PG_MQTT_EVENT_KIND_RELEASED) {
        mqtt_client_obj_t *self = mqtt_client_of(client, true);
        if (self != NULL && self->client == (int32_t)client) {
            self->client = -1; // (a client connect()ed again since has a new id)
        }
        return PG_CALL_OUTCOME_OK;
    }
    mqtt_client_obj_t *self = mqtt_client_of(client, false);
    if (self == NULL) {
        return PG_CALL_OUTCOME_OK; // no Python object (closed): nothing to call
    }
    if (MP_STATE_VM(pythongoose_pending_exception) != MP_OBJ_NULL) {
        return PG_CALL_OUTCOME_DEFERRED;
    }
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        switch (event->kind) {
            case PG_MQTT_EVENT_KIND_CONNECTED:
                self->session_present = event->session_present;
                self->last_reason = mp_const_none;
                if (self->on_connect != mp_const_none) {
                    mp_call_function_0(self->on_connect); // the flag is client.session_present
                }
                break;
            case PG_MQTT_EVENT_KIND_MESSAGE:
                if (self->on_publish != mp_const_none) {
                    mp_obj_t topic = topic_object(event->topic);
                    mp_obj_t payload = new_bytes_of(event->payload);
                    mp_call_function_2(self->on_publish, topic, payload);
                }
                break;
            case PG_MQTT_EVENT_KIND_STATUS:
                if (self->on_status != mp_const_none) {
                    mp_call_function_2(self->on_status, MP_OBJ_NEW_SMALL_INT(event->packet_id),
                        new_text_or_bytes(event->text));
                }
                break;
            case PG_MQTT_EVENT_KIND_DISCONNECTED:
                self->last_reason = new_text_or_bytes(event->text);
                if (self->on_disconnect != mp_const_none) {
                    mp_call_function_1(self->on_disconnect, self->last_reason);
                } else if (event->final_stop && !self->waiting) {
                    mp_print_str(&mp_plat_print, "mongoose: MQTT client stopped: ");
                    mp_print_strn(&mp_plat_print, (const char *)event->text.ptr, event->text.len, 0, ' ', 0);
                    mp_print_str(&mp_plat_print, "\n");
                }
                break;
            default:
                break;
        }
        nlr_pop();
        return PG_CALL_OUTCOME_OK;
    }
    return pythongoose_outcome_of_exception(MP_OBJ_FROM_PTR(nlr.ret_val));
}
#endif // PYTHONGOOSE_MQTT

// ---------------------------------------------------------------------------------------------
// Soft reset (DESIGN rule 5)
//
// Ctrl-D on a board wipes the Python heap but keeps C and Rust state: Mongoose's manager, its
// connections, Rust's server, clients and timers would outlive the session, their sockets open
// and their roots pointing into a heap that is gone. The teardown happens at reset time: the
// first `import mongoose` of a session makes one session object, rooted in pythongoose_session
// (so no ordinary collection frees it) and allocated with a finaliser. A soft reset calls
// gc_sweep_all() (ports/qemu/main.c, esp32, rp2, stm32... before mp_deinit), which runs the
// finaliser of every object on the heap, rooted or not: session_del then closes every listener,
// connection, timer and MQTT client and frees Mongoose's and Rust's state (pg_close), and clears
// the roots.

typedef struct {
    mp_obj_base_t base;
} session_obj_t;

// Clears every root of the module without looking at what they point to (after a soft reset
// they may point into a heap that was wiped). Never raises or allocates.
static void forget_all_roots(void) {
    MP_STATE_VM(pythongoose_handlers) = MP_OBJ_NULL;
    MP_STATE_VM(pythongoose_auth_callback) = MP_OBJ_NULL;
    MP_STATE_VM(pythongoose_pending_exception) = MP_OBJ_NULL;
    forget_reply_objects();
    pythongoose_forget_streams();
    pythongoose_forget_push_peers();
    #if PYTHONGOOSE_MQTT
    MP_STATE_VM(pythongoose_mqtt_clients) = MP_OBJ_NULL;
    MP_STATE_VM(pythongoose_last_topic) = MP_OBJ_NULL;
    #endif
}

// Tears down what a session left and forgets its roots. Returns false (and changes nothing in
// the shim) when Rust refused, which only happens inside a running poll(). Only C and Rust run:
// pg_close calls no pg_shim_* function (the server and clients are forgotten before Mongoose
// closes their connections), raises nothing and allocates nothing on the GC heap.
static bool teardown_session(void) {
    if (pg_close() != PG_STATUS_OK) {
        return false;
    }
    pg_heap_set_limit(0); // a memory(limit=...) setting belongs to the session that made it
    forget_all_roots();
    MP_STATE_VM(pythongoose_session) = MP_OBJ_NULL;
    return true;
}

// The finaliser. It runs inside the GC sweep: the heap is locked (an allocation would raise
// MemoryError) and no Python may run, so it calls teardown_session only, which can neither
// raise nor allocate. A session object that is not the rooted one (only possible if the
// marker in sys.modules was removed and a second one made) does nothing.
static mp_obj_t session_del(mp_obj_t self_in) {
    if (MP_STATE_VM(pythongoose_session) == self_in) {
        teardown_session();
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(session_del_obj, session_del);

static const mp_rom_map_elem_t session_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&session_del_obj) },
};
static MP_DEFINE_CONST_DICT(session_locals, session_locals_table);

static MP_DEFINE_CONST_OBJ_TYPE(
    pythongoose_type_session,
    MP_QSTR__Session,
    MP_TYPE_FLAG_NONE,
    locals_dict, &session_locals
    );

// Runs at every `import mongoose`; acts at the first one of a VM session (sys.modules is new in
// every session, so a marker there tells a first import from a later one).
//
// A second line of defence first: a session object still rooted at this point means the last
// session's finaliser never ran. That happens on ports whose soft reset does not sweep the heap
// (MicroPython 1.25: nrf, cc3200, minimal, bare-arm...; unix sweeps only in coverage builds,
// but a unix process never soft-resets), in builds without MICROPY_ENABLE_FINALISER, or if
// pg_close refused there. Its roots point into the old heap: they are cleared, not followed.
// Then the new session's object is made (this may raise MemoryError: no Rust frame is on the
// stack, and the marker is only set once the object is rooted).
static mp_obj_t mongoose_module_init(void) {
    mp_map_t *loaded_modules = &MP_STATE_VM(mp_loaded_modules_dict).map;
    mp_obj_t marker = MP_OBJ_NEW_QSTR(MP_QSTR__pythongoose_session);
    if (mp_map_lookup(loaded_modules, marker, MP_MAP_LOOKUP) == NULL) {
        if (MP_STATE_VM(pythongoose_session) != MP_OBJ_NULL) {
            MP_STATE_VM(pythongoose_session) = MP_OBJ_NULL;
            forget_all_roots();
            pg_close();
            pg_heap_set_limit(0);
        }
        session_obj_t *session = mp_obj_malloc_with_finaliser(session_obj_t, &pythongoose_type_session);
        MP_STATE_VM(pythongoose_session) = MP_OBJ_FROM_PTR(session);
        mp_map_lookup(loaded_modules, marker, MP_MAP_LOOKUP_ADD_IF_NOT_FOUND)->value = mp_const_true;
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_0(mongoose_module_init_obj, mongoose_module_init);

// mongoose.memory(limit=None) -> {"used", "peak", "limit", "refused"}: the C-heap bytes the module
// (Rust and Mongoose) holds, the most it held, the budget for what network input may make it take
// (0: none; `limit=N` sets it), and how many allocations the budget refused.
static mp_obj_t mongoose_memory(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_limit, MP_ARG_OBJ, {.u_obj = mp_const_none} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    if (args[0].u_obj != mp_const_none) {
        mp_int_t limit = mp_obj_get_int(args[0].u_obj);
        if (limit < 0) {
            mp_raise_ValueError(MP_ERROR_TEXT("limit must be >= 0 bytes (0: no limit)"));
        }
        pg_heap_set_limit((uintptr_t)limit);
    }
    PgHeapStats stats = { 0 };
    pg_heap_stats(&stats);
    mp_obj_t figures = mp_obj_new_dict(4);
    mp_obj_dict_store(figures, MP_OBJ_NEW_QSTR(MP_QSTR_used), mp_obj_new_int_from_uint(stats.used));
    mp_obj_dict_store(figures, MP_OBJ_NEW_QSTR(MP_QSTR_peak), mp_obj_new_int_from_uint(stats.peak));
    mp_obj_dict_store(figures, MP_OBJ_NEW_QSTR(MP_QSTR_limit), mp_obj_new_int_from_uint(stats.limit));
    mp_obj_dict_store(figures, MP_OBJ_NEW_QSTR(MP_QSTR_refused), mp_obj_new_int_from_uint(stats.refused));
    return figures;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(mongoose_memory_obj, 0, mongoose_memory);

static const mp_rom_map_elem_t mongoose_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_mongoose) },
    { MP_ROM_QSTR(MP_QSTR___init__), MP_ROM_PTR(&mongoose_module_init_obj) },
    { MP_ROM_QSTR(MP_QSTR_init), MP_ROM_PTR(&mongoose_init_obj) },
    { MP_ROM_QSTR(MP_QSTR_route), MP_ROM_PTR(&mongoose_route_obj) },
    #if PYTHONGOOSE_WEB
    { MP_ROM_QSTR(MP_QSTR_static), MP_ROM_PTR(&mongoose_static_obj) },
    { MP_ROM_QSTR(MP_QSTR_websocket), MP_ROM_PTR(&pythongoose_websocket_obj) },
    { MP_ROM_QSTR(MP_QSTR_sse), MP_ROM_PTR(&pythongoose_sse_obj) },
    { MP_ROM_QSTR(MP_QSTR_broadcast), MP_ROM_PTR(&pythongoose_broadcast_obj) },
    #endif
    { MP_ROM_QSTR(MP_QSTR_poll), MP_ROM_PTR(&mongoose_poll_obj) },
    { MP_ROM_QSTR(MP_QSTR_close), MP_ROM_PTR(&mongoose_close_obj) },
    { MP_ROM_QSTR(MP_QSTR_memory), MP_ROM_PTR(&mongoose_memory_obj) },
    { MP_ROM_QSTR(MP_QSTR_listen), MP_ROM_PTR(&mongoose_listen_obj) },
    { MP_ROM_QSTR(MP_QSTR_Request), MP_ROM_PTR(&pythongoose_type_request) },
    #if PYTHONGOOSE_WEB
    { MP_ROM_QSTR(MP_QSTR_File), MP_ROM_PTR(&pythongoose_type_file) },
    { MP_ROM_QSTR(MP_QSTR_Template), MP_ROM_PTR(&pythongoose_type_template) },
    { MP_ROM_QSTR(MP_QSTR_WebSocket), MP_ROM_PTR(&pythongoose_type_websocket) },
    { MP_ROM_QSTR(MP_QSTR_EventStream), MP_ROM_PTR(&pythongoose_type_event_stream) },
    #endif
    #if PYTHONGOOSE_MQTT
    { MP_ROM_QSTR(MP_QSTR_MQTTclient), MP_ROM_PTR(&pythongoose_type_mqtt_client) },
    #endif
};
static MP_DEFINE_CONST_DICT(mongoose_module_globals, mongoose_module_globals_table);

const mp_obj_module_t pythongoose_user_cmodule = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&mongoose_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR_mongoose, pythongoose_user_cmodule);
