"""What a client sees from the real server (``pmsync api``, gunicorn): every answer, including
the ones gunicorn gives itself before Flask runs, is in the API's JSON error shape, carries no
``Server`` banner, and bodies over the limit are 413 however they are framed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Iterator

import orjson
import pytest

from services.api.app import MAX_BODY_BYTES
from services.api.openapi import spec
from tests.conftest import make_settings
from tests.ports import unused_port


@pytest.fixture(scope="module")
def server(services, database) -> Iterator[int]:
    """``pmsync api`` on a free port, one worker; its port."""
    settings = make_settings(services, database)
    port = unused_port()
    env = {**os.environ, **settings.to_env(), "PMSYNC_LOG_LEVEL": "WARNING"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen([sys.executable, "-m", "pmsync.cli", "api", "--port", str(port),
                             "--workers", "1", "--threads", "2"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if exchange(port, b"GET /readyz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "pmsync api did not start"
            time.sleep(0.2)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def exchange(port: int, head: bytes, body_chunks: Iterator[bytes] = iter(())
             ) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes (the body from a thread, so an early answer is read while the client
    still sends, as a real client would) and read one response: status, headers, body."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(head)

        def send_body() -> None:
            try:
                for chunk in body_chunks:
                    sock.sendall(chunk)
            except OSError:
                pass  # the server answered and closed before the whole body was sent

        sender = threading.Thread(target=send_body, daemon=True)
        sender.start()
        data = b""
        while b"\r\n\r\n" not in data:
            got = sock.recv(65536)
            assert got, f"connection closed without a response: {data!r}"
            data += got
        raw_head, _, body = data.partition(b"\r\n\r\n")
        lines = raw_head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            got = sock.recv(65536)
            if not got:
                break
            body += got
        sender.join(timeout=20)
        return int(lines[0].split(" ")[1]), headers, body[:length]


def _get(extra_headers: bytes = b"", target: bytes = b"/healthz") -> bytes:
    return b"GET " + target + b" HTTP/1.1\r\nHost: t\r\n" + extra_headers + b"Connection: close\r\n\r\n"


@pytest.mark.parametrize("request_bytes, status, code", [
    (_get(target=b"/api/integrations/pms/bookings/?cursor=" + b"a" * 9000), 414, "uri_too_long"),
    (_get(b"X-Big: " + b"a" * 9000 + b"\r\n"), 431, "request_header_fields_too_large"),
    (_get(b"".join(b"X-H%d: 1\r\n" % i for i in range(150))), 431, "request_header_fields_too_large"),
    (_get(b"X-Bad: a\x00b\r\n"), 400, "bad_request"),
    (_get(b"Authorization: Bearer pmk_secret\x01value\r\n"), 400, "bad_request"),
    (_get(b"X Bad: 1\r\n"), 400, "bad_request"),
    (_get(b"no colon here\r\n"), 400, "bad_request"),
    (b"HELLO\r\n\r\n", 400, "bad_request"),
    (b"GET /healthz HTTP/9.9\r\nHost: t\r\n\r\n", 400, "bad_request"),
    (b"POST /api/admin/dlq/replay HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "bad_request"),
])
def test_requests_gunicorn_refuses_itself_get_the_json_error_shape(server, request_bytes, status, code):
    got, headers, body = exchange(server, request_bytes)
    assert got == status, body
    assert headers["content-type"] == "application/json"
    error = orjson.loads(body)["error"]
    assert set(error) == {"code", "message", "details"} and error["code"] == code
    assert error["message"] and b"<html" not in body.lower()
    assert "server" not in headers
    assert headers["cache-control"] == "no-store"
    assert b"secret" not in body


def test_no_server_banner_and_no_caching_of_data_or_errors(server, seed):
    hotel = seed.hotel()
    seed.booking(hotel, "R-1", email="guest@example.com")
    key = seed.key(hotel).encode()
    for target, status, cache in (
            (b"/api/integrations/pms/bookings/", 200, "no-store"),
            (b"/api/integrations/pms/bookings/R-1/", 200, "no-store"),
            (b"/api/hotels/me/sync-status", 200, "no-store"),
            (b"/api/integrations/pms/bookings/nope/", 404, "no-store"),
            (b"/healthz", 200, "no-store"),
            (b"/openapi.json", 200, "public, max-age=300")):
        got, headers, _ = exchange(server, _get(b"Authorization: Bearer " + key + b"\r\n", target))
        assert got == status, target
        assert "server" not in headers, target
        assert headers["cache-control"] == cache, target
        assert headers["x-content-type-options"] == "nosniff"


def _replay_head(admin_key: str, framing: bytes) -> bytes:
    return (b"POST /api/admin/dlq/replay HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + admin_key.encode() + b"\r\n" + framing + b"\r\n")


def _chunked(total: int, size: int = 256 * 1024) -> Iterator[bytes]:
    yield b"%x\r\n" % 9 + b'{"ids": [' + b"\r\n"
    sent = 0
    while sent < total:
        piece = b"1," * (size // 2)
        yield b"%x\r\n" % len(piece) + piece + b"\r\n"
        sent += len(piece)
    yield b"3\r\n1]}\r\n0\r\n\r\n"


def test_a_body_over_the_limit_is_413_chunked_or_with_content_length(server, seed):
    admin = seed.key(admin=True)
    too_big = 8 * 1024 * 1024
    assert too_big > MAX_BODY_BYTES
    got, headers, body = exchange(server, _replay_head(admin, b"Transfer-Encoding: chunked\r\n"), _chunked(too_big))
    assert got == 413, body
    assert orjson.loads(body)["error"]["code"] == "request_entity_too_large"
    payload = b'{"ids": [' + b"1," * (too_big // 2) + b"1]}"
    got, headers, body = exchange(server, _replay_head(admin, b"Content-Length: %d\r\n" % len(payload)),
                                  iter([payload]))
    assert got == 413, body
    assert "larger than" in orjson.loads(body)["error"]["message"]
    # Under the limit, chunked bodies are read as usual.
    small = b'{"ids": [424242]}'
    got, _, body = exchange(server, _replay_head(admin, b"Transfer-Encoding: chunked\r\n"),
                            iter([b"%x\r\n" % len(small) + small + b"\r\n0\r\n\r\n"]))
    assert got == 200 and orjson.loads(body)["not_found"] == [424242]


@pytest.mark.parametrize("chunks", [
    b"zz\r\n{}\r\n0\r\n\r\n",                      # not a hex size
    b"2\r\n{}XX0\r\n\r\n",                          # no CRLF after the chunk
    b"2;" + b"x" * 5000 + b"\r\n{}\r\n0\r\n\r\n",     # chunk extension without end
])
def test_a_broken_chunked_body_is_400_not_500(server, seed, chunks):
    got, headers, body = exchange(server, _replay_head(seed.key(admin=True), b"Transfer-Encoding: chunked\r\n"),
                                  iter([chunks]))
    assert got == 400, body
    assert headers["content-type"] == "application/json"
    assert orjson.loads(body)["error"]["code"] == "invalid_body"


def test_the_openapi_document_lists_what_the_server_refuses_itself():
    for path, operations in spec()["paths"].items():
        for method, operation in operations.items():
            assert {"400", "414", "431"} <= set(operation["responses"]), (method, path)
            if "requestBody" in operation:
                assert "413" in operation["responses"], (method, path)
