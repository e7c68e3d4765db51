"""poll() and threads: the wait inside poll() lets other Python threads run, as time.sleep() does.

The unix port builds without a GIL (its threads run in parallel anyway, so this passes there
whatever poll() does); the sanitizer build (make asan, scripts/pytest-asan.sh) turns the GIL on as
the ESP32 has it, and there a poll() that kept the GIL while it waited starved every other thread:
the spinning thread below counted 0 during a 500 ms poll(), against about a million during a
500 ms time.sleep()."""

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
