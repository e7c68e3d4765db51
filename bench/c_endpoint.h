// The benchmark endpoint in plain C, shared by the unix C-only server (bench/c_server.c) and the
// emulated board's limit server (boards/qemu-virt-rv32/c_limit.c): the same route and Basic auth
// check as the module's benchmark servers. GET /api/* returns "hello", a request with a body
// returns the body's length; other paths 404, wrong credentials 401.
#pragma once

#include <stdbool.h>
#include <string.h>

#include "mongoose.h"

// Replies to `hm` on `c`; true when the reply was the endpoint's 200.
static inline bool c_endpoint_reply(struct mg_connection *c, struct mg_http_message *hm) {
    if (!mg_match(hm->uri, mg_str("/api/*"), NULL)) {
        mg_http_reply(c, 404, "", "Not Found");
        return false;
    }
    char user[64] = "", pass[64] = "";
    mg_http_creds(hm, user, sizeof(user), pass, sizeof(pass));
    if (strcmp(user, "admin") != 0 || strcmp(pass, "istrator") != 0) {
        mg_http_reply(c, 401, "WWW-Authenticate: Basic realm=\"c\"\r\n", "Auth required");
        return false;
    }
    if (hm->body.len > 0) {
        mg_http_reply(c, 200, "Content-Type: text/plain\r\n", "%lu", (unsigned long)hm->body.len);
    } else {
        mg_http_reply(c, 200, "Content-Type: text/plain\r\n", "hello");
    }
    return true;
}
