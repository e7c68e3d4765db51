"""poll() and threads, with the GIL on as on the ESP32 (mpy/unix-variant, and so the sanitizer
build too): the wait inside poll() lets other Python threads run, as time.sleep() does, and a
thread that pushes to WebSocket clients while the main thread polls has its calls serialised with
the event loop's by the GIL.

A poll() that kept the GIL while it waited starved every other thread: the spinning thread below
counted 0 during a 500 ms poll(), against about a million during a 500 ms time.sleep(). Before
the unix build had the GIL, a thread's broadcast() ran in parallel with the poll() walking the
same connections and buffers."""

from websockets.sync.client import connect

SPIN_WHILE_POLLING = """
import _thread, time
import mongoose

count = [0, True]


def spin():
    while count[1]:
        count[0] += 1


_thread.start_new_thread(spin, ())
time.sleep(0.05)
mongoose.init(lambda data: "x", url=URL)
before = count[0]
mongoose.poll(500)
during_poll = count[0] - before
before = count[0]
time.sleep(0.5)
during_sleep = count[0] - before
count[1] = False
time.sleep(0.05)
print("COUNTS", during_poll, during_sleep)
"""


def test_another_thread_runs_while_poll_waits(run_script):
    rc, out = run_script(SPIN_WHILE_POLLING, timeout=20)
    assert rc == 0, out
    during_poll, during_sleep = (int(n) for n in out.split("COUNTS ")[1].split()[:2])
    assert during_sleep > 0, out
    assert during_poll > during_sleep // 10, out


# A "sensor" thread pushes readings as fast as it can while the main thread echoes what the client
# sends on the same connection: both write to its send buffer.
PUSH_FROM_A_THREAD = """
import _thread, time
import mongoose

READINGS = 3000
state = {"started": False, "sent": 0}


def sensor():
    for i in range(READINGS):
        state["sent"] += mongoose.broadcast("/ws", "r%d" % i)
    print("SENSOR DONE", state["sent"])


def on_open(ws):
    if not state["started"]:
        state["started"] = True
        _thread.start_new_thread(sensor, ())


mongoose.init(lambda data: "x", url=URL)
mongoose.websocket("/ws", lambda ws, data: ws.send(data), on_open=on_open, auth=False)
print("READY")
while True:
    mongoose.poll(20)
"""


def test_a_thread_broadcasts_while_the_main_thread_polls(start_server):
    server = start_server(PUSH_FROM_A_THREAD)
    with connect(f"ws://127.0.0.1:{server.port}/ws", compression=None, open_timeout=5, close_timeout=3) as ws:
        for i in range(3000):
            ws.send("e%d" % i)
        received = [ws.recv(timeout=10) for _ in range(6000)]
    assert [m for m in received if m[0] == "r"] == ["r%d" % i for i in range(3000)]
    assert [m for m in received if m[0] == "e"] == ["e%d" % i for i in range(3000)]
    assert server.wait_for_output("SENSOR DONE 3000", timeout=10), server.output()
