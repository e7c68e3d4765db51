"""The test harness's own helpers: a flaky helper makes every test built on it flaky."""
from support.mqtt import MqttScript


class _RunningScript:
    def __init__(self, text, running=True):
        self.text = text
        self.running = running

    def output(self):
        return self.text

    def alive(self):
        return self.running


def test_a_line_the_running_script_has_not_finished_printing_is_not_parsed():
    script = MqttScript(_RunningScript("STATUS (1, 'delivered')\nMSG "))
    assert script.lines("MSG ") == []
    assert script.lines("STATUS ") == ["(1, 'delivered')"]


def test_the_last_line_of_a_script_that_ended_counts_without_a_newline():
    script = MqttScript(_RunningScript("MSG ('t', b'x')", running=False))
    assert script.lines("MSG ") == ["('t', b'x')"]
