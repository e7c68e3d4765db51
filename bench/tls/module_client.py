# The mongoose module's MQTT client holding connections, for bench/tls_ram.py; the same protocol
# as mbedtls_client.py:
#   micropython module_client.py PORT CA_FILE COUNT [plain] [idle]
# Opens COUNT clients to mqtts://127.0.0.1:PORT with the CA from CA_FILE (or, with "plain", to
# mqtt:// without TLS: the reference for what TLS adds), each connect() waiting for its CONNACK.
# With "idle", a third mark "idle" follows 1.5 s of quiet polls (past the module's release of a
# quiet connection's empty buffers, after 1 s).
# Prints "MARK before" / "MARK after" with the GC heap in use (after gc.collect()) and "USED n",
# mongoose.memory()["used"], and waits for a line on stdin after each mark. When connect() does
# not take ca= (a module without TLS), prints "SKIP <reason>" and exits 0.
import gc
import sys
import time

import mongoose

port = int(sys.argv[1])
with open(sys.argv[2]) as f:
    ca = f.read()
count = int(sys.argv[3])
plain = "plain" in sys.argv[4:]
idle = "idle" in sys.argv[4:]
url = "%s://127.0.0.1:%d" % ("mqtt" if plain else "mqtts", port)


def mark(name):
    used = mongoose.memory()["used"]
    gc.collect()
    heap = gc.mem_alloc()
    print("USED", used)
    print("MARK", name, heap)
    sys.stdin.readline()


def on_connect():
    pass


def open_one(index):
    client = mongoose.MQTTclient(on_connect=on_connect)
    start = time.ticks_us()
    options = {} if plain else {"ca": ca}
    try:
        client.connect(url, client_id="module-bench-%d" % index, wait_ms=5000, **options)
    except (TypeError, ValueError) as e:
        # TypeError: no ca= keyword; ValueError: mqtts:// refused (a module without TLS).
        print("SKIP mongoose.MQTTclient.connect(%s, ca=...) raised %s: %s" % (url, type(e).__name__, e))
        sys.exit(0)
    print("CONNECT_US", time.ticks_diff(time.ticks_us(), start))
    return client


mark("before")
clients = [open_one(i) for i in range(count)]
mark("after")
if idle:
    for _ in range(150):
        mongoose.poll(10)
    mark("idle")
for client in clients:
    client.disconnect()
mongoose.poll(50)
print("DONE")
