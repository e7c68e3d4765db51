// The limit servers of c_limit.h: the module's benchmark endpoints written in plain C against the
// same Mongoose build the module uses (the HTTP one is bench/c_endpoint.h, as on unix), so the ratio between the two is the cost of Python and of the
// module itself.
#include <string.h>

#include "mongoose.h"
#include "py/mpstate.h"

#include "board.h"
#include "c_endpoint.h"
#include "c_limit.h"

#define LIMIT_TOPIC "bench/board/c"
#define LIMIT_PAYLOAD_SIZE 64
#define LIMIT_TIMEOUT_MS 120000u

struct limit_run {
    uint32_t warmup;
    uint32_t total;
    uint32_t events;
    uint64_t start;
    uint64_t end;
    bool network_gone;
};

// Counts one event; the measurement starts after the warm-up and ends with the last one.
static void count_event(struct limit_run *run) {
    run->events++;
    if (run->events == run->warmup) {
        run->start = pg_board_busy_instructions();
    } else if (run->events == run->total) {
        run->end = pg_board_busy_instructions();
    }
}

static void on_http(struct mg_connection *c, int ev, void *ev_data) {
    if (ev == MG_EV_HTTP_MSG && c_endpoint_reply(c, (struct mg_http_message *)ev_data)) {
        count_event((struct limit_run *)c->fn_data);
    }
}

static void publish_next(struct mg_connection *c) {
    static const char payload[LIMIT_PAYLOAD_SIZE] = { 'x' };
    struct mg_mqtt_opts opts;
    memset(&opts, 0, sizeof(opts));
    opts.topic = mg_str(LIMIT_TOPIC);
    opts.message = mg_str_n(payload, sizeof(payload));
    mg_mqtt_pub(c, &opts);
}

static void on_mqtt(struct mg_connection *c, int ev, void *ev_data) {
    struct limit_run *run = (struct limit_run *)c->fn_data;
    if (ev == MG_EV_MQTT_OPEN) {
        struct mg_mqtt_opts opts;
        memset(&opts, 0, sizeof(opts));
        opts.topic = mg_str(LIMIT_TOPIC);
        mg_mqtt_sub(c, &opts);
    } else if (ev == MG_EV_MQTT_CMD) {
        struct mg_mqtt_message *mm = (struct mg_mqtt_message *)ev_data;
        if (mm->cmd == MQTT_CMD_SUBACK) {
            publish_next(c);
        }
    } else if (ev == MG_EV_MQTT_MSG) {
        count_event(run);
        if (run->events < run->total) {
            publish_next(c);
        }
    } else if (ev == MG_EV_CLOSE || ev == MG_EV_ERROR) {
        run->network_gone = true;
    }
}

enum pg_limit_result pg_limit_run(enum pg_limit_kind kind, uint32_t warmup, uint32_t count,
    uint64_t *per_event_out) {
    struct limit_run run = { .warmup = warmup, .total = warmup + count };
    struct mg_mgr mgr;
    mg_mgr_init(&mgr);
    pg_board_net_attach(&mgr);
    struct mg_connection *c;
    if (kind == PG_LIMIT_HTTP_SERVER) {
        c = mg_http_listen(&mgr, "http://0.0.0.0:8000", on_http, &run);
    } else {
        struct mg_mqtt_opts opts;
        memset(&opts, 0, sizeof(opts));
        opts.client_id = mg_str("board-c-limit");
        opts.clean = true;
        opts.keepalive = 60;
        c = mg_mqtt_connect(&mgr, "mqtt://10.0.2.100:1883", &opts, on_mqtt, &run);
    }
    enum pg_limit_result result = PG_LIMIT_TIMED_OUT;
    uint64_t give_up = mg_millis() + LIMIT_TIMEOUT_MS;
    if (c == NULL || mgr.ifp == NULL) {
        result = PG_LIMIT_NO_NETWORK;
    } else {
        while (mg_millis() < give_up) {
            mg_mgr_poll(&mgr, 0);
            if (run.events >= run.total) {
                result = PG_LIMIT_DONE;
                break;
            }
            if (run.network_gone) {
                result = PG_LIMIT_NO_NETWORK;
                break;
            }
            if (MP_STATE_THREAD(mp_pending_exception) != MP_OBJ_NULL) {
                result = PG_LIMIT_INTERRUPTED;
                break;
            }
            pg_board_wait_ms(5);
        }
    }
    // Draining connections send what is queued, then a FIN, on the next poll: the peer (the
    // host's HTTP client, the broker) sees the end instead of waiting for its own timeout.
    for (struct mg_connection *each = mgr.conns; each != NULL; each = each->next) {
        each->is_draining = 1;
    }
    for (int i = 0; i < 10; i++) {
        mg_mgr_poll(&mgr, 0);
        pg_board_wait_ms(1);
    }
    mg_mgr_free(&mgr);
    if (result == PG_LIMIT_DONE) {
        *per_event_out = (run.end - run.start) / count;
    }
    return result;
}
