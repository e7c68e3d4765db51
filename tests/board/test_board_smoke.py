"""Smoke tests on the emulated RISC-V board (QEMU virt, rv32imac): the module imports and answers,
its argument checks and the MQTT session core run on the board, soft resets start clean."""


def test_module_imports_and_reports_memory(run_on_board):
    run = run_on_board(
        """
        import sys
        import mongoose
        print("platform", sys.platform)
        m = mongoose.memory()
        print("memory keys", sorted(m))
        print("used", m["used"], "limit", m["limit"])
        """
    )
    assert run.returncode == 0, run
    assert "platform qemu" in run.output, run
    assert "memory keys ['limit', 'peak', 'refused', 'used']" in run.output, run
    assert "used 0 limit 0" in run.output, run


def test_https_url_without_certificate_and_key_is_refused_with_value_error(run_on_board):
    run = run_on_board(
        """
        import mongoose
        try:
            mongoose.init(url="https://0.0.0.0:8000")
        except ValueError as e:
            print("ValueError:", e)
        else:
            print("no error")
        """
    )
    assert run.returncode == 0, run
    assert "ValueError: mongoose: https:// needs cert= and key=" in run.output, run


def test_mqtt_client_is_created_and_idle(run_on_board):
    run = run_on_board(
        """
        import mongoose
        client = mongoose.MQTTclient()
        print("connected", client.is_connected())
        try:
            client.pub("t", "x")
        except Exception as e:
            print("pub before connect:", type(e).__name__)
        try:
            client.connect("mqtts://10.0.2.100:1883")
        except ValueError as e:
            print("mqtts:", e)
        """
    )
    assert run.returncode == 0, run
    assert "connected False" in run.output, run
    assert "pub before connect: " in run.output, run
    assert "mqtts: mongoose: mqtts:// verifies the broker: pass ca=" in run.output, run


def test_soft_reset_between_scripts_starts_clean(run_on_board):
    run = run_on_board(
        """
        import mongoose
        marker = "first"
        client = mongoose.MQTTclient()
        print("first script ran", mongoose.memory()["used"] >= 0)
        """,
        """
        import mongoose
        print("marker seen" if "marker" in globals() else "no marker")
        print("second script ran", mongoose.memory()["limit"])
        """,
    )
    assert run.returncode == 0, run
    assert "first script ran True" in run.output, run
    assert "no marker" in run.output, run
    assert "second script ran 0" in run.output, run
    assert run.output.index("first script ran") < run.output.index("second script ran"), run


def test_an_uncaught_exception_is_reported(run_on_board):
    run = run_on_board("raise OSError(5)\n")
    assert run.returncode == 1, run
    assert "OSError: [Errno 5] EIO" in run.output, run


def test_time_and_poll_wait_on_the_board_clock(run_on_board):
    run = run_on_board(
        """
        import time
        import mongoose
        t0 = time.ticks_ms()
        time.sleep_ms(200)
        slept = time.ticks_diff(time.ticks_ms(), t0)
        print("slept", 190 <= slept < 1000, slept)
        mongoose.init(lambda body: "hi")
        t0 = time.ticks_ms()
        mongoose.poll(200)
        waited = time.ticks_diff(time.ticks_ms(), t0)
        print("poll waited", 190 <= waited < 1000, waited)
        mongoose.close()
        """
    )
    assert run.returncode == 0, run
    assert "slept True" in run.output, run
    assert "poll waited True" in run.output, run


def test_a_broker_host_name_is_refused_at_connect_with_a_clear_error(run_on_board):
    # The emulated board reaches no name server: connect() says so at once, instead of a client
    # that retries a DNS query nobody answers and reports only "connection closed".
    run = run_on_board("""
        import mongoose
        client = mongoose.MQTTclient()
        try:
            client.connect("mqtt://broker.example:1883")
        except OSError as e:
            print("REFUSED", e)
        else:
            print("ACCEPTED")
        client.connect("mqtt://10.0.2.100:1883")  # an address needs no name service
        print("ADDRESS OK", client.is_connected())
    """)
    assert run.returncode == 0, run
    assert "REFUSED mongoose: cannot resolve host 'broker.example': this board has no name service, use the broker's IP address" in run.output, run
    assert "ADDRESS OK False" in run.output, run
