"""``pmsync config lint|map|test|publish``: the config author's tools. lint, map and test
read files and print, never connecting to a PMS, Kafka or Postgres; publish stores the
configs in Postgres and sends them to the configs topic, where running workers pick them up."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from pmsync.cli import Context, main, pass_context


@main.group("config")
def config_group() -> None:
    """Check, dry-run and test PMS configs."""


@config_group.command("lint")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def lint(files: tuple[Path, ...]) -> None:
    """Check configs against the meta-schema and the semantic checks; list every error."""
    from pmsync.config.load import problems, read
    from pmsync.errors import ConfigError

    failed = False
    for path in files:
        try:
            body, _, file_path = read(path)
            found = problems(body, file_path)
        except ConfigError as exc:
            found = exc.errors
        if found:
            failed = True
            for pointer, message in found:
                click.echo(f"{path}#{pointer or '/'}: {message}")
        else:
            click.echo(f"{path}: ok")
    sys.exit(1 if failed else 0)


@config_group.command("map")
@click.argument("config_file", type=click.Path(path_type=Path))
@click.argument("raw_file", type=click.File("rb"))
def map_page(config_file: Path, raw_file: click.utils.LazyFile) -> None:
    """Map a raw response page: one JSON line per booking or reject, in record order."""
    from pmsync.config import compile_config, load_config
    from pmsync.errors import ConfigError, PMSError
    from pmsync.config.golden import reject

    try:
        compiled = compile_config(load_config(config_file))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        page = orjson.loads(raw_file.read())
    except orjson.JSONDecodeError as exc:
        raise click.ClickException(f"{raw_file.name} is not valid JSON: {exc}") from None
    try:
        records = compiled.records(page)
    except PMSError as exc:
        raise click.ClickException(exc.message) from None
    for index, record in enumerate(records):
        try:
            line = {"index": index,
                    "booking": compiled.process(record, compiled.context_for(record, page))}
        except PMSError as exc:
            line = {"index": index, "reject": reject(index, exc)}
            del line["reject"]["index"]
        click.echo(orjson.dumps(line).decode())


@config_group.command("test")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
def test(root: Path) -> None:
    """Run every config under ROOT over its golden sample; non-zero exit on any mismatch."""
    from pmsync.config.golden import check_dir

    results = check_dir(root)
    if not results:
        click.echo(f"no configs under {root}")
    for result in results:
        name = result.config.relative_to(root).as_posix()
        click.echo(f"{'ok  ' if result.ok else 'FAIL'} {name}")
        for line in result.problems:
            click.echo(f"     {line}")
    failed = sum(not r.ok for r in results)
    click.echo(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


@config_group.command("publish")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@pass_context
def publish(ctx: Context, paths: tuple[Path, ...]) -> None:
    """Publish configs (files, or folders laid out as pms_configs/); every one is linted first."""
    from pmsync.config import load_config, load_config_dir
    from pmsync.config_store import publish_configs
    from pmsync.errors import ConfigError

    try:
        configs = [c for p in paths for c in (load_config_dir(p) if p.is_dir() else [load_config(p)])]
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    publish_configs(ctx.settings, configs)
    for cfg in configs:
        click.echo(f"published {cfg.key}  {cfg.hash[:12]}")
