// The benchmark's limit case: the same endpoint and Basic auth check as the module's, served by
// plain C on the same Mongoose (no Python). GET /api/epname returns a short text; POST returns
// the body length.
//   c_server http://127.0.0.1:PORT
#include <stdio.h>
#include <string.h>

#include "mongoose.h"

static void on_event(struct mg_connection *c, int ev, void *ev_data) {
    if (ev != MG_EV_HTTP_MSG) return;
    struct mg_http_message *hm = (struct mg_http_message *) ev_data;
    if (!mg_match(hm->uri, mg_str("/api/*"), NULL)) {
        mg_http_reply(c, 404, "", "Not Found");
        return;
    }
    char user[64] = "", pass[64] = "";
    mg_http_creds(hm, user, sizeof(user), pass, sizeof(pass));
    if (strcmp(user, "admin") != 0 || strcmp(pass, "istrator") != 0) {
        mg_http_reply(c, 401, "WWW-Authenticate: Basic realm=\"c\"\r\n", "Auth required");
        return;
    }
    if (hm->body.len > 0) {
        mg_http_reply(c, 200, "Content-Type: text/plain\r\n", "%lu", (unsigned long) hm->body.len);
    } else {
        mg_http_reply(c, 200, "Content-Type: text/plain\r\n", "hello");
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
