"""The gunicorn worker of the API: gunicorn's threaded worker, answering in the API's shape.

Some requests never reach Flask: gunicorn refuses them while parsing (a request line over
``limit_request_line``: 414; too many or too large headers: 431; bytes HTTP does not allow in
a header, a broken request line or chunk framing: 400) and answers with an HTML page. This
worker lets gunicorn decide the status and log as it always does, then sends the API's JSON
error shape (``errors.error_document``) instead of the page. It also leaves out gunicorn's
``Server`` header: the software and version behind the API are nobody's business.

It must never echo what the client sent (a bad header can be a key): messages are fixed text
per status.
"""

from __future__ import annotations

from typing import Any

import orjson
from gunicorn import util
from gunicorn.http import wsgi
from gunicorn.workers.gthread import ThreadWorker

from services.api.errors import code_for_reason, error_document


class _NoBannerResponse(wsgi.Response):
    """gunicorn's response without its ``Server: gunicorn`` line (gunicorn has no setting)."""

    def default_headers(self) -> list[str]:
        return [h for h in super().default_headers() if not h.startswith("Server:")]


class _Captured:
    """Takes the place of the client's socket while gunicorn writes its own error answer, so
    that its choice of status and reason (and its logging) are kept, not copied here."""

    def __init__(self) -> None:
        self.data = b""

    def gettimeout(self) -> float:
        return 0.0  # non-blocking already: util.write_nonblock writes straight to sendall

    def setblocking(self, flag: bool) -> None:
        pass

    def sendall(self, data: bytes) -> None:
        self.data += data


class JsonErrorWorker(ThreadWorker):
    def init_process(self) -> None:
        # wsgi.create builds every response from this module attribute; this worker's
        # process serves only the API.
        wsgi.Response = _NoBannerResponse  # type: ignore[misc]
        super().init_process()

    def _message(self, status: int) -> str:
        cfg = self.cfg
        return {
            400: "the request is not valid HTTP/1.1 (request line, a header's name or value, or "
                 "the chunked body framing); fix the client",
            414: f"the request line is longer than {cfg.limit_request_line} bytes; send shorter "
                 "query parameters (a page cursor is at most 512 characters)",
            431: f"the request has more than {cfg.limit_request_fields} headers or a header line "
                 f"longer than {cfg.limit_request_field_size} bytes; send fewer or smaller headers",
            501: "this Transfer-Encoding is not supported; send the body with Content-Length or "
                 "Transfer-Encoding: chunked",
            500: "unexpected server error; it has been logged",
        }.get(status, "the request was refused before it reached the API")

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        captured = _Captured()
        super().handle_error(req, captured, addr, exc)
        try:
            _, status_text, reason = captured.data.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            status = int(status_text)
        except ValueError:  # gunicorn wrote nothing we can read: still answer, as a 500
            status, reason = 500, "Internal Server Error"
        body = orjson.dumps(error_document(code_for_reason(reason), self._message(status)))
        head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n")
        try:
            util.write_nonblock(client, head.encode("latin-1") + body)
        except Exception:  # the client is gone; gunicorn ignores this failure the same way
            self.log.debug("Failed to send error message.")
