# MicroPython's own TLS (the `tls` module on mbedTLS) holding MQTT connections, for bench/tls_ram.py.
#   micropython mbedtls_client.py PORT CA_FILE COUNT CONTEXTS
# Opens COUNT TLS connections to 127.0.0.1:PORT (the CA from CA_FILE, server_hostname "localhost",
# certificate required), sends MQTT CONNECT on each and reads its CONNACK. CONTEXTS is "each" (one
# SSLContext per connection, the CA parsed for each, as a client that connects once does) or
# "shared" (one SSLContext for all). Prints "MARK before" / "MARK after" lines with the GC heap in
# use (after gc.collect()) and waits for a line on stdin after each, so the host can read the C heap
# (SIGUSR1 to the LD_PRELOAD counter) while nothing runs. `ssl` itself is a micropython-lib module
# that Debian's source leaves out; `tls` is the C module under it (same SSLContext, except that
# load_verify_locations takes cadata positionally).
import gc
import socket
import sys
import time

import tls

port = int(sys.argv[1])
with open(sys.argv[2]) as f:
    ca = f.read().encode()
count = int(sys.argv[3])
shared = sys.argv[4] == "shared"
address = socket.getaddrinfo("127.0.0.1", port)[0][-1]


def mark(name):
    gc.collect()
    used = gc.mem_alloc()
    print("MARK", name, used)
    sys.stdin.readline()


def mqtt_connect_packet(client_id):
    # MQTT 3.1.1 CONNECT: protocol "MQTT" level 4, clean session, keepalive 60 s.
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(client_id).to_bytes(2, "big") + client_id
    return bytes([0x10, len(body)]) + body


def context():
    ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = tls.CERT_REQUIRED
    ctx.load_verify_locations(ca)
    return ctx


def open_one(index, ctx):
    start = time.ticks_us()
    raw = socket.socket()
    raw.connect(address)
    conn = ctx.wrap_socket(raw, server_hostname="localhost")
    conn.write(mqtt_connect_packet(b"mbedtls-bench-%d" % index))
    connack = b""
    for _ in range(16):
        chunk = conn.read(4 - len(connack))
        if not chunk:
            break
        connack += chunk
        if len(connack) == 4:
            break
    if connack != b"\x20\x02\x00\x00":
        raise OSError("no CONNACK: %r" % connack)
    print("CONNECT_US", time.ticks_diff(time.ticks_us(), start))
    print("CIPHER", *conn.cipher())
    return raw, conn


print("VERSION", tls.MBEDTLS_VERSION)
mark("before")
shared_ctx = context() if shared else None
connections = [open_one(i, shared_ctx or context()) for i in range(count)]
mark("after")
for raw, conn in connections:
    conn.close()
print("DONE")
