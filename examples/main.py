# pythongoose example: the seed's HTTP API and MQTT client in one event loop.
#
# HTTP on port 8000, /api/<name> runs Python behind Basic auth checked by a Python callback:
#   curl -s http://localhost:8000/api/epname                                  -> Auth required
#   curl -su admin:istrator http://localhost:8000/api/epname --data-binary "r u there ?"
#   curl -s http://localhost:8000/api/status                                  -> JSON, no auth
#   curl -su admin:istrator http://localhost:8000/api/publish -d 'hello'      -> MQTT publish
# MQTT (broker from MQTT_URL; `make run` starts a local Mosquitto): subscribes to embrel_src,
# publishes "Hello, myself!" there on connect and prints what arrives.
import os
import time

import mongoose

users = {"admin": "istrator"}


def f1(data):
    print("f1", data)
    return "f1 got " + str(len(data)) + " bytes\n"


def auth(user, pwd):
    return users.get(user) == pwd


started = time.time()
try:
    broker = MQTT_URL  # noqa: F821 - on the emulated board, scripts/qemu-run.sh defines it
except NameError:
    broker = os.getenv("MQTT_URL") if hasattr(os, "getenv") else None
client = None


def status(request):
    return {
        "uptime_s": time.time() - started,
        "mqtt_broker": broker,
        "mqtt_connected": client is not None and client.is_connected(),
    }


def publish(request):
    if client is None or not client.is_connected():
        return (503, "MQTT not connected\n")
    packet_id = client.pub("embrel_src", request.body, qos=1)
    return {"published": len(request.body), "packet_id": packet_id}


def on_connect():
    print("on_connect: subscribing and publishing")
    client.sub("embrel_src", 0)
    client.pub("embrel_src", "Hello, myself!", 0, False)


def on_publish(topic, msg):
    print("on_publish: got this message in", topic, "-->", msg)


def on_disconnect(reason):
    print("mqtt:", reason)


mongoose.init(f1, auth)
mongoose.route("/api/status", status, methods="GET", auth=False)
mongoose.route("/api/publish", publish, methods="POST")
if broker:
    client = mongoose.MQTTclient(on_connect, on_publish, on_disconnect=on_disconnect)
    client.connect(broker, "", "", "embrel_will", "pythongoose example went away", 0, False)
print("serving http://0.0.0.0:8000" + (", MQTT " + broker if broker else "") + " (Ctrl-C stops)")
while True:
    mongoose.poll(1000)
