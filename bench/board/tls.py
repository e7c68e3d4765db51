# Board benchmark (bench/board.py), TLS on the emulated board. bench/board.py fills in the PEM
# texts (CERT, KEY, CA: the throwaway PKI of tests/support/pki.py) before the board runs it.
# HTTPS: the host asks GET /m/<tag> over a verified TLS keep-alive connection and the board prints
# "MEM tag c_heap gc_heap peak instructions" (after a collection) from that request's handler:
# "base", then "idle" once the host holds IDLE more TLS keep-alive connections, each idle past the
# module's buffer release (1 s), "hs" after HANDSHAKES new connections of one GET each, "ka" after
# KEEPALIVE GETs on the measuring connection. Then MQTT over TLS (MQTT_URL, set by qemu-run): the
# C and GC heap one more connected client holds, and the instructions its connect() took.
import gc

import board
import mongoose

CERT = """@CERT@"""
KEY = """@KEY@"""
CA = """@CA@"""
state = {"done": False}


def figures():
    gc.collect()
    memory = mongoose.memory()
    return memory["used"], gc.mem_alloc(), memory["peak"], board.instructions()


def measure(request):
    tag = request.path.rsplit("/", 1)[-1]
    print("MEM %s %d %d %d %d" % ((tag,) + figures()))
    state["done"] = tag == "done"
    return "ok"


mongoose.init(lambda data: "hello", lambda user, pwd: user == "admin" and pwd == "istrator",
              url="https://0.0.0.0:8000", cert=CERT, key=KEY)
mongoose.route("/m/*", measure, auth=False)
print("READY")
for _ in range(12000):  # bounded: 120 s of polls at most
    mongoose.poll(10)
    if state["done"]:
        break
# Quiet for 1.5 s first: the HTTPS connections' buffer releases happen before the measurement.
for _ in range(150):
    mongoose.poll(10)

c0, g0, _, i0 = figures()
client = mongoose.MQTTclient()
client.connect(MQTT_URL, client_id="board-tls-bench", ca=CA, server_name="localhost", wait_ms=20000)
i1 = board.instructions()
c1, g1, _, _ = figures()
print("FIGURE mqtt_tls_client_c_heap %d" % (c1 - c0))
print("FIGURE mqtt_tls_client_gc_heap %d" % (g1 - g0))
print("FIGURE mqtt_tls_connect_instructions %d" % (i1 - i0))
client.disconnect()
mongoose.poll(20)
print("DONE")
