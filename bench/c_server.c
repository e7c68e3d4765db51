// The benchmark's limit case: the same endpoint and Basic auth check as the module's, served by
// plain C on the same Mongoose (no Python): c_endpoint.h.
//   c_server http://127.0.0.1:PORT [WEB_ROOT]
//   c_server https://127.0.0.1:PORT CERT.pem KEY.pem   (built-in TLS, bench/tls.py)
#include <stdio.h>
#include <stdlib.h>

#include "c_endpoint.h"
#include "mongoose.h"

// With a second argument: GET /static/... serves files under that folder (mg_http_serve_dir: the
// folder holds static/...), and /ws is a WebSocket echo, the limit for bench/web.py.
static const char *web_root;

// For an https:// URL: the certificate chain and key (PEM), given to every accepted connection.
static struct mg_tls_opts tls_opts;
static int use_tls;

static void on_event(struct mg_connection *c, int ev, void *ev_data) {
    if (ev == MG_EV_ACCEPT && use_tls) {
        mg_tls_init(c, &tls_opts);
    } else if (ev == MG_EV_HTTP_MSG) {
        struct mg_http_message *hm = (struct mg_http_message *) ev_data;
        if (web_root != NULL && mg_match(hm->uri, mg_str("/static/#"), NULL)) {
            struct mg_http_serve_opts opts = { .root_dir = web_root, .extra_headers = "Cache-Control: max-age=3600\r\n" };
            mg_http_serve_dir(c, hm, &opts);
        } else if (web_root != NULL && mg_match(hm->uri, mg_str("/ws"), NULL)) {
            mg_ws_upgrade(c, hm, NULL);
        } else {
            c_endpoint_reply(c, hm);
        }
    } else if (ev == MG_EV_WS_MSG) {
        struct mg_ws_message *wm = (struct mg_ws_message *) ev_data;
        mg_ws_send(c, wm->data.buf, wm->data.len, wm->flags & 15);
    }
}

int main(int argc, char **argv) {
    struct mg_mgr mgr;
    const char *url = argc > 1 ? argv[1] : "http://127.0.0.1:8000";
    use_tls = strncmp(url, "https://", 8) == 0;
    if (use_tls) {
        if (argc < 4) {
            fprintf(stderr, "usage: c_server https://HOST:PORT CERT.pem KEY.pem\n");
            return 1;
        }
        tls_opts.cert = mg_file_read(&mg_fs_posix, argv[2]);
        tls_opts.key = mg_file_read(&mg_fs_posix, argv[3]);
        if (tls_opts.cert.buf == NULL || tls_opts.key.buf == NULL) {
            fprintf(stderr, "cannot read %s or %s\n", argv[2], argv[3]);
            return 1;
        }
    } else {
        web_root = argc > 2 ? argv[2] : NULL;
    }
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
