# MQTT benchmark client (a): this module's MQTTclient, one client, driven by mongoose.poll().
#   micropython mqtt_module.py m1 URL COUNT QOS   subscribe bench/t at QOS, publish COUNT x 64 B
#                                                 to it at QOS, poll(0) after each publish
#   micropython mqtt_module.py m2 URL COUNT       COUNT QoS 1 publishes to a topic nobody reads,
#                                                 until every PUBACK is in
#   micropython mqtt_module.py heap URL COUNT     subscribe bench/t (QoS 0), print "ready", then
#                                                 heap bytes per received message (gc disabled)
# Prints "result key=value ..."; times are microseconds from the first publish to the last
# receive (m1) or the last acknowledgement (m2). Every wait is bounded. An mqtts:// URL needs
# BENCH_MQTT_CA in the environment: the CA file (PEM) the broker's certificate is verified with.
import gc
import os
import sys
import time

import mongoose

mode, url, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
qos = int(sys.argv[4]) if len(sys.argv) > 4 else (1 if mode == "m2" else 0)
TOPIC = "bench/t"
NOSUB_TOPIC = "bench/nosub"
PAYLOAD = b"x" * 64
IDLE_MS = 2000          # give up when nothing arrives for this long after the last publish
LIMIT_MS = 300000       # and in any case after this long
WARMUP = 100            # heap mode: messages before the measurement starts

received = 0
last_rx_us = 0
delivered = 0
queue_full = 0
failures = []
sub_pid = None
sub_done = False
heap_before = 0
heap_after = None


def on_publish(topic, msg):
    global received, last_rx_us, heap_before, heap_after
    received += 1
    last_rx_us = time.ticks_us()
    if mode == "heap":
        if received == WARMUP:
            heap_before = gc.mem_alloc()
        elif received == WARMUP + count:
            heap_after = gc.mem_alloc()


def on_status(pid, status):
    global delivered, queue_full, sub_done, sub_pid, last_rx_us
    if pid is None:
        queue_full += 1
    elif pid == sub_pid:     # once: publishes reuse the id after the 16-bit ids wrap
        sub_pid = None
        sub_done = status == "delivered"
        if not sub_done:
            failures.append("subscribe: " + status)
    elif status == "delivered":
        delivered += 1
        last_rx_us = time.ticks_us()
    else:
        failures.append("%d: %s" % (pid, status))


def wait_until(predicate, ms):
    start = time.ticks_ms()
    while not predicate():
        if time.ticks_diff(time.ticks_ms(), start) > ms:
            raise OSError("timed out waiting (%s)" % mode)
        mongoose.poll(10)


def on_disconnect(reason):
    if not closing:
        failures.append("disconnected: " + reason)


closing = False
client = mongoose.MQTTclient(on_publish=on_publish, on_status=on_status, on_disconnect=on_disconnect)
tls = {}
if url.startswith("mqtts://"):
    with open(os.getenv("BENCH_MQTT_CA")) as f:
        tls["ca"] = f.read()
client.connect(url, client_id="pg-%s-%d" % (mode, time.ticks_us() & 0xFFFFFF),
               keepalive=60, clean_session=True, **tls)
wait_until(client.is_connected, 5000)
if mode in ("m1", "heap"):
    sub_pid = client.sub(TOPIC, qos)
    wait_until(lambda: sub_done, 5000)
if mode == "heap":
    gc.collect()
    gc.disable()
    print("ready")
    start = time.ticks_ms()
    while heap_after is None and time.ticks_diff(time.ticks_ms(), start) < 60000:
        mongoose.poll(100)
    if heap_after is None:
        print("result heap_timeout=1 received=%d" % received)
    else:
        print("result heap_per_message=%.1f" % ((heap_after - heap_before) / count))
    sys.exit(0)

topic = TOPIC if mode == "m1" else NOSUB_TOPIC
start_us = time.ticks_us()
start_ms = time.ticks_ms()
sent = 0
while sent < count and time.ticks_diff(time.ticks_ms(), start_ms) < LIMIT_MS:
    try:
        client.pub(topic, PAYLOAD, qos)
    except OSError:          # inflight window and queue full: let the client work, retry
        mongoose.poll(1)
        continue
    sent += 1
    mongoose.poll(0)
pub_done_us = time.ticks_us()

# Drain: until everything is back, or nothing arrived for IDLE_MS.
last_rx_us = time.ticks_us() if last_rx_us == 0 else last_rx_us
while time.ticks_diff(time.ticks_ms(), start_ms) < LIMIT_MS:
    if mode == "m1" and received >= sent and client.pending() == 0:
        break
    if mode == "m2" and client.pending() == 0 and delivered >= sent:
        break
    if time.ticks_diff(time.ticks_us(), last_rx_us) > IDLE_MS * 1000 and \
            time.ticks_diff(time.ticks_us(), pub_done_us) > IDLE_MS * 1000:
        break
    mongoose.poll(1)

print("result sent=%d received=%d delivered=%d pending=%d queue_full=%d failures=%d us=%d pub_us=%d" % (
    sent, received, delivered, client.pending(), queue_full, len(failures),
    time.ticks_diff(last_rx_us, start_us), time.ticks_diff(pub_done_us, start_us)))
for f in failures[:5]:
    print("failure", f)
closing = True
client.disconnect()
