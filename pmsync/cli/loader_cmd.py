"""``pmsync loader``: run the loader service (bookings topic → Postgres)."""

from __future__ import annotations

import click

from pmsync.cli import Context, main, pass_context


@main.command("loader")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=5000, show_default=True,
              help="Most messages stored in one transaction.")
@click.option("--max-wait-ms", type=click.IntRange(1, 600_000), default=1000, show_default=True,
              help="Longest a message waits for its batch to fill.")
@click.option("--group-id", default=None,
              help="Kafka consumer group (default: PMSYNC_GROUP_PREFIX-loader; loaders in one group "
                   "share the partitions).")
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=None,
              help="Serve Prometheus metrics on this port (off when not given).")
@click.option("--no-migrate", is_flag=True, help="Do not apply pending migrations at start.")
@pass_context
def loader(ctx: Context, batch_size: int, max_wait_ms: int, group_id: str | None,
           metrics_port: int | None, no_migrate: bool) -> None:
    """Consume the bookings topic in batches and upsert into Postgres (stops on SIGTERM/SIGINT)."""
    from pmsync.loader.consume import LoaderOptions
    from pmsync.logs import setup_logging
    from services.loader.main import run

    setup_logging(ctx.settings.log_level, service="loader")
    run(ctx.settings, LoaderOptions(batch_size=batch_size, max_wait_s=max_wait_ms / 1000,
                                    group_id=group_id),
        metrics_port=metrics_port, migrate_first=not no_migrate)
