// The emulated board benchmark's limit (bench/board.py): what plain C on the same Mongoose, in the
// same firmware, spends per HTTP request and per MQTT round trip. Implemented in c_limit.c.
#pragma once

#include <stdint.h>

enum pg_limit_kind {
    // GET /api/* with Basic auth admin:istrator on port 8000 (bench/c_server.c's endpoint).
    PG_LIMIT_HTTP_SERVER,
    // QoS 0 publish to a topic the client subscribes to, through the broker at 10.0.2.100:1883;
    // each message received publishes the next.
    PG_LIMIT_MQTT_ROUND_TRIP,
};

enum pg_limit_result {
    PG_LIMIT_DONE,
    PG_LIMIT_INTERRUPTED, // Ctrl-C: a KeyboardInterrupt is pending
    PG_LIMIT_TIMED_OUT,   // 120 s of board time without finishing
    PG_LIMIT_NO_NETWORK,
};

// Serves (or exchanges) `warmup` events, then `count` more, on a Mongoose manager of its own, and
// stores the instructions executed per event over the `count` (pg_board_busy_instructions). Frees
// everything it made before returning.
enum pg_limit_result pg_limit_run(enum pg_limit_kind kind, uint32_t warmup, uint32_t count,
    uint64_t *per_event_out);
