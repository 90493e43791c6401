"""The ``pmsync`` command: one entry point for services, the dev stack and the config tools.

Sub-command groups live in their own modules and register themselves on ``main`` here.
"""

from __future__ import annotations

import sys

import click

from pmsync.errors import SettingsError
from pmsync.logs import setup_logging
from pmsync.settings import Settings, get_settings


class Context:
    """What every sub-command gets: settings read and validated once."""

    def __init__(self) -> None:
        try:
            self.settings: Settings = get_settings()
        except SettingsError as exc:
            raise click.ClickException(f"bad setting: {exc}") from None


pass_context = click.make_pass_decorator(Context, ensure=True)


@click.group()
@click.version_option(package_name="pmsync")
def main() -> None:
    """pmsync: PMS reservations in, clean multi-tenant bookings out."""
    try:
        setup_logging(get_settings().log_level)
    except SettingsError as exc:
        click.echo(f"Error: bad setting: {exc}", err=True)
        sys.exit(2)


def _register() -> None:
    """Import each command module once; importing registers its commands on ``main``.
    Add one line per module here (keep heavy imports inside the commands)."""
    from pmsync.cli import infra  # noqa: F401  (stack, topics, db, settings)
    from pmsync.cli import config_cmd  # noqa: F401
    from pmsync.cli import simulator_cmd  # noqa: F401
    from pmsync.cli import fetcher_cmd  # noqa: F401
    from pmsync.cli import api_cmd  # noqa: F401
    from pmsync.cli import pipeline_cmd  # noqa: F401  (validator, mapper, dlq)
    from pmsync.cli import loader_cmd  # noqa: F401


_register()
