"""Reading a JSON request body: its size, syntax, nesting and type are checked before a view
looks at it, and each failure is a 4xx that says what to send instead.

- Size: over ``MAX_CONTENT_LENGTH`` is 413, whether the body says its length or comes
  chunked. Werkzeug refuses a too-large Content-Length itself, but stops reading a chunked body
  at the limit without a word, which left a truncated body and a misleading "not valid JSON".
- Nesting: at most ``MAX_DEPTH`` levels. Deeper documents are no PMS config or sample (the
  shipped configs nest 11 levels), and code that walks them recursively (the JSON module,
  the config meta-schema check, the dry run) would fail with a RecursionError, a 500.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from flask import current_app, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from services.api.errors import ApiError

MAX_DEPTH = 64
log = logging.getLogger(__name__)


def _body_bytes() -> bytes:
    try:
        data = request.get_data(cache=True)  # 413 already when Content-Length is over the limit
    except HTTPException:
        raise
    except Exception as exc:
        # The server could not decode the body's framing while the view read it (gunicorn
        # raises its ParseException from wsgi.input: a bad chunk size, extension or CRLF).
        # Nothing of ours failed; without this it was a 500.
        log.info("unreadable request body", extra={"error_class": type(exc).__name__})
        raise ApiError(400, "invalid_body", "the body could not be read: its chunked framing is "
                                            "broken (chunk size, extension or CRLF); fix it or send "
                                            "the body with Content-Length") from None
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is None and len(data) >= limit and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()
    return data


def nesting_exceeds(value: Any, limit: int) -> bool:
    """True when ``value`` has containers more than ``limit`` levels deep (no recursion, so
    any depth is safe to check)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def json_object() -> dict[str, Any]:
    """The request's body: a JSON object of at most ``MAX_DEPTH`` levels (415, 413 or 400
    otherwise)."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    too_deep = ApiError(400, "invalid_body", f"the body is nested more than {MAX_DEPTH} levels deep; "
                                             "a PMS config or sample page never needs that many")
    try:
        body = orjson.loads(_body_bytes())
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):  # orjson's own limit, 1024 levels
            raise too_deep from None
        # orjson's message names the position (line, column), never the body's text.
        raise ApiError(400, "invalid_body", f"the body is not valid JSON: {exc}") from None
    if nesting_exceeds(body, MAX_DEPTH):
        raise too_deep
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "the body must be a JSON object")
    return body
