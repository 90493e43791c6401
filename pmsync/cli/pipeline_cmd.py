"""``pmsync validator``, ``pmsync mapper``, ``pmsync dlq …``: the stream workers and the DLQ tools."""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import datetime

import click

from pmsync.cli import Context, main, pass_context


def _metrics_option(f):
    return click.option("--metrics-port", type=int, default=None,
                        help="Serve /metrics, /healthz and /readyz on this port (all interfaces).")(f)


@main.command()
@_metrics_option
@pass_context
def validator(ctx: Context, metrics_port: int | None) -> None:
    """Run a validator worker (raw → schema check → validated | DLQ). Run more to scale out."""
    from pmsync.streams.worker import run_worker
    from services.validator.agent import spec
    run_worker(ctx.settings, spec(ctx.settings), metrics_port)


@main.command()
@_metrics_option
@pass_context
def mapper(ctx: Context, metrics_port: int | None) -> None:
    """Run a mapper worker (validated → map + rules + sanitize → bookings | DLQ)."""
    from pmsync.streams.worker import run_worker
    from services.mapper.agent import spec
    run_worker(ctx.settings, spec(ctx.settings), metrics_port)


@main.group()
def dlq() -> None:
    """The dead-letter queue: keep, list, show and replay rejects."""


@dlq.command("sink")
@click.option("--no-migrate", is_flag=True, help="Do not apply pending migrations at start.")
@_metrics_option
@pass_context
def dlq_sink(ctx: Context, no_migrate: bool, metrics_port: int | None) -> None:
    """Copy the DLQ topic into Postgres (table dlq_messages) until stopped."""
    from pmsync.db.migrate import migrate
    from pmsync.dlq_tools import run_sink
    from pmsync.probes import Probe, serve

    if not no_migrate:
        # Like the loader: the sink writes columns of the latest migrations (0012), so it
        # brings the schema up to date first (an advisory lock serialises services starting
        # together). Where an init job migrates, pass --no-migrate.
        migrate(ctx.settings.database_url)
    probe = Probe.from_env()
    if metrics_port is not None:
        serve(probe, metrics_port)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_sink(ctx.settings, stop, probe=probe)

    asyncio.run(run())


def _filter_options(f):
    f = click.option("--hotel", "hotel_id", help="Only this hotel.")(f)
    f = click.option("--stage", type=click.Choice(["config", "schema", "mapping", "business_rule", "load"]))(f)
    f = click.option("--error-class", help="e.g. PMSBusinessRuleError")(f)
    f = click.option("--since", type=click.DateTime(), help="Failed at or after (local time).")(f)
    return f


def _make_filter(hotel_id, stage, error_class, since: datetime | None, **extra):
    from pmsync.dlq_tools import DlqFilter
    return DlqFilter(hotel_id=hotel_id, stage=stage, error_class=error_class,
                     since=since.astimezone() if since else None, **extra)


@dlq.command("list")
@_filter_options
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_context
def dlq_list(ctx: Context, hotel_id, stage, error_class, since, limit: int, as_json: bool) -> None:
    """List rejects, oldest first."""
    import psycopg

    from pmsync.dlq_tools import list_rejects
    with psycopg.connect(ctx.settings.database_url) as conn:
        rows = list_rejects(conn, _make_filter(hotel_id, stage, error_class, since, limit=limit))
    for row in rows:
        if as_json:
            click.echo(json.dumps(row, default=str))
        else:
            # The state a person acts on: failed (again, after N replays) or replayed.
            state = "replayed" if row["replayed_at"] else (
                f"failed x{row['attempts']}" if row["attempts"] > 1 else "failed")
            click.echo(f"{row['id']:>7}  {row['failed_at']:%Y-%m-%d %H:%M:%S}  {row['hotel_id'] or '-':<14} "
                       f"{state:<10} {row['stage']:<13} {row['error_class']:<24} {row['error_message'][:90]}")


@dlq.command("show")
@click.argument("dlq_id", type=int)
@pass_context
def dlq_show(ctx: Context, dlq_id: int) -> None:
    """Everything about one reject, with the original message."""
    import psycopg

    from pmsync.dlq_tools import show_reject
    with psycopg.connect(ctx.settings.database_url) as conn:
        row = show_reject(conn, dlq_id)
    if row is None:
        raise click.ClickException(f"no DLQ entry {dlq_id}")
    row["message_key"] = bytes(row["message_key"]).decode("utf-8", "replace") if row["message_key"] else None
    row["message_value"] = bytes(row["message_value"]).decode("utf-8", "replace")
    click.echo(json.dumps(row, default=str, indent=2, ensure_ascii=False))


@dlq.command("replay")
@click.argument("dlq_ids", type=int, nargs=-1)
@_filter_options
@click.option("--all-matching", is_flag=True,
              help="Replay every reject matching the filters that is not replayed yet, or that "
                   "failed again after its last replay.")
@pass_context
def dlq_replay(ctx: Context, dlq_ids, hotel_id, stage, error_class, since, all_matching: bool) -> None:
    """Send rejects back to the raw topic (e.g. after a config fix)."""
    import psycopg

    from pmsync.dlq_tools import list_rejects, replay
    if not dlq_ids and not all_matching:
        raise click.UsageError("name DLQ ids, or use --all-matching with filters")
    with psycopg.connect(ctx.settings.database_url) as conn:
        ids = list(dlq_ids)
        if all_matching:
            flt = _make_filter(hotel_id, stage, error_class, since, not_replayed=True, limit=1_000_000)
            ids += [r["id"] for r in list_rejects(conn, flt)]
        sent = replay(ctx.settings, ids, conn)
    click.echo(f"replayed {sent} message(s) to {ctx.settings.topics.raw}")


@main.command()
@click.option("--down", is_flag=True, help="Stop everything the demo started, and the stack.")
@pass_context
def demo(ctx: Context, down: bool) -> None:
    """Run the whole pipeline on the bundled PMS simulator (or stop it with --down)."""
    from pmsync import demo as demo_module
    if down:
        demo_module.down(ctx.settings, echo=click.echo)
    else:
        demo_module.up(ctx.settings, echo=click.echo)
