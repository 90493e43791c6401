"""``pmsync simulator``: run the PMS simulator, print its hotel registry, write golden samples."""

from __future__ import annotations

import json
from pathlib import Path

import click

from pmsync.cli import main


def _faults(path: Path | None, flags: tuple[str, ...]) -> dict | None:
    """The fault settings: the file's, then each ``--fault name=value`` on top of its default."""
    data: dict = {}
    if path is not None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise click.BadParameter(f"{path}: {exc}", param_hint="--faults") from None
        if not isinstance(data, dict):
            raise click.BadParameter(f"{path}: expected a JSON object", param_hint="--faults")
    for flag in flags:
        name, sep, value = flag.partition("=")
        try:
            number = float(value) if sep else None
        except ValueError:
            number = None
        if number is None:
            raise click.BadParameter(f"{flag!r}: expected name=number, e.g. error_rate=0.1",
                                     param_hint="--fault")
        data.setdefault("default", {})[name.strip()] = number
    return data or None


@main.group("simulator", invoke_without_command=True)
@click.option("--hotels", default=12, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8081, show_default=True, type=click.IntRange(1, 65535))
@click.option("--faults", "faults_file", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="JSON fault settings (see pmsync/simulator/faults.py)")
@click.option("--fault", "fault_flags", multiple=True, metavar="NAME=VALUE",
              help="a default fault setting for every hotel, e.g. --fault error_rate=0.1 "
                   "--fault latency_ms=50 (repeatable; overrides the file's default)")
@click.option("--tick-seconds", type=click.FloatRange(min=0.1), default=None,
              help="advance time by itself every N seconds (default: only POST /_sim/tick)")
@click.option("--invalid-rate", default=0.05, show_default=True, type=click.FloatRange(0, 1))
@click.option("--bookings", "initial_bookings", default=30, show_default=True,
              type=click.IntRange(0, 100_000), help="bookings per hotel at start")
@click.option("--base-url", default=None, help="URL the hotels' registry advertises "
              "(default http://HOST:PORT)")
@click.pass_context
def simulator(ctx: click.Context, hotels: int, seed: int, host: str, port: int,
              faults_file: Path | None, fault_flags: tuple[str, ...], tick_seconds: float | None, invalid_rate: float,
              initial_bookings: int, base_url: str | None) -> None:
    """Serve simulated hotels of every shipped PMS family over HTTP."""
    from pmsync.simulator import Simulator
    try:
        sim = Simulator(seed, hotels, base_url=base_url or f"http://{host}:{port}",
                        invalid_rate=invalid_rate, initial_bookings=initial_bookings,
                        faults=_faults(faults_file, fault_flags))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    ctx.obj = sim
    if ctx.invoked_subcommand is not None:
        return
    from pmsync.simulator import run
    click.echo(f"pms simulator: {hotels} hotels (seed {seed}) on http://{host}:{port} "
               f"(control API under /_sim/)", err=True)
    run(sim, host, port, tick_seconds)


@simulator.command("hotels")
@click.option("--no-credentials", is_flag=True, help="leave the fake credentials out")
@click.pass_obj
def hotels_cmd(sim: object, no_credentials: bool) -> None:
    """Print the registry of hotels the simulator with these options serves (JSON)."""
    click.echo(json.dumps(sim.hotels(not no_credentials), indent=2,  # type: ignore[attr-defined]
                          ensure_ascii=False))


@simulator.command("golden")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("pms_configs"), show_default=True)
def golden_cmd(out: Path) -> None:
    """(Re)write every family's golden sample (raw.json + expected.json) under OUT."""
    from pmsync.simulator.golden import write_all
    for path in write_all(out):
        click.echo(str(path))
