"""How big a message pmsync sends to Kafka may be, and what the DLQ gets instead of one that is
too big to forward.

Why a limit of our own: the broker's ``message.max.bytes`` (default 1 MiB) caps every topic
unless the topic overrides ``max.message.bytes``, and the clients' ``max_request_size`` is
1 MiB too. Another producer may have written a larger message to a topic created with a
larger ``max.message.bytes``; read from there, it does not fit the next topic. The broker then
refuses it (``MessageSizeTooLargeError``) on every attempt, and a worker that waits for that
ack stops on the same offset at every restart. So every sender (fetcher, validator, mapper,
loader's DLQ path) checks the size itself and dead-letters what does not fit, with a bounded
preview (``shrink``) that always fits.

This module must never drop a message silently: what it cuts, it says it cut.
"""

from __future__ import annotations

from typing import Final

from pmsync.errors import PMSDataValidationError, PMSError
from pmsync.kafka import dlq
from pmsync.kafka.headers import Headers

# Kafka's default message.max.bytes is 1 MiB; headers and the record batch need some of it.
MAX_RECORD_BYTES: Final = 900_000
# What the DLQ keeps of a message too large to forward: enough to see what it is.
PREVIEW_BYTES: Final = 64 * 1024
# What the DLQ keeps of each original header of such a message, and of all of them together
# (a 2 MB lookup-context header must not make the preview too large as well).
HEADER_PREVIEW_BYTES: Final = 8 * 1024
HEADERS_BUDGET_BYTES: Final = 128 * 1024


def record_bytes(key: bytes | None, value: bytes | None, headers: Headers) -> int:
    """The message's size as the broker counts it, less a few bytes of framing."""
    return (len(key or b"") + len(value or b"")
            + sum(len(k.encode("utf-8")) + len(v or b"") for k, v in headers))


def fits(key: bytes | None, value: bytes | None, headers: Headers) -> bool:
    return record_bytes(key, value, headers) <= MAX_RECORD_BYTES


def too_large_error(size: int, error_class: type[PMSError] = PMSDataValidationError,
                    what: str = "the reservation", fix: str = "fix the record at the PMS and "
                    "re-sync the hotel") -> PMSError:
    """The reject of a message too large to forward; ``error_class`` gives its stage."""
    return error_class(f"{what} is {size:,} bytes with its headers, more than the "
                       f"{MAX_RECORD_BYTES:,} a Kafka message may carry here, so it was not "
                       f"forwarded; {fix}", path="$")


def shrink(value: bytes | None, headers: Headers) -> tuple[bytes, Headers]:
    """A DLQ message (``value`` and ``headers`` as ``dlq_headers`` built them) cut so that it
    fits: the first ``PREVIEW_BYTES`` of the value, the original headers cut to their budget,
    every error header kept, and ``error.message`` extended to say what was cut."""
    value = value or b""
    size = record_bytes(None, value, headers)
    original = dlq.without_error_headers(headers)
    kept: Headers = []
    budget, cut = HEADERS_BUDGET_BYTES, 0
    for k, v in original:
        short = (v or b"")[:HEADER_PREVIEW_BYTES]
        if len(short) + len(k) > budget:
            cut += 1
            continue
        cut += len(short) != len(v or b"")
        budget -= len(short) + len(k)
        kept.append((k, short))
    note = (f" [The DLQ message would have been {size:,} bytes: it keeps the first "
            f"{min(len(value), PREVIEW_BYTES):,} of the value's {len(value):,} bytes"
            + (f", and {cut} of the {len(original)} original headers are cut or left out" if cut else "")
            + ". Replaying this preview cannot work: fix the record where it came from.]")
    errors = [(k, v + note.encode() if k == dlq.MESSAGE else v) for k, v in dlq.error_headers(headers)]
    return value[:PREVIEW_BYTES], kept + errors
