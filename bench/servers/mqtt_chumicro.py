# MQTT benchmark client (b): chumicro-mqtt (pure Python, from PyPI, fetched by bench/mqtt.py),
# driven by its own non-blocking handle() loop on the same interpreter.
#   micropython mqtt_chumicro.py m1 HOST PORT COUNT QOS   subscribe bench/t at QOS, publish COUNT
#                                                         x 64 B to it at QOS, handle() after each
#   micropython mqtt_chumicro.py m2 HOST PORT COUNT       COUNT QoS 1 publishes to a topic nobody
#                                                         reads, until every PUBACK is in
#   micropython mqtt_chumicro.py heap HOST PORT COUNT     subscribe bench/t (QoS 0), print "ready",
#                                                         then heap bytes per received message
# Same output and bounds as mqtt_module.py. The library does QoS 0 and 1 only.
import gc
import sys
import time

import chumicro_sockets
from chumicro_mqtt import MQTTBackpressureError, MQTTClient

mode, host, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
qos = int(sys.argv[5]) if len(sys.argv) > 5 else (1 if mode == "m2" else 0)
TOPIC = "bench/t"
NOSUB_TOPIC = "bench/nosub"
PAYLOAD = b"x" * 64
IDLE_MS = 2000
LIMIT_MS = 300000
WARMUP = 100

received = 0
last_rx_us = 0
delivered = 0
queue_full = 0
subscribed = False
heap_before = 0
heap_after = None


def on_message(topic, payload):
    global received, last_rx_us, heap_before, heap_after
    received += 1
    last_rx_us = time.ticks_us()
    if mode == "heap":
        if received == WARMUP:
            heap_before = gc.mem_alloc()
        elif received == WARMUP + count:
            heap_after = gc.mem_alloc()


def on_acked(topic, payload):
    global delivered, last_rx_us
    delivered += 1
    last_rx_us = time.ticks_us()


def on_subscribe(topic, granted_qos):
    global subscribed
    subscribed = True


def tick():
    client.handle(time.ticks_ms())


def wait_until(predicate, ms):
    start = time.ticks_ms()
    while not predicate():
        if time.ticks_diff(time.ticks_ms(), start) > ms:
            raise OSError("timed out waiting (%s), state %s, %s" % (mode, client.state, client.last_error))
        tick()
        time.sleep_ms(1)


client = MQTTClient(transport_factory=lambda: chumicro_sockets.connector(host, port),
                    client_id="chu-%s-%d" % (mode, time.ticks_us() & 0xFFFFFF),
                    keep_alive_seconds=60, clean_session=True)
client.on_message = on_message
if qos > 0:
    client.on_publish = on_acked   # fires on PUBACK for QoS 1 (for QoS 0 it would cost a marker)
if mode in ("m1", "heap"):
    client.subscribe(TOPIC, qos, on_subscribe=on_subscribe)
client.connect()
wait_until(lambda: client.state == "connected", 5000)
if mode in ("m1", "heap"):
    wait_until(lambda: subscribed, 5000)
if mode == "heap":
    gc.collect()
    gc.disable()
    print("ready")
    start = time.ticks_ms()
    while heap_after is None and time.ticks_diff(time.ticks_ms(), start) < 60000:
        tick()
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
        client.publish(topic, PAYLOAD, qos=qos)
    except MQTTBackpressureError:   # tx queue full: let the client work, retry
        queue_full += 1
        tick()
        continue
    sent += 1
    tick()
pub_done_us = time.ticks_us()

last_rx_us = time.ticks_us() if last_rx_us == 0 else last_rx_us
while time.ticks_diff(time.ticks_ms(), start_ms) < LIMIT_MS:
    if mode == "m1" and received >= sent and (qos == 0 or delivered >= sent):
        break
    if mode == "m2" and delivered >= sent:
        break
    if time.ticks_diff(time.ticks_us(), last_rx_us) > IDLE_MS * 1000 and \
            time.ticks_diff(time.ticks_us(), pub_done_us) > IDLE_MS * 1000:
        break
    tick()

print("result sent=%d received=%d delivered=%d pending=%d queue_full=%d failures=%d us=%d pub_us=%d" % (
    sent, received, delivered, (sent - delivered) if qos else 0, queue_full,
    0 if client.state == "connected" else 1,
    time.ticks_diff(last_rx_us, start_us), time.ticks_diff(pub_done_us, start_us)))
if client.state != "connected":
    print("failure", client.state, client.last_error)
client.disconnect()
