// The `mongoose` module's files: `File` and `Template` replies, and what Rust's static-file and
// streaming code asks of MicroPython's filesystem (declared in include/pythongoose.h). Files are
// opened and read through MicroPython's VFS, never Mongoose's own file access, so a board serves
// what its filesystem holds (a user VFS mounted in Python included). Like modmongoose.c this file
// only converts and calls: every call into Python runs under nlr_push and none ever raises.
#include <string.h>

#include "extmod/vfs.h"
#include "py/nlr.h"
#include "py/obj.h"
#include "py/runtime.h"
#include "py/stream.h"

#include "pythongoose.h"
#include "shim.h"

#if PYTHONGOOSE_WEB // the whole file: see shim.h

// Open files of replies being streamed: a dict from Rust's stream id to the file object, or to a
// (file, Template) tuple. A file stays reachable by the GC for as long as Rust may read it.
MP_REGISTER_ROOT_POINTER(mp_obj_t pythongoose_streams);
// The File or Template a handler just returned, from the handler call until Rust opens its
// stream (the reply's path points into it, and a Template's values are read later).
MP_REGISTER_ROOT_POINTER(mp_obj_t pythongoose_pending_stream);

// ---------------------------------------------------------------------------------------------
// File(path, content_type=None, headers=None) and Template(path, values)

typedef struct {
    mp_obj_base_t base;
    mp_obj_t path;
    mp_obj_t content_type; // None: from the file name's extension
    mp_obj_t headers;      // None, or a dict of extra reply headers
} file_reply_obj_t;

typedef struct {
    mp_obj_base_t base;
    mp_obj_t path;
    mp_obj_t values; // a dict (any mapping): {{name}} is replaced by str(values[name]), escaped
} template_reply_obj_t;

static void check_path(mp_obj_t path) {
    size_t len;
    const char *text = mp_obj_str_get_data(path, &len); // TypeError unless str
    if (len == 0 || memchr(text, '\0', len) != NULL) {
        mp_raise_ValueError(MP_ERROR_TEXT("path must be a non-empty str without NUL"));
    }
}

static mp_obj_t file_reply_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *all_args) {
    enum { ARG_path, ARG_content_type, ARG_headers };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_path, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_content_type, MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_headers, MP_ARG_OBJ, {.u_obj = mp_const_none} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all_kw_array(n_args, n_kw, all_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    check_path(args[ARG_path].u_obj);
    if (args[ARG_content_type].u_obj != mp_const_none) {
        size_t len;
        const char *text = mp_obj_str_get_data(args[ARG_content_type].u_obj, &len);
        pythongoose_check_header_text(text, len, false);
    }
    if (args[ARG_headers].u_obj != mp_const_none && !mp_obj_is_type(args[ARG_headers].u_obj, &mp_type_dict)) {
        mp_raise_TypeError(MP_ERROR_TEXT("reply headers must be a dict"));
    }
    file_reply_obj_t *self = mp_obj_malloc(file_reply_obj_t, type);
    self->path = args[ARG_path].u_obj;
    self->content_type = args[ARG_content_type].u_obj;
    self->headers = args[ARG_headers].u_obj;
    return MP_OBJ_FROM_PTR(self);
}

static void file_reply_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    if (dest[0] != MP_OBJ_NULL) {
        return; // read-only
    }
    file_reply_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (attr == MP_QSTR_path) {
        dest[0] = self->path;
    } else if (attr == MP_QSTR_content_type) {
        dest[0] = self->content_type;
    } else if (attr == MP_QSTR_headers) {
        dest[0] = self->headers;
    }
}

MP_DEFINE_CONST_OBJ_TYPE(
    pythongoose_type_file,
    MP_QSTR_File,
    MP_TYPE_FLAG_NONE,
    make_new, file_reply_make_new,
    attr, file_reply_attr
    );

static mp_obj_t template_reply_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 2, 2, false);
    check_path(args[0]);
    template_reply_obj_t *self = mp_obj_malloc(template_reply_obj_t, type);
    self->path = args[0];
    self->values = args[1];
    return MP_OBJ_FROM_PTR(self);
}

static void template_reply_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    if (dest[0] != MP_OBJ_NULL) {
        return; // read-only
    }
    template_reply_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (attr == MP_QSTR_path) {
        dest[0] = self->path;
    } else if (attr == MP_QSTR_values) {
        dest[0] = self->values;
    }
}

MP_DEFINE_CONST_OBJ_TYPE(
    pythongoose_type_template,
    MP_QSTR_Template,
    MP_TYPE_FLAG_NONE,
    make_new, template_reply_make_new,
    attr, template_reply_attr
    );

bool pythongoose_convert_stream_reply(mp_obj_t result, PgReply *reply) {
    size_t len;
    if (mp_obj_is_type(result, &pythongoose_type_file)) {
        file_reply_obj_t *file = MP_OBJ_TO_PTR(result);
        MP_STATE_VM(pythongoose_pending_stream) = result;
        reply->stream = PG_REPLY_STREAM_FILE;
        const char *path = mp_obj_str_get_data(file->path, &len);
        reply->stream_path = pythongoose_bytes_of(path, len);
        if (file->content_type != mp_const_none) {
            const char *type = mp_obj_str_get_data(file->content_type, &len);
            reply->content_type = pythongoose_bytes_of(type, len);
        } else {
            reply->content_type = pythongoose_bytes_of("", 0); // from the extension
        }
        if (file->headers != mp_const_none) {
            pythongoose_set_reply_headers(file->headers, reply);
        }
        return true;
    }
    if (mp_obj_is_type(result, &pythongoose_type_template)) {
        template_reply_obj_t *template = MP_OBJ_TO_PTR(result);
        MP_STATE_VM(pythongoose_pending_stream) = result;
        reply->stream = PG_REPLY_STREAM_TEMPLATE;
        const char *path = mp_obj_str_get_data(template->path, &len);
        reply->stream_path = pythongoose_bytes_of(path, len);
        reply->content_type = pythongoose_bytes_of("", 0); // from the extension
        return true;
    }
    return false;
}

void pythongoose_forget_streams(void) {
    MP_STATE_VM(pythongoose_streams) = MP_OBJ_NULL;
    MP_STATE_VM(pythongoose_pending_stream) = MP_OBJ_NULL;
}

// ---------------------------------------------------------------------------------------------
// Protected calls from Rust (include/pythongoose.h). None raises; a KeyboardInterrupt or
// SystemExit raised by user code (a Python VFS) is kept for poll() to raise.

static mp_obj_t streams_dict(void) {
    if (MP_STATE_VM(pythongoose_streams) == MP_OBJ_NULL) {
        MP_STATE_VM(pythongoose_streams) = mp_obj_new_dict(0);
    }
    return MP_STATE_VM(pythongoose_streams);
}

// The stream's entry (file, or (file, Template)), or MP_OBJ_NULL.
static mp_obj_t stream_entry(uint32_t stream) {
    mp_obj_t streams = MP_STATE_VM(pythongoose_streams);
    if (streams == MP_OBJ_NULL) {
        return MP_OBJ_NULL;
    }
    mp_map_elem_t *elem = mp_map_lookup(mp_obj_dict_get_map(streams), MP_OBJ_NEW_SMALL_INT(stream), MP_MAP_LOOKUP);
    return elem == NULL ? MP_OBJ_NULL : elem->value;
}

static mp_obj_t stream_file(uint32_t stream) {
    mp_obj_t entry = stream_entry(stream);
    if (entry != MP_OBJ_NULL && mp_obj_is_type(entry, &mp_type_tuple)) {
        size_t n;
        mp_obj_t *items;
        mp_obj_tuple_get(entry, &n, &items);
        return items[0];
    }
    return entry;
}

int32_t pg_shim_file_stat(const uint8_t *path, uintptr_t path_len, PgFileStat *out) {
    out->kind = PG_FILE_KIND_MISSING;
    out->size = 0;
    out->mtime = 0;
    if (MP_STATE_VM(pythongoose_pending_exception) != MP_OBJ_NULL) {
        return PG_CALL_OUTCOME_DEFERRED;
    }
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t result = mp_vfs_stat(mp_obj_new_str((const char *)path, path_len));
        size_t n;
        mp_obj_t *items;
        mp_obj_tuple_get(result, &n, &items);
        if (n >= 9) {
            mp_int_t mode = mp_obj_get_int(items[0]);
            out->kind = (mode & MP_S_IFDIR) ? PG_FILE_KIND_DIRECTORY : PG_FILE_KIND_FILE;
            out->size = (uint64_t)mp_obj_get_int_truncated(items[6]);
            out->mtime = (uint64_t)mp_obj_get_int_truncated(items[8]);
        }
        nlr_pop();
        return PG_CALL_OUTCOME_OK;
    }
    mp_obj_t exception = MP_OBJ_FROM_PTR(nlr.ret_val);
    if (mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(mp_obj_get_type(exception)), MP_OBJ_FROM_PTR(&mp_type_OSError))) {
        return PG_CALL_OUTCOME_OK; // missing (or unreadable): a 404, nothing to print
    }
    return pythongoose_outcome_of_exception(exception);
}

int32_t pg_shim_stream_open(uint32_t stream, const uint8_t *path, uintptr_t path_len, bool with_reply) {
    if (MP_STATE_VM(pythongoose_pending_exception) != MP_OBJ_NULL) {
        return PG_CALL_OUTCOME_DEFERRED;
    }
    mp_obj_t reply = MP_STATE_VM(pythongoose_pending_stream);
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t open_args[2] = { mp_obj_new_str((const char *)path, path_len), MP_OBJ_NEW_QSTR(MP_QSTR_rb) };
        mp_obj_t file = mp_vfs_open(2, open_args, (mp_map_t *)&mp_const_empty_map);
        mp_obj_t entry = file;
        if (with_reply && reply != MP_OBJ_NULL) {
            mp_obj_t pair[2] = { file, reply };
            entry = mp_obj_new_tuple(2, pair); // the file is reachable from `nlr`'s frame until stored
        }
        mp_obj_dict_store(streams_dict(), MP_OBJ_NEW_SMALL_INT(stream), entry);
        nlr_pop();
        MP_STATE_VM(pythongoose_pending_stream) = MP_OBJ_NULL;
        return PG_CALL_OUTCOME_OK;
    }
    MP_STATE_VM(pythongoose_pending_stream) = MP_OBJ_NULL;
    return pythongoose_outcome_of_exception(MP_OBJ_FROM_PTR(nlr.ret_val));
}

// Reads through the stream protocol when the file has it (every VFS file does), else through its
// readinto() method (a file of a VFS written in Python).
intptr_t pg_shim_stream_read(uint32_t stream, uint8_t *buf, uintptr_t len) {
    mp_obj_t file = stream_file(stream);
    if (file == MP_OBJ_NULL) {
        return -1;
    }
    const mp_obj_type_t *type = mp_obj_get_type(file);
    const mp_stream_p_t *protocol = MP_OBJ_TYPE_GET_SLOT_OR_NULL(type, protocol);
    if (protocol != NULL && protocol->read != NULL && !protocol->is_text) {
        int error = 0;
        mp_uint_t got = protocol->read(file, buf, len, &error);
        return got == MP_STREAM_ERROR ? -1 : (intptr_t)got;
    }
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t into = mp_obj_new_bytearray_by_ref(len, buf);
        mp_obj_t got = mp_call_function_1(mp_load_attr(file, MP_QSTR_readinto), into);
        nlr_pop();
        mp_int_t count = got == mp_const_none ? 0 : mp_obj_get_int(got);
        return count < 0 || (uintptr_t)count > len ? -1 : (intptr_t)count;
    }
    pythongoose_outcome_of_exception(MP_OBJ_FROM_PTR(nlr.ret_val));
    return -1;
}

int32_t pg_shim_stream_seek(uint32_t stream, uint64_t offset) {
    mp_obj_t file = stream_file(stream);
    if (file == MP_OBJ_NULL) {
        return PG_CALL_OUTCOME_FAILED;
    }
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_call_function_1(mp_load_attr(file, MP_QSTR_seek), mp_obj_new_int_from_ull(offset));
        nlr_pop();
        return PG_CALL_OUTCOME_OK;
    }
    return pythongoose_outcome_of_exception(MP_OBJ_FROM_PTR(nlr.ret_val));
}

void pg_shim_stream_close(uint32_t stream) {
    mp_obj_t file = stream_file(stream);
    if (file == MP_OBJ_NULL) {
        return;
    }
    // Forgotten first: nothing is read after a raise (nlr_push does not restore every register).
    mp_obj_dict_delete(streams_dict(), MP_OBJ_NEW_SMALL_INT(stream));
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_call_function_0(mp_load_attr(file, MP_QSTR_close));
        nlr_pop();
    } else {
        pythongoose_outcome_of_exception(MP_OBJ_FROM_PTR(nlr.ret_val));
    }
}

int32_t pg_shim_template_value(uint32_t stream, const uint8_t *name, uintptr_t name_len, PgBytes *out) {
    *out = pythongoose_bytes_of("", 0);
    mp_obj_t entry = stream_entry(stream);
    if (entry == MP_OBJ_NULL || !mp_obj_is_type(entry, &mp_type_tuple)) {
        return PG_CALL_OUTCOME_FAILED;
    }
    size_t n;
    mp_obj_t *items;
    mp_obj_tuple_get(entry, &n, &items);
    // Read again after a raise: kept in memory, not in registers nlr_push does not restore.
    template_reply_obj_t *volatile template = MP_OBJ_TO_PTR(items[1]);
    const uint8_t *volatile asked = name;
    volatile uintptr_t asked_len = name_len;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t key = mp_obj_new_str((const char *)name, name_len);
        mp_obj_t value = mp_obj_subscr(template->values, key, MP_OBJ_SENTINEL);
        mp_obj_t text = mp_obj_is_str(value) ? value : mp_call_function_1(MP_OBJ_FROM_PTR(&mp_type_str), value);
        // Rooted until the next value or the next handler call: Rust copies it at once.
        MP_STATE_VM(pythongoose_reply_objects)[1] = text;
        size_t len;
        const char *data = mp_obj_str_get_data(text, &len);
        *out = pythongoose_bytes_of(data, len);
        nlr_pop();
        return PG_CALL_OUTCOME_OK;
    }
    mp_obj_t exception = MP_OBJ_FROM_PTR(nlr.ret_val);
    if (mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(mp_obj_get_type(exception)), MP_OBJ_FROM_PTR(&mp_type_KeyError))) {
        size_t path_len;
        const char *path = mp_obj_str_get_data(template->path, &path_len);
        // mp_printf's %.*s runs strlen over its argument: the name is not NUL-terminated.
        mp_print_str(&mp_plat_print, "mongoose: template ");
        mp_print_strn(&mp_plat_print, path, path_len, 0, ' ', 0);
        mp_print_str(&mp_plat_print, ": no value for {{");
        mp_print_strn(&mp_plat_print, (const char *)asked, asked_len, 0, ' ', 0);
        mp_print_str(&mp_plat_print, "}}\n");
        return PG_CALL_OUTCOME_FAILED;
    }
    return pythongoose_outcome_of_exception(exception);
}

#endif // PYTHONGOOSE_WEB
