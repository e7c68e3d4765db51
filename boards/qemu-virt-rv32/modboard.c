// A `board` module for the emulated board's benchmark (bench/board.py):
//   board.instructions()                 instructions executed so far, waits left out (board.h)
//   board.c_http_server(warmup, count)   the limit: plain C on the same Mongoose (c_limit.c) serves
//                                        GET /api/* with Basic auth on port 8000 and returns the
//                                        instructions per request over `count` requests
//   board.c_mqtt_round_trips(warmup, count)  the limit for a QoS 0 round trip through the broker
// Neither server may run while `mongoose` is initialised: both own the network card meanwhile.
#include "py/runtime.h"

#include "board.h"
#include "c_limit.h"

static mp_obj_t board_instructions(void) {
    return mp_obj_new_int_from_ull(pg_board_busy_instructions());
}
static MP_DEFINE_CONST_FUN_OBJ_0(board_instructions_obj, board_instructions);

// Runs a C-only measurement, then raises what stopped it early (Ctrl-C, timeout, no network).
static mp_obj_t run_limit(enum pg_limit_kind kind, mp_obj_t warmup_in, mp_obj_t count_in) {
    mp_int_t warmup = mp_obj_get_int(warmup_in);
    mp_int_t count = mp_obj_get_int(count_in);
    if (warmup < 1 || count < 1) {
        mp_raise_ValueError(MP_ERROR_TEXT("warmup and count must be at least 1"));
    }
    uint64_t per_event = 0;
    enum pg_limit_result result = pg_limit_run(kind, (uint32_t)warmup, (uint32_t)count, &per_event);
    switch (result) {
        case PG_LIMIT_DONE:
            return mp_obj_new_int_from_ull(per_event);
        case PG_LIMIT_INTERRUPTED:
            mp_handle_pending(true); // raises the pending KeyboardInterrupt
            break;
        case PG_LIMIT_NO_NETWORK:
            mp_raise_msg(&mp_type_OSError, MP_ERROR_TEXT("board: no network card, or it is in use"));
        case PG_LIMIT_TIMED_OUT:
            break;
    }
    mp_raise_msg(&mp_type_OSError, MP_ERROR_TEXT("board: the C-only run timed out"));
}

static mp_obj_t board_c_http_server(mp_obj_t warmup_in, mp_obj_t count_in) {
    return run_limit(PG_LIMIT_HTTP_SERVER, warmup_in, count_in);
}
static MP_DEFINE_CONST_FUN_OBJ_2(board_c_http_server_obj, board_c_http_server);

static mp_obj_t board_c_mqtt_round_trips(mp_obj_t warmup_in, mp_obj_t count_in) {
    return run_limit(PG_LIMIT_MQTT_ROUND_TRIP, warmup_in, count_in);
}
static MP_DEFINE_CONST_FUN_OBJ_2(board_c_mqtt_round_trips_obj, board_c_mqtt_round_trips);

static const mp_rom_map_elem_t board_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_board) },
    { MP_ROM_QSTR(MP_QSTR_instructions), MP_ROM_PTR(&board_instructions_obj) },
    { MP_ROM_QSTR(MP_QSTR_c_http_server), MP_ROM_PTR(&board_c_http_server_obj) },
    { MP_ROM_QSTR(MP_QSTR_c_mqtt_round_trips), MP_ROM_PTR(&board_c_mqtt_round_trips_obj) },
};
static MP_DEFINE_CONST_DICT(board_module_globals, board_module_globals_table);

const mp_obj_module_t pythongoose_board_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&board_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR_board, pythongoose_board_module);
