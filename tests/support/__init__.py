"""Helpers for the pytest suite in tests/: MicroPython runner, HTTP clients, Mosquitto broker,
paho peer, MQTT script support and a scripted fake broker (fixtures registered by conftest.py)."""
