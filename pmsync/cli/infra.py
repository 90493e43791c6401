"""``pmsync stack``, ``pmsync topics``, ``pmsync db``: the ground the services stand on."""

from __future__ import annotations

import json
import time

import click

from pmsync.cli import Context, main, pass_context
from pmsync.stack.process import StackError


def _echo_table(rows: dict[str, str]) -> None:
    width = max((len(k) for k in rows), default=0)
    for key, value in rows.items():
        click.echo(f"{key.ljust(width)}  {value}")


@main.group()
def stack() -> None:
    """The native dev stack (Kafka KRaft + Postgres) for machines without Docker."""


@stack.command("up")
@pass_context
def stack_up(ctx: Context) -> None:
    """Install what is missing and start Kafka and Postgres (a no-op when they run)."""
    from pmsync.stack import native
    started = time.monotonic()
    try:
        _echo_table(native.up(ctx.settings))
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"stack ready in {time.monotonic() - started:.1f}s")


@stack.command("down")
@pass_context
def stack_down(ctx: Context) -> None:
    """Stop what ``stack up`` started."""
    from pmsync.stack import native
    _echo_table(native.down(ctx.settings))


@stack.command("status")
@pass_context
def stack_status(ctx: Context) -> None:
    from pmsync.stack import native
    _echo_table(native.status(ctx.settings))


@main.group()
def topics() -> None:
    """Kafka topics."""


@topics.command("create")
@pass_context
def topics_create(ctx: Context) -> None:
    """Create the topics of docs/design.md (idempotent)."""
    from pmsync.kafka.topics import create_topics
    _echo_table(create_topics(ctx.settings))


@main.group()
def db() -> None:
    """Database schema."""


@db.command("migrate")
@pass_context
def db_migrate(ctx: Context) -> None:
    """Apply pending SQL migrations (idempotent)."""
    from pmsync.db.migrate import migrate
    applied = migrate(ctx.settings.database_url)
    click.echo(f"applied: {', '.join(applied)}" if applied else "schema is up to date")


@main.command("compile")
def compile_modules() -> None:
    """Compile the per-record modules with Cython (see pmsync/compiled.py); skips current ones."""
    from pmsync.compiled import BUILD_DIR, MODULES, build
    built = build()
    click.echo(f"compiled {len(built)} of {len(MODULES)} modules into {BUILD_DIR}"
               + ("" if built else " (all were current)"))


@main.command("settings")
@pass_context
def show_settings(ctx: Context) -> None:
    """Print the settings in force (passwords masked)."""
    click.echo(json.dumps(ctx.settings.redacted(), indent=2))
