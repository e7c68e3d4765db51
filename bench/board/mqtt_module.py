# Board benchmark (bench/board.py), this module's MQTT side, on the emulated board: the RAM one more
# connected client holds, then QoS 0 round trips (publish to a topic the client subscribes to; each
# message received publishes the next): WARMUP, then MEASURED counted in instructions (GC on), then
# MEASURED with the GC off for the heap each received message leaves. MQTT_URL is set by qemu-run.
import gc

import board
import mongoose

WARMUP = 20
MEASURED = 200
TOPIC = "bench/board/m"
PAYLOAD = b"x" * 64
received = 0
marks = {}


def ram():
    gc.collect()
    return mongoose.memory()["used"], gc.mem_alloc()


def on_publish(topic, msg):
    global received
    received += 1
    if received == WARMUP:
        marks["cpu"] = board.instructions()
    elif received == WARMUP + MEASURED:
        marks["cpu"] = board.instructions() - marks["cpu"]
        gc.collect()
        gc.disable()
        marks["heap"] = (gc.mem_alloc(), mongoose.memory()["used"])
    elif received == WARMUP + 2 * MEASURED:
        gc_before, c_before = marks["heap"]
        marks["heap"] = (gc.mem_alloc() - gc_before, mongoose.memory()["used"] - c_before)
        gc.enable()
        return
    client.pub(TOPIC, PAYLOAD)


# A first client makes the event loop and the network interface exist before the baseline: the
# figure is what one more connected client holds.
first = mongoose.MQTTclient()
first.connect(MQTT_URL, client_id="board-bench-first", wait_ms=10000)
# Both figures are taken with every client quiet for 1.5 s: a client quiet for 1 s gives its empty
# buffers back, so this is what an idle connected client holds.
for _ in range(150):
    mongoose.poll(10)
c_before, gc_before = ram()
client = mongoose.MQTTclient(on_publish=on_publish)
client.connect(MQTT_URL, client_id="board-bench", wait_ms=10000)
client.sub(TOPIC, 0)
for _ in range(150):  # the SUBACK, then quiet
    mongoose.poll(10)
c_after, gc_after = ram()
print("FIGURE mqtt_client_c_heap %d" % (c_after - c_before))
print("FIGURE mqtt_client_gc_heap %d" % (gc_after - gc_before))
client.pub(TOPIC, PAYLOAD)
for _ in range(6000):  # bounded: 60 s of polls at most
    if received >= WARMUP + 2 * MEASURED:
        break
    mongoose.poll(10)
gc_bytes, c_bytes = marks["heap"]
print("FIGURE mqtt_round_trip_instructions %d" % (marks["cpu"] // MEASURED))
print("FIGURE mqtt_gc_bytes_per_message %d" % (gc_bytes // MEASURED))
print("FIGURE mqtt_c_heap_bytes_per_message %d" % (c_bytes // MEASURED))
client.disconnect()
first.disconnect()
print("DONE")
