# The seed's example, on pythongoose: an HTTP API on port 8000 whose /api/<name> endpoints run
# Python, behind Basic auth checked by a Python callback.
#
#   curl -s http://localhost:8000/api/epname                                  -> Auth required
#   curl -su admin:istrator http://localhost:8000/api/epname                  -> runs f1
#   curl -su admin:istrator http://localhost:8000/api/epname --data-binary "r u there ?"
#   curl -s http://localhost:8000/api/status                                  -> JSON (no auth)
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


def status(request):
    return {"uptime_s": time.time() - started, "mqtt_broker": os.getenv("MQTT_URL")}


mongoose.init(f1, auth)
mongoose.route("/api/status", status, methods="GET", auth=False)
print("serving http://0.0.0.0:8000 (Ctrl-C stops)")
while True:
    mongoose.poll(1000)
