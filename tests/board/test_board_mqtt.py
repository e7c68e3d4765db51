"""The MQTT client on the emulated board, against a Mosquitto on the host's loopback: the board
reaches it only through QEMU's guestfwd (10.0.2.100:1883 on the board)."""

BOARD_CLIENT = """
import mongoose


def on_connect():
    client.sub("board/in", 1)
    client.pub("board/out", "hello from the board", 1)
    print("board connected")


def on_publish(topic, msg):
    print("board got", topic, msg)


client = mongoose.MQTTclient(on_connect, on_publish)
client.connect(MQTT_URL, client_id="board")
while True:
    mongoose.poll(1000)
"""


def test_board_publishes_and_receives_through_the_host_broker(start_on_board, broker, paho_peer):
    peer = paho_peer(broker)
    peer.subscribe("board/out", qos=1)
    board = start_on_board(BOARD_CLIENT, env={"MQTT_URL": broker.url})
    board.wait_for("board connected")
    messages = peer.wait_messages(1, topic="board/out", timeout=10)
    assert messages[0][1] == b"hello from the board", board.output()
    peer.publish("board/in", b"hi board", qos=1)
    board.wait_for("board got board/in b'hi board'", timeout=10)
    assert "connection closed" not in board.output(), board.output()
