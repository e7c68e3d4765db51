"""The seed's HTTP session on the emulated board: host curl reaches the board's port 8000 through
QEMU's forward (virtio-net card, Mongoose's built-in TCP/IP stack)."""

import signal

from support.http_client import curl

SEED_SERVER = """
import mongoose

users = {"admin": "istrator"}


def f1(data):
    print("f1", data)
    return "f1 got " + str(len(data)) + " bytes\\n"


def auth(user, pwd):
    return users.get(user) == pwd


mongoose.init(f1, auth)
print("board listening")
while True:
    mongoose.poll(1000)
"""


def test_seed_http_session_on_the_board(start_on_board):
    board = start_on_board(SEED_SERVER)
    board.wait_for("board listening")
    url = f"http://127.0.0.1:{board.port}/api/epname"

    denied = curl("-s", "-i", url)
    assert denied.returncode == 0, board.output()
    head, _, body = denied.stdout.decode().partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 401"), denied.stdout
    assert "WWW-Authenticate: Basic" in head, head
    assert body == "Auth required", body

    wrong = curl("-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", "admin:wrong", url)
    assert wrong.stdout == b"401", board.output()

    served = curl("-s", "-u", "admin:istrator", url, "--data-binary", "r u there ?")
    assert served.returncode == 0, board.output()
    assert served.stdout == b"f1 got 11 bytes\n", board.output()
    board.wait_for("f1 r u there ?")


def test_board_serves_many_requests_in_a_row(start_on_board):
    board = start_on_board(SEED_SERVER)
    board.wait_for("board listening")
    url = f"http://127.0.0.1:{board.port}/api/x"
    for index in range(20):
        body = "n" * (index * 50)
        served = curl("-s", "-u", "admin:istrator", url, "--data-binary", body)
        assert served.stdout == f"f1 got {len(body)} bytes\n".encode(), (index, board.output())


def test_ctrl_c_stops_a_poll_loop_on_the_board(start_on_board):
    board = start_on_board(
        """
        import mongoose
        mongoose.init(lambda body: "hi")
        print("board listening")
        try:
            while True:
                mongoose.poll(1000)
        except KeyboardInterrupt:
            print("stopped by Ctrl-C")
            raise
        """
    )
    board.wait_for("board listening")
    board.proc.send_signal(signal.SIGINT)  # qemu-run.sh passes it to the board as Ctrl-C
    assert board.proc.wait(20) == 1, board.output()
    board.stop()
    assert "stopped by Ctrl-C" in board.output()
    assert "KeyboardInterrupt" in board.output()
