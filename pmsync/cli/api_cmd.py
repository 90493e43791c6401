"""``pmsync api`` (serve the Bookings API with gunicorn) and ``pmsync apikey`` (keys).

A new key is printed once, on stdout, and never logged; lists show prefixes only.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import click

from pmsync.cli import Context, main, pass_context


@main.command("api")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port (default: PMSYNC_API_PORT, 8000).")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option("--threads", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Threads per worker (also the worker's pool size).")
@pass_context
def api(ctx: Context, host: str, port: int | None, workers: int, threads: int) -> None:
    """Serve the Bookings API with gunicorn."""
    # Metrics from every worker are aggregated through files in this directory; it must be
    # set before prometheus_client is first imported, and start empty (stale workers' files).
    owned_dir = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        owned_dir = tempfile.mkdtemp(prefix="pmsync-api-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = owned_dir
    from services.api.server import serve
    try:
        serve(ctx.settings, host=host, port=port or ctx.settings.api_port, workers=workers,
              threads=threads)
    finally:
        if owned_dir:
            shutil.rmtree(owned_dir, ignore_errors=True)


@main.group()
def apikey() -> None:
    """API keys (stored hashed; the plain key is shown once)."""


@apikey.command("create")
@click.option("--hotel", "hotel_id", help="The hotel this key reads.")
@click.option("--admin", is_flag=True, help="An admin key (admin routes only).")
@click.option("--name", help="A note to recognise the key by.")
@click.option("--expires", help="When the key stops working: a duration from now (12h, 30d, 8w), "
                                "a date (through that day, UTC) or a date-time with offset. "
                                "Default: never.")
@pass_context
def apikey_create(ctx: Context, hotel_id: str | None, admin: bool, name: str | None,
                  expires: str | None) -> None:
    """Create a key for one hotel (--hotel H) or an admin key (--admin)."""
    from pmsync.apikeys import ApiKeyError, create_key, parse_expiry
    if admin == (hotel_id is not None):
        raise click.UsageError("give exactly one of --hotel H or --admin")
    try:
        expires_at = parse_expiry(expires) if expires is not None else None
        created = create_key(ctx.settings.database_url, hotel_id=hotel_id, admin=admin, name=name,
                             expires_at=expires_at)
    except ApiKeyError as exc:
        raise click.ClickException(str(exc)) from None
    scope = "admin" if created.is_admin else f"hotel {created.hotel_id}"
    until = f", expires {created.expires_at:%Y-%m-%d %H:%M} UTC" if created.expires_at else ""
    click.echo(f"created key {created.prefix}… ({scope}{until}); it is shown only now:", err=True)
    click.echo(created.key)


@apikey.command("revoke")
@click.argument("prefix")
@pass_context
def apikey_revoke(ctx: Context, prefix: str) -> None:
    """Revoke the key with this prefix (as shown by ``apikey list``)."""
    from pmsync.apikeys import revoke_key
    if not revoke_key(ctx.settings.database_url, prefix):
        raise click.ClickException("no active key has this prefix")
    click.echo("revoked")


@apikey.command("list")
@pass_context
def apikey_list(ctx: Context) -> None:
    """Every key's prefix, scope, state and expiry (never the key or its hash)."""
    from pmsync.apikeys import list_keys
    for k in list_keys(ctx.settings.database_url):
        scope = "admin" if k["is_admin"] else f"hotel={k['hotel_id']}"
        if k["revoked_at"]:
            state = f"revoked {k['revoked_at']:%Y-%m-%d}"
        elif k["expired"]:
            state = "expired"
        else:
            state = "active"
        expiry = f"expires {k['expires_at']:%Y-%m-%d %H:%M}Z" if k["expires_at"] else "no expiry"
        click.echo(f"{k['prefix']}  {scope}  {state}  {expiry}  {k['name'] or ''}")
