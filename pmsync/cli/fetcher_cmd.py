"""``pmsync fetcher`` (the service, or one pass with ``--once``) and ``pmsync hotels`` (registry).

Commands print ids, references and statuses; never a credential value.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import click

from pmsync.cli import Context, main, pass_context


@main.command("fetcher")
@click.option("--once", is_flag=True, help="Run one sync of each hotel and exit (non-zero if any failed).")
@click.option("--hotel", "hotel_ids", multiple=True, help="Only this hotel (repeatable; with --once).")
@click.option("--concurrency", type=click.IntRange(1, 5000), default=256, show_default=True,
              help="Hotels synced at the same time (mostly waiting on their PMS, so many are cheap).")
@click.option("--timeout", "timeout_s", type=click.FloatRange(0.1, 600), default=30.0,
              show_default=True, help="Seconds per HTTP request.")
@click.option("--registry-refresh", "refresh_s", type=click.FloatRange(1, 3600), default=30.0,
              show_default=True, help="Seconds between re-reads of the hotels registry.")
@click.option("--attempts", type=click.IntRange(1, 20), default=4, show_default=True,
              help="Tries per page request (network errors, timeouts, 429, 5xx, bad bodies).")
@click.option("--breaker-failures", type=click.IntRange(1, 10_000), default=5, show_default=True,
              help="Consecutive connection failures (refused, DNS, TLS) to one PMS host that open "
                   "its circuit; a hotel's own failures never do, unless most of the host's hotels "
                   "fail together.")
@click.option("--breaker-reset", "breaker_reset_s", type=click.FloatRange(0.1, 3600), default=30.0,
              show_default=True, help="Seconds an open circuit waits before one probe request.")
@click.option("--backoff-max", "backoff_max_s", type=click.FloatRange(1, 7 * 86400),
              default=3600.0, show_default=True,
              help="Longest wait, in seconds, before a hotel whose syncs keep failing is tried "
                   "again (its wait doubles with each failed sync up to this; a success resets it).")
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=None,
              help="Serve Prometheus /metrics on this port.")
@pass_context
def fetcher(ctx: Context, once: bool, hotel_ids: tuple[str, ...], concurrency: int, timeout_s: float,
            refresh_s: float, attempts: int, breaker_failures: int, breaker_reset_s: float,
            backoff_max_s: float, metrics_port: int | None) -> None:
    """Pull reservations from every active hotel's PMS into the raw topic."""
    from aiokafka.errors import KafkaError
    from psycopg_pool import PoolTimeout

    from pmsync.fetching.retry import RetryPolicy
    from pmsync.fetching.runner import Fetcher, FetcherOptions

    if hotel_ids and not once:
        raise click.UsageError("--hotel works with --once; the service polls every active hotel")
    from pmsync.probes import Probe, serve
    probe = Probe.from_env()
    if metrics_port is not None:
        serve(probe, metrics_port)   # /metrics, /healthz, /readyz
    options = FetcherOptions(concurrency=concurrency, request_timeout_s=timeout_s,
                             registry_refresh_s=refresh_s, retry=RetryPolicy(attempts=attempts),
                             breaker_failures=breaker_failures, breaker_reset_s=breaker_reset_s,
                             backoff_max_s=backoff_max_s)

    async def run_once() -> int:
        async with Fetcher(ctx.settings, options) as service:
            results = await service.run_once(list(hotel_ids) or None)
        for r in results:
            click.echo(json.dumps({"hotel_id": r.hotel_id, "ok": r.ok, "records": r.records,
                                   "pages": r.pages, "delta_cursor": r.delta_cursor,
                                   "error": r.error, "seconds": round(r.seconds, 3)}))
        return 0 if all(r.ok for r in results) else 1

    async def run_forever() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with Fetcher(ctx.settings, options, probe=probe) as service:
            await service.run_forever(stop)
        return 0

    try:
        code = asyncio.run(run_once() if once else run_forever())
    except (OSError, KafkaError, PoolTimeout) as exc:
        # Kafka or Postgres unreachable at start: say which, without a traceback.
        raise click.ClickException(f"cannot start the fetcher: {type(exc).__name__}: {exc}") from None
    sys.exit(code)


@main.group()
def hotels() -> None:
    """The hotels registry (tenants, their PMS and how to reach it)."""


@hotels.command("add")
@click.argument("hotel_id")
@click.option("--pms-type", required=True)
@click.option("--pms-version", required=True)
@click.option("--base-url", required=True, help="The PMS API root, e.g. https://api.pms.example")
@click.option("--property-id", required=True, help="The hotel's id at its PMS.")
@click.option("--credentials-ref", default=None,
              help="Name of the secret (PMSYNC_SECRET_<REF> or <secrets dir>/<ref>.json).")
@click.option("--poll-interval", type=click.IntRange(1, 86400), default=60, show_default=True,
              help="Seconds between syncs.")
@click.option("--name", default=None, help="Display name (default: the id).")
@pass_context
def hotels_add(ctx: Context, hotel_id: str, pms_type: str, pms_version: str, base_url: str,
               property_id: str, credentials_ref: str | None, poll_interval: int,
               name: str | None) -> None:
    """Register a hotel; the fetcher starts polling it at its next registry refresh."""
    from pmsync import hotels as registry
    from pmsync.db.connect import connect

    hotel = registry.Hotel(hotel_id, name or hotel_id, pms_type, pms_version, base_url, property_id,
                           credentials_ref, poll_interval)
    with connect(ctx.settings.database_url, autocommit=True) as conn:
        try:
            added = registry.add_hotel(conn, hotel)
        except registry.HotelError as exc:
            raise click.ClickException(str(exc)) from None
        if not registry.has_config(conn, pms_type, pms_version):
            click.echo(f"warning: no PMS config {pms_type}/{pms_version} is stored yet; the hotel's "
                       "syncs fail until it is uploaded", err=True)
    click.echo(f"added {added.id} ({added.pms_type}/{added.pms_version}, every {added.poll_interval_s}s)")


@hotels.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per hotel.")
@pass_context
def hotels_list(ctx: Context, as_json: bool) -> None:
    """Every hotel with its status and last sync."""
    from pmsync import hotels as registry
    from pmsync.db.connect import connect

    with connect(ctx.settings.database_url, autocommit=True) as conn:
        rows = registry.list_hotels(conn)
    for row in rows:
        h = row.hotel
        record = {"id": h.id, "name": h.name, "status": h.status, "pms_type": h.pms_type,
                  "pms_version": h.pms_version, "base_url": h.base_url,
                  "property_id": h.property_id, "credentials_ref": h.credentials_ref,
                  "poll_interval_s": h.poll_interval_s, "delta_cursor": row.delta_cursor,
                  "last_success_at": row.last_success_at.isoformat() if row.last_success_at else None,
                  "consecutive_failures": row.consecutive_failures,
                  "records_fetched": row.records_fetched, "last_error": row.last_error,
                  "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None}
        if as_json:
            click.echo(json.dumps(record))
        else:
            health = "ok" if not row.consecutive_failures else f"failing x{row.consecutive_failures}"
            if row.next_attempt_at is not None:
                health += f", backing off until {row.next_attempt_at.isoformat(timespec='seconds')}"
            click.echo(f"{h.id}\t{h.status}\t{h.pms_type}/{h.pms_version}\t{h.base_url}\t"
                       f"every {h.poll_interval_s}s\tcursor={row.delta_cursor or '-'}\t{health}")
    if not rows:
        click.echo("no hotels; add one with `pmsync hotels add`", err=True)


@hotels.command("disable")
@click.argument("hotel_id")
@pass_context
def hotels_disable(ctx: Context, hotel_id: str) -> None:
    """Stop polling a hotel (its bookings and checkpoint are kept)."""
    from pmsync import hotels as registry
    from pmsync.db.connect import connect

    with connect(ctx.settings.database_url, autocommit=True) as conn:
        try:
            registry.disable_hotel(conn, hotel_id)
        except registry.HotelError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"disabled {hotel_id}")
