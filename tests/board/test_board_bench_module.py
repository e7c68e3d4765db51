"""The `board` module behind `make bench`'s board figures (bench/board.py): its instruction counter
and the C-only limit server must measure what the module's figures are compared with."""

import time

from support.http_client import curl


def test_instruction_counter_counts_work_and_leaves_out_waits(run_on_board):
    run = run_on_board("""
        import board, time
        a = board.instructions()
        for i in range(1000):
            pass
        b = board.instructions()
        time.sleep_ms(300)
        c = board.instructions()
        print("LOOP", b - a, "SLEEP", c - b)
    """, env={"QEMU_ICOUNT": "1"})
    assert run.returncode == 0, run
    fields = run.output.split()
    loop, sleep = int(fields[fields.index("LOOP") + 1]), int(fields[fields.index("SLEEP") + 1])
    # 1 000 loop iterations are tens of thousands of instructions; 300 ms asleep in wfi are not
    # counted (the wait loop itself runs a few instructions per wake-up).
    assert loop > 20000, run
    assert sleep < loop // 4, run


def test_c_limit_server_answers_the_benchmark_endpoint_and_checks_auth(start_on_board):
    board = start_on_board("""
        import board
        print("limit starting")
        per_request = board.c_http_server(2, 3)
        print("PER_REQUEST", per_request)
        try:
            board.c_http_server(0, 1)
        except ValueError as e:
            print("REFUSED", e)
    """)
    board.wait_for("limit starting")
    url = f"http://127.0.0.1:{board.port}/api/epname"
    deadline = time.monotonic() + 20
    while True:  # QEMU accepts before the board listens: retry until the server answers
        denied = curl("-s", "-o", "/dev/null", "-w", "%{http_code}", url)
        if denied.stdout == b"401" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert denied.stdout == b"401", board.output()
    missing = curl("-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", "admin:istrator", f"http://127.0.0.1:{board.port}/x")
    assert missing.stdout == b"404", board.output()
    for _ in range(5):
        served = curl("-s", "-u", "admin:istrator", url)
        assert served.stdout == b"hello", board.output()
    output = board.wait_for("REFUSED")
    assert int(output.split("PER_REQUEST ")[1].split()[0]) > 1000, output
    assert "REFUSED warmup and count must be at least 1" in output, output
