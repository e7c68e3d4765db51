"""The limits a board build starts with when init()/connect() do not set them (README "Defaults on
a board"): smaller than the unix port's, so that one request or a burst of publishes cannot take
the heap the rest of the script needs."""

from support.http_client import raw_bytes

BOARD_MAX_BODY_SIZE = 16384
BOARD_MAX_HEADER_SIZE = 4096


def test_http_limits_default_to_the_board_sizes(start_on_board, http):
    board = start_on_board("""
        import mongoose
        mongoose.init()
        mongoose.route("/len", lambda r: str(len(r.body)), auth=False)
        print("board listening")
        while True:
            mongoose.poll(1000)
    """)
    board.wait_for("board listening")
    url = f"http://127.0.0.1:{board.port}/len"
    r = http.post(url, data=b"z" * BOARD_MAX_BODY_SIZE, timeout=20)
    assert (r.status_code, r.text) == (200, str(BOARD_MAX_BODY_SIZE)), board.output()
    head = b"POST /len HTTP/1.1\r\nHost: b\r\nContent-Length: %d\r\n\r\n" % (BOARD_MAX_BODY_SIZE + 1)
    assert raw_bytes(board.port, head).startswith(b"HTTP/1.1 413"), board.output()
    big_header = b"GET /len HTTP/1.1\r\nHost: b\r\nX-Filler: " + b"f" * BOARD_MAX_HEADER_SIZE + b"\r\n\r\n"
    assert raw_bytes(board.port, big_header).startswith(b"HTTP/1.1 431"), board.output()
    assert http.get(url, headers={"X-Filler": "f" * 3000}, timeout=10).status_code == 200


def test_mqtt_queue_defaults_to_16_messages_and_16_kb(run_on_board):
    # No broker is forwarded: the clients stay offline and QoS 1 publishes wait in the queue.
    run = run_on_board("""
        import mongoose

        def fill(client, payload):
            accepted = 0
            try:
                for _ in range(100):
                    client.pub("t", payload, 1)
                    accepted += 1
            except OSError as e:
                return accepted, str(e)
            return accepted, None

        small = mongoose.MQTTclient()
        small.connect("mqtt://10.0.2.100:1883", reconnect_min_ms=60000)
        print("SMALL", fill(small, b"x" * 10))
        large = mongoose.MQTTclient()
        large.connect("mqtt://10.0.2.100:1883", reconnect_min_ms=60000)
        print("LARGE", fill(large, b"x" * 7000))
        try:
            large.pub("t", b"x" * 16384, 0)
        except ValueError as e:
            print("PACKET", e)
    """)
    assert run.returncode == 0, run
    assert "SMALL (16, 'mongoose: the MQTT publish queue is full: poll() and retry')" in run.output, run
    assert "LARGE (2, 'mongoose: the MQTT publish queue is full: poll() and retry')" in run.output, run
    assert "PACKET mongoose: message larger than max_packet_size" in run.output, run
