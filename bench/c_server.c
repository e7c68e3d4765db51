// The benchmark's limit case: the same endpoint and Basic auth check as the module's, served by
// plain C on the same Mongoose (no Python): c_endpoint.h.
//   c_server http://127.0.0.1:PORT
#include <stdio.h>

#include "c_endpoint.h"
#include "mongoose.h"

static void on_event(struct mg_connection *c, int ev, void *ev_data) {
    if (ev == MG_EV_HTTP_MSG) {
        c_endpoint_reply(c, (struct mg_http_message *) ev_data);
    }
}

int main(int argc, char **argv) {
    struct mg_mgr mgr;
    const char *url = argc > 1 ? argv[1] : "http://127.0.0.1:8000";
    mg_mgr_init(&mgr);
    if (mg_http_listen(&mgr, url, on_event, NULL) == NULL) {
        fprintf(stderr, "cannot listen on %s\n", url);
        return 1;
    }
    printf("listening on %s\n", url);
    fflush(stdout);
    for (;;) mg_mgr_poll(&mgr, 1000);
    return 0;
}
