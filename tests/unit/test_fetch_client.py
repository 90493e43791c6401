"""One page over real HTTP (a local aiohttp server): status handling, bodies, timeouts, breaker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pmsync.errors import PMSConnectionError
from pmsync.fetching.breaker import CLOSED, OPEN, BreakerSettings, Breakers, CircuitOpenError
from pmsync.fetching.client import PageClient, PageRequest
from pmsync.fetching.retry import RetryableError, RetryPolicy
from tests.ports import unused_port

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FAST = RetryPolicy(attempts=3, backoff_initial_s=0.01, backoff_max_s=0.02, jitter_s=0.0,
                   max_retry_after_s=5)


def _serve(responses: list[Handler], test: Callable[[PageClient, str, list[web.Request]], Awaitable[Any]],
           policy: RetryPolicy = FAST, timeout_s: float = 5.0, breakers: Breakers | None = None) -> Any:
    """Run ``test`` against a server that answers with ``responses`` in turn (the last repeats)."""
    seen: list[web.Request] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append(request)
        return await responses[min(len(seen), len(responses)) - 1](request)

    async def main() -> Any:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as session:
            sleeps: list[float] = []

            async def sleep(seconds: float) -> None:
                sleeps.append(seconds)

            client = PageClient(session, breakers or Breakers(), policy, timeout_s, sleep)
            client.sleeps = sleeps  # type: ignore[attr-defined]
            return await test(client, str(server.make_url("/res")), seen)

    return asyncio.run(main())


def _json(body: Any, status: int = 200, **headers: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response(body, status=status, headers=headers)
    return handler


def _raw(body: bytes, status: int = 200) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, status=status, content_type="application/json")
    return handler


def _request(url: str) -> PageRequest:
    return PageRequest("GET", url, {"api_key": "SECRET-KEY", "page": "1"},
                       {"Authorization": "Bearer SECRET-TOKEN"})


def test_a_page_is_fetched_with_its_query_headers_and_body():
    async def test(client: PageClient, url: str, seen: list[web.Request]) -> Any:
        request = PageRequest("POST", url, {"page": "2"}, {"X-Key": "k"}, {"since": "S"})
        return await client.fetch("h1", request), seen[0]

    body, seen = _serve([_json({"data": [{"id": 1}]})], test)
    assert body == {"data": [{"id": 1}]}
    assert seen.method == "POST" and seen.query["page"] == "2" and seen.headers["X-Key"] == "k"


def test_429_waits_for_retry_after_then_succeeds():
    async def test(client: PageClient, url: str, seen: list[web.Request]) -> Any:
        return await client.fetch("h1", _request(url)), len(seen), client.sleeps  # type: ignore

    body, calls, sleeps = _serve([_json({}, 429, **{"Retry-After": "2"}), _json([1])], test)
    assert body == [1] and calls == 2 and sleeps == [2.0]


def test_5xx_is_retried_until_attempts_run_out_and_names_no_secret():
    async def test(client: PageClient, url: str, seen: list[web.Request]) -> Any:
        with pytest.raises(RetryableError) as err:
            await client.fetch("h1", _request(url))
        return str(err.value), len(seen)

    message, calls = _serve([_json({"error": "SECRET-KEY echoed"}, 503)], test)
    assert calls == 3
    assert "HTTP 503" in message and "/res" in message
    assert "SECRET" not in message


def test_a_4xx_is_not_retried_and_says_what_to_check():
    async def test(client: PageClient, url: str, seen: list[web.Request]) -> Any:
        with pytest.raises(PMSConnectionError) as err:
            await client.fetch("h1", _request(url))
        return err.value, len(seen)

    error, calls = _serve([_json({"error": "bad key"}, 401)], test)
    assert calls == 1 and not isinstance(error, RetryableError)
    assert "HTTP 401" in str(error) and "credentials" in str(error)


@pytest.mark.parametrize("raw", [b'{"data": [{"id": 1}, {"id"', b"<html>oops</html>", b"",
                                 b'{"a": NaN}', b'{"a": 1} trailing'])
def test_a_malformed_or_truncated_body_is_a_connection_error(raw):
    async def test(client: PageClient, url: str, seen: list[web.Request]) -> Any:
        with pytest.raises(RetryableError) as err:
            await client.fetch("h1", _request(url))
        return str(err.value), len(seen)

    message, calls = _serve([_raw(raw)], test)
    assert "not valid JSON" in message and calls == 3


def test_a_body_cut_short_of_its_content_length_is_a_connection_error():
    async def cut(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "1000",
                                               "Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"data": [')
        # Closing the transport mid-body is what a dropped connection looks like.
        request.transport.close()  # type: ignore[union-attr]
        return response

    async def test(client: PageClient, url: str, seen: list[web.Request]) -> Any:
        with pytest.raises(RetryableError) as err:
            await client.fetch("h1", _request(url))
        return str(err.value)

    assert "failed" in _serve([cut], test)


def test_a_hanging_pms_times_out():
    async def hang(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(30)
        return web.json_response([])

    async def test(client: PageClient, url: str, seen: list[web.Request]) -> Any:
        with pytest.raises(RetryableError) as err:
            await client.fetch("h1", _request(url))
        return str(err.value)

    assert "did not answer within" in _serve([hang], test, RetryPolicy(attempts=1), timeout_s=0.2)


def _by_hotel(failing: set[str]) -> Handler:
    """A host where the hotels named in ``failing`` (query ``hotel``) always get a 500."""
    async def handler(request: web.Request) -> web.StreamResponse:
        if request.query.get("hotel") in failing:
            return web.json_response({"error": "boom"}, status=500)
        return web.json_response({"data": []})
    return handler


def _for(url: str, hotel: str) -> PageRequest:
    return PageRequest("GET", url, {"hotel": hotel}, {})


def test_one_hotels_failures_never_open_the_circuit_for_the_others_on_its_host():
    breakers = Breakers(BreakerSettings(failure_threshold=2, reset_after_s=60))

    async def test(client: PageClient, url: str, seen: list[web.Request]) -> Any:
        for _ in range(5):
            with pytest.raises(RetryableError, match="HTTP 500"):
                await client.fetch("broken", _for(url, "broken"))
        return await client.fetch("healthy", _for(url, "healthy")), \
            client.breakers.for_host(_for(url, "x").host).state

    body, state = _serve([_by_hotel({"broken"})], test, RetryPolicy(attempts=3, backoff_initial_s=0.01),
                         breakers=breakers)
    assert body == {"data": []} and state == CLOSED


def test_failures_spread_over_most_of_a_hosts_hotels_open_its_circuit():
    breakers = Breakers(BreakerSettings(spread_min_hotels=3, spread_ratio=0.8, reset_after_s=60))

    async def test(client: PageClient, url: str, seen: list[web.Request]) -> Any:
        await client.fetch("ok-1", _for(url, "ok-1"))
        for hotel in ("a", "b", "c"):
            with pytest.raises(RetryableError):
                await client.fetch(hotel, _for(url, hotel))
        # 3 of the 4 hotels seen are failing (75%): still closed.
        await client.fetch("ok-2", _for(url, "ok-2"))
        for hotel in ("d", "e", "f", "g", "h"):
            with pytest.raises(RetryableError):
                await client.fetch(hotel, _for(url, hotel))
        # 8 of 10 failing: open, and the next hotel's request is not sent.
        sent = len(seen)
        with pytest.raises(CircuitOpenError, match="8 of the 10 hotels"):
            await client.fetch("ok-3", _for(url, "ok-3"))
        return sent, len(seen)

    before, after = _serve([_by_hotel(set("abcdefgh"))], test, RetryPolicy(attempts=1),
                           breakers=breakers)
    assert before == after


def test_a_host_that_refuses_connections_opens_its_circuit_for_every_hotel():
    breakers = Breakers(BreakerSettings(failure_threshold=2, reset_after_s=60))
    down = f"http://127.0.0.1:{unused_port()}/res"

    async def test(client: PageClient, url: str, seen: list[web.Request]) -> Any:
        with pytest.raises(RetryableError, match="could not be reached") as first:
            await client.fetch("h1", _request(down))
        with pytest.raises(CircuitOpenError, match="2 consecutive connection failures"):
            await client.fetch("h2", _request(down))
        # Another host is not affected.
        await client.fetch("h3", _request(url))
        return str(first.value), client.breakers.for_host(_request(down).host).state

    message, state = _serve([_json({})], test, RetryPolicy(attempts=2, backoff_initial_s=0.01),
                            breakers=breakers)
    assert state == OPEN and "check that the hotel's base URL" in message


def test_a_credential_that_cannot_go_in_a_header_fails_without_showing_it():
    async def test(client: PageClient, url: str, seen: list[web.Request]) -> Any:
        request = PageRequest("GET", url, {}, {"Authorization": "Bearer LEAK\r\nX-Evil: 1"})
        with pytest.raises(PMSConnectionError) as err:
            await client.fetch("h1", request)
        return err.value, len(seen)

    error, calls = _serve([_json([])], test)
    assert calls == 0 and not isinstance(error, RetryableError)
    assert "LEAK" not in str(error) and "could not be sent" in str(error)
