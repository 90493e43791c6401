"""Loopback ports for tests: one helper instead of a copy per test module."""

from __future__ import annotations

import socket


def unused_port() -> int:
    """A 127.0.0.1 TCP port nothing listens on right now: for a server the test is about to
    start, or as the address of a service that is down (nothing answers there)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
