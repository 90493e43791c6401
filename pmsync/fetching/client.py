"""One PMS page over HTTP: send the rendered request, classify the answer, parse the body.

Every request passes through its host's circuit breaker and the retry policy, and has its own
timeout. Each outcome is reported to the breaker as what it says about the host: a connection
that could not be made (refused, DNS, TLS) is the host's failure; a 5xx, 429, timeout,
unreadable body or 4xx may be this hotel's alone and is reported as the hotel's (the breaker
opens on those only when they spread over most of the host's hotels, see ``breaker.py``). Any failure leaves as a ``PMSConnectionError`` whose message names the method, host
and path and what went wrong, never the query string, headers or body, which may carry
credentials. A body that is not complete, valid JSON is an error for that page: nothing from
it is ever published.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from pmsync.errors import PMSConnectionError
from pmsync.fetching import metrics
from pmsync.fetching.breaker import Breakers, CircuitOpenError
from pmsync.fetching.retry import RetryableError, RetryPolicy, parse_retry_after, with_retries

# 408 and 425 are "try again" by definition; 429 and 5xx are the PMS being busy or broken.
_RETRY_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True)
class PageRequest:
    method: str
    url: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None
    # The URL with the config's path before substitution, used to name the request in
    # errors, since a rendered path could hold a credential.
    url_template: str | None = None

    @property
    def where(self) -> str:
        """How errors name the request: method, host and path only (no query: secrets)."""
        if self.url_template is not None:
            return f"{self.method} {self.url_template}"
        parts = urlsplit(self.url)
        return f"{self.method} {parts.scheme}://{parts.netloc}{parts.path}"

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_body(raw: bytes) -> Any:
    """Strict JSON: NaN/Infinity and trailing garbage are refused like truncation is.

    The standard library parser is used because it keeps integers of any size exact; records
    are re-serialized from this tree, so a lossy parse would change what is published."""
    return json.loads(raw, parse_constant=_reject_constant)


class PageClient:
    def __init__(self, session: aiohttp.ClientSession, breakers: Breakers, policy: RetryPolicy,
                 timeout_s: float = 30.0,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.session = session
        self.breakers = breakers
        self.policy = policy
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.sleep = sleep

    async def fetch(self, hotel_id: str, request: PageRequest) -> Any:
        """The parsed JSON body of ``request``, after retries; raises PMSConnectionError."""
        return await with_retries(lambda: self._attempt(hotel_id, request), self.policy, self.sleep)

    async def _attempt(self, hotel_id: str, request: PageRequest) -> Any:
        breaker = self.breakers.for_host(request.host)
        try:
            breaker.before_request()
        except CircuitOpenError:
            metrics.REQUESTS.labels(hotel_id=hotel_id, status="circuit_open").inc()
            raise
        outcome = "network"
        try:
            async with self.session.request(
                    request.method, request.url, params=request.query or None,
                    headers=request.headers or None,
                    json=request.body if request.body is not None else None,
                    timeout=self.timeout) as response:
                outcome = str(response.status)
                raw = await response.read()
                if response.status in _RETRY_STATUSES or response.status >= 500:
                    raise RetryableError(
                        f"{request.where} answered HTTP {response.status}",
                        retry_after=parse_retry_after(response.headers.get("Retry-After")))
                if response.status >= 400:
                    raise PMSConnectionError(
                        f"{request.where} answered HTTP {response.status}; check the hotel's "
                        "credentials reference, property id and base URL")
            try:
                body = parse_body(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                outcome = "malformed"
                raise RetryableError(f"{request.where} sent a body that is not valid JSON "
                                     f"({len(raw)} bytes): {exc}") from None
        except asyncio.TimeoutError:
            outcome = "timeout"
            breaker.record_hotel_failure(hotel_id)
            metrics.REQUESTS.labels(hotel_id=hotel_id, status=outcome).inc()
            raise RetryableError(f"{request.where} did not answer within "
                                 f"{self.timeout.total:g}s") from None
        except aiohttp.ClientConnectorError as exc:
            # Refused, DNS or TLS (all subclasses): nobody on this host can be reached.
            breaker.record_host_failure(hotel_id)
            metrics.REQUESTS.labels(hotel_id=hotel_id, status="connect").inc()
            raise RetryableError(f"{request.where} could not be reached: {type(exc).__name__}; "
                                 "check that the hotel's base URL is right and the PMS is "
                                 "up") from None
        except aiohttp.ClientError as exc:
            # Reset or disconnected mid-answer: the host was reachable, so this hotel's failure.
            breaker.record_hotel_failure(hotel_id)
            metrics.REQUESTS.labels(hotel_id=hotel_id, status=outcome).inc()
            # aiohttp's message can include the URL with its query; keep the class name only.
            raise RetryableError(f"{request.where} failed: {type(exc).__name__}") from None
        except (ValueError, TypeError) as exc:
            # Raised while building the request (e.g. a credential with a newline in a header);
            # the library's message may quote the value, so only its class is kept.
            breaker.release()
            metrics.REQUESTS.labels(hotel_id=hotel_id, status="invalid_request").inc()
            raise PMSConnectionError(f"{request.where}: the request could not be sent "
                                     f"({type(exc).__name__}); check the hotel's credentials and "
                                     "the config's request template") from None
        except PMSConnectionError:
            # 5xx, 429, an unreadable body, a 4xx: the host answered, so this is counted against
            # the hotel (RetryableError is a PMSConnectionError).
            breaker.record_hotel_failure(hotel_id)
            metrics.REQUESTS.labels(hotel_id=hotel_id, status=outcome).inc()
            raise
        except BaseException:
            breaker.release()
            raise
        breaker.record_success(hotel_id)
        metrics.REQUESTS.labels(hotel_id=hotel_id, status=outcome).inc()
        return body
