# pythongoose example: the seed's HTTP API and MQTT client in one event loop.
#
# HTTP on port 8000 (LISTEN_URL overrides), /api/<name> runs Python behind Basic auth checked by a
# Python callback:
#   curl -s http://localhost:8000/api/epname                                  -> Auth required
#   curl -su admin:istrator http://localhost:8000/api/epname --data-binary "r u there ?"
#   curl -s http://localhost:8000/api/status                                  -> JSON, no auth
#   curl -su admin:istrator http://localhost:8000/api/publish -d 'hello'      -> MQTT publish
# MQTT (broker from MQTT_URL; `make run` starts a local Mosquitto): subscribes to embrel_src,
# publishes "Hello, myself!" there on connect and prints what arrives.
# The dashboard (examples/web, open http://localhost:8000/ in a browser): static files, live values
# pushed over Server-Sent Events every second, and a WebSocket bridged to MQTT: what a page sends
# is published on dashboard/messages, and every message on that topic reaches every open page.
# On a lean build (`make qemu LEAN=1`: no static files, SSE or WebSocket) the API and MQTT parts run
# alone.
import json
import math
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


DASHBOARD_TOPIC = "dashboard/messages"
HAS_WEB = hasattr(mongoose, "sse")  # False on a lean build


def on_connect():
    print("on_connect: subscribing and publishing")
    client.sub("embrel_src", 0)
    client.sub(DASHBOARD_TOPIC, 0)
    client.pub("embrel_src", "Hello, myself!", 0, False)


def on_publish(topic, msg):
    if topic == DASHBOARD_TOPIC and HAS_WEB:  # the bridge: MQTT -> every open dashboard, as text frames
        try:
            mongoose.broadcast("/ws", msg.decode())
        except UnicodeError:
            print("dashboard: a message that is not UTF-8 was not forwarded")
        return
    print("on_publish: got this message in", topic, "-->", msg)


def from_dashboard(ws, text):  # the bridge: a page -> MQTT
    if client is not None and client.is_connected():
        client.pub(DASHBOARD_TOPIC, text, 0)
    else:
        ws.send("(MQTT not connected) " + text)


def live_values():
    uptime = time.time() - started
    return json.dumps({
        "uptime_s": int(uptime),
        "temperature": 21.0 + 2.0 * math.sin(uptime / 10),  # a stand-in for a sensor
        "mqtt_connected": client is not None and client.is_connected(),
    })


def web_directory():
    """examples/web beside this script, when there is a filesystem that holds it."""
    try:
        folder = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
        os.stat(folder + "/web/index.html")
        return folder + "/web"
    except (NameError, OSError, AttributeError):
        return None


def on_disconnect(reason):
    print("mqtt:", reason)


listen = (os.getenv("LISTEN_URL") if hasattr(os, "getenv") else None) or "http://0.0.0.0:8000"
mongoose.init(f1, auth, url=listen)
mongoose.route("/api/status", status, methods="GET", auth=False)
mongoose.route("/api/publish", publish, methods="POST")
web = web_directory() if HAS_WEB else None
if web:
    mongoose.static("/", web, max_age=0)
if HAS_WEB:
    mongoose.sse("/events", auth=False)
    mongoose.websocket("/ws", from_dashboard, auth=False, max_message_size=1024)
if broker:
    client = mongoose.MQTTclient(on_connect, on_publish, on_disconnect=on_disconnect)
    client.connect(broker, "", "", "embrel_will", "pythongoose example went away", 0, False)
print("serving " + listen + (", MQTT " + broker if broker else "") + (", dashboard /" if web else "")
      + " (Ctrl-C stops)")
next_push = time.ticks_ms()
while True:
    mongoose.poll(100)
    if HAS_WEB and time.ticks_diff(time.ticks_ms(), next_push) >= 0:
        mongoose.broadcast("/events", live_values(), event="status")
        next_push = time.ticks_add(next_push, 1000)
