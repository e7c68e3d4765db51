"""One board connection to the host's broker, for scripts/qemu_run.py.

QEMU's user network runs this once for every TCP connection the board opens to the broker's
board-side address (guestfwd=...-cmd:), with that connection on stdin/stdout. It opens its own
connection to the broker on 127.0.0.1:PORT and relays bytes both ways until either side ends,
then exits, which ends the other side too. So each connection of the board is one connection
at the broker, which sees it close when the board closes it (a plain guestfwd to a TCP target
would carry every connection of the run over a single one opened when QEMU starts).
    qemu_broker_relay.py PORT
"""

import os
import selectors
import socket
import sys


def main():
    port = int(sys.argv[1])
    try:
        broker = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError:
        return 1  # the board sees its connection closed
    broker.settimeout(None)
    board_in, board_out = sys.stdin.fileno(), sys.stdout.fileno()
    selector = selectors.DefaultSelector()
    selector.register(board_in, selectors.EVENT_READ, "board")
    selector.register(broker, selectors.EVENT_READ, "broker")
    while True:
        for key, _ in selector.select():
            try:
                if key.data == "board":
                    data = os.read(board_in, 65536)
                    if not data:
                        return 0
                    broker.sendall(data)
                else:
                    data = broker.recv(65536)
                    if not data:
                        return 0
                    while data:
                        data = data[os.write(board_out, data):]
            except OSError:
                return 0


if __name__ == "__main__":
    sys.exit(main())
