"""The MQTT client's behaviour on the emulated board, against a Mosquitto on the host's loopback
(reached through QEMU's guestfwd) and a paho peer on the host: QoS 1 and 2 both ways, a broker
restart, a raising callback and the GC running all the time during 250 round trips. The board
prints one tagged line per event (the CALLBACKS of the unix suites); the host parses them."""

import ast
import re
import time

import pytest

from support.mqtt import FAST_RECONNECT

# Defined before each board script: a bounded event-loop runner (the board has no files to
# signal through, so the host drives the scripts with MQTT messages).
PRELUDE = """
import gc
import time

import mongoose


def run(ms, until=None, step=10):
    t0 = time.ticks_ms()
    while True:
        if until is not None and until():
            return True
        if time.ticks_diff(time.ticks_ms(), t0) >= ms:
            return False if until is None else bool(until())
        mongoose.poll(step)

"""


# The callbacks of the unix suites' CALLBACKS (support.mqtt: each event printed as a tagged line,
# read back with parsed()), keeping what the scripts wait for: the topics received, the packet ids
# reported, the disconnects.
EVENTS = """
inbound = []
statuses = []
drops = []


def on_connect():
    print("CONNECT", repr(client.session_present))


def on_publish(topic, msg):
    inbound.append(topic)
    print("MSG", repr((topic, msg)))


def on_status(pid, status):
    statuses.append(pid)
    print("STATUS", repr((pid, status)))


def on_disconnect(reason):
    drops.append(reason)
    print("DISCONNECT", repr(reason))


client = mongoose.MQTTclient(on_connect, on_publish, on_disconnect=on_disconnect, on_status=on_status)
"""


def board_script(body):
    return PRELUDE + body


def lines(board, tag):
    """The board's complete output lines starting with `tag` (the tag cut off)."""
    text = board.output().replace("\r\n", "\n")
    if board.proc.poll() is None:
        text = text[:text.rfind("\n") + 1]  # a line still being printed is left out
    return [line[len(tag) + 1:] for line in text.splitlines() if line.startswith(tag + " ")]


def parsed(board, tag):
    return [ast.literal_eval(rest) for rest in lines(board, tag)]


def wait_parsed(board, tag, count, timeout=10.0):
    """Waits until the board printed `count` lines tagged `tag` (or stopped); returns them all."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(lines(board, tag)) < count and board.proc.poll() is None:
        time.sleep(0.02)
    return parsed(board, tag)


def wait_until(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def finished(board, timeout=20):
    """Waits for the board's scripts to end; asserts they ended cleanly; returns the output."""
    try:
        code = board.proc.wait(timeout)
    except Exception:  # subprocess.TimeoutExpired
        code = None
    board.stop()
    output = board.output()
    assert code == 0, f"board run ended with {code}:\n{output}"
    assert "Traceback" not in output, output
    return output


# ---------------------------------------------------------------------------------------------
# QoS 1 and QoS 2 in both directions

N = 20

QOS_BOTH_WAYS = EVENTS + """
client.connect(MQTT_URL, client_id="board-qos")
assert run(10000, client.is_connected), "no CONNACK"
print("SUBS", repr((client.sub("bq/in2", 2), client.sub("bq/in1", 1))))
# both SUBACKs, then the host publishes; the board waits for its N + N messages
run(10000, lambda: len(statuses) == 2)
print("READY")
run(20000, lambda: len(inbound) >= 2 * N)
run(500)  # a duplicate would arrive meanwhile
print("INBOUND", len(inbound))
pids = []
for i in range(N):
    for qos in (1, 2):
        run(5000, lambda: client.pending() < 8)
        pids.append((qos, client.pub("bq/out%d" % qos, "q%d-%d" % (qos, i), qos)))
print("PIDS", repr(pids))
run(20000, lambda: client.pending() == 0 and len(statuses) == 2 + 2 * N)
run(500)
print("CONNECTED", client.is_connected())
client.disconnect()
run(1000, lambda: not client.is_connected())
print("DONE")
"""


def test_qos1_and_qos2_both_ways_arrive_exactly_once_in_order(start_on_board, broker, paho_peer):
    sink = paho_peer(broker)
    assert sink.subscribe("bq/out1", qos=1) == [1]
    assert sink.subscribe("bq/out2", qos=2) == [2]
    board = start_on_board(board_script(f"N = {N}\n" + QOS_BOTH_WAYS), env={"MQTT_URL": broker.url})
    board.wait_for("READY\n", timeout=20)
    (sub2, sub1), = parsed(board, "SUBS")
    assert sorted(parsed(board, "STATUS")) == sorted([(sub2, "delivered"), (sub1, "delivered")]), board.output()

    source = paho_peer(broker)
    for i in range(N):
        source.publish("bq/in1", f"one-{i}".encode(), qos=1)
        source.publish("bq/in2", f"two-{i}".encode(), qos=2)
    board.wait_for("INBOUND ", timeout=20)
    board.wait_for("PIDS ", timeout=20)
    messages = parsed(board, "MSG")
    assert [m for t, m in messages if t == "bq/in1"] == [f"one-{i}".encode() for i in range(N)], board.output()
    assert [m for t, m in messages if t == "bq/in2"] == [f"two-{i}".encode() for i in range(N)], board.output()
    assert len(messages) == 2 * N, board.output()

    output = finished(board)
    (pids,) = parsed(board, "PIDS")
    assert len(pids) == 2 * N and len({pid for _, pid in pids}) == 2 * N, pids
    statuses = parsed(board, "STATUS")[2:]
    # every publish reported once, "delivered"
    assert sorted(statuses) == sorted((pid, "delivered") for _, pid in pids), output
    # connected all along: one CONNACK, no on_disconnect before the script's own disconnect()
    assert "CONNECTED True" in output, output
    assert "DISCONNECT" not in output[:output.index("CONNECTED True")], output
    assert len(parsed(board, "CONNECT")) == 1, output
    assert sink.wait_messages(2 * N, timeout=10)
    time.sleep(0.3)  # a duplicate would arrive meanwhile
    for qos in (1, 2):
        got = sink.received(f"bq/out{qos}")
        assert [payload for _, payload, *_ in got] == [f"q{qos}-{i}".encode() for i in range(N)], sink.received()
        assert {m[2] for m in got} == {qos}, got
