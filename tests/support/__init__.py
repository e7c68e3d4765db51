"""Helpers for the pytest suite in tests/: MicroPython runner, HTTP clients, Mosquitto broker,
paho peer, MQTT script support, a scripted fake broker and a throwaway PKI for TLS (fixtures registered by conftest.py)."""
