"""Running a config over a whole page (dry run) and checking golden samples.

Used by ``pmsync config map`` / ``pmsync config test``, the golden-sample tests and the
console's dry run. A page is mapped record by record: one bad record is one reject and never
stops the others. Never writes anything anywhere.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from pmsync.config.compile import CompiledConfig, compile_config
from pmsync.config.load import config_files, load_config
from pmsync.errors import ConfigError, PMSError


def reject(index: int, exc: PMSError) -> dict[str, Any]:
    return {"index": index, "stage": exc.stage, "error_class": type(exc).__name__,
            "location": exc.location, "message": exc.message}


def run_page(compiled: CompiledConfig, page: Any) -> tuple[list[dict], list[dict]]:
    """(bookings in record order, rejects) for one response body, as the pipeline would see it:
    each record with only its own lookup context, exactly as the fetcher ships it."""
    bookings: list[dict] = []
    rejects: list[dict] = []
    for index, record in enumerate(compiled.records(page)):
        try:
            bookings.append(compiled.process(record, compiled.context_for(record, page)))
        except PMSError as exc:
            rejects.append(reject(index, exc))
    return bookings, rejects


def _lines(value: Any) -> list[str]:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).splitlines()


def _diff(expected: Any, actual: Any) -> list[str]:
    return list(difflib.unified_diff(_lines(expected), _lines(actual), "expected", "actual",
                                     lineterm="", n=2))[2:]  # drop the ---/+++ header lines


def compare(expected: Any, bookings: list[dict], rejects: list[dict]) -> list[str]:
    """Readable differences between a golden ``expected.json`` and a run; [] when they match."""
    if not isinstance(expected, dict) or not isinstance(expected.get("bookings"), list) \
            or not isinstance(expected.get("rejects", []), list):
        return ['expected.json must be {"bookings": [...], "rejects": [...]}']
    problems: list[str] = []
    want = expected["bookings"]
    if len(want) != len(bookings):
        problems.append(f"{len(bookings)} bookings, expected {len(want)} (--- expected, +++ actual):")
        problems += _diff(want, bookings)
    else:
        for position, (one, got) in enumerate(zip(want, bookings)):
            if one != got:
                name = one.get("external_id") if isinstance(one, dict) else None
                problems.append(f"booking {position} ({name}) differs (--- expected, +++ actual):")
                problems += _diff(one, got)
    actual = {r["index"]: r for r in rejects}
    wanted = {r.get("index"): r for r in expected.get("rejects", []) if isinstance(r, dict)}
    for index, want in sorted(wanted.items(), key=lambda item: str(item[0])):
        got = actual.get(index)
        if got is None:
            problems.append(f"reject {index}: expected {want.get('error_class')} at "
                            f"{want.get('location')}, but the record was not rejected")
            continue
        for key in ("stage", "error_class", "location"):
            if key in want and want[key] != got[key]:
                problems.append(f"reject {index}: {key} is {got[key]!r}, expected {want[key]!r} "
                                f"(message: {got['message']})")
        if "message_contains" in want and str(want["message_contains"]) not in got["message"]:
            problems.append(f"reject {index}: message {got['message']!r} does not contain "
                            f"{want['message_contains']!r}")
    for index in sorted(set(actual) - set(wanted)):
        got = actual[index]
        problems.append(f"reject {index}: unexpected {got['error_class']} at {got['location']}: "
                        f"{got['message']}")
    return problems


@dataclass
class GoldenResult:
    config: Path
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def golden_dir(config_path: Path) -> Path:
    """``<type>/golden/<version>/`` for ``<type>/<version>.json``."""
    return config_path.parent / "golden" / config_path.stem


def check_config(config_path: Path) -> GoldenResult:
    """Load, compile and run one config over its golden sample."""
    result = GoldenResult(config_path)
    try:
        compiled = compile_config(load_config(config_path))
    except ConfigError as exc:
        result.problems += [f"config error at {p or '/'}: {m}" for p, m in exc.errors]
        return result
    folder = golden_dir(config_path)
    raw_path, expected_path = folder / "raw.json", folder / "expected.json"
    missing = [p.name for p in (raw_path, expected_path) if not p.is_file()]
    if missing:
        result.problems.append(f"missing golden sample: {', '.join(str(folder / m) for m in missing)}")
        return result
    try:
        page = orjson.loads(raw_path.read_bytes())
        expected = orjson.loads(expected_path.read_bytes())
    except orjson.JSONDecodeError as exc:
        result.problems.append(f"golden sample is not valid JSON: {exc}")
        return result
    try:
        bookings, rejects = run_page(compiled, page)
    except PMSError as exc:  # e.g. no records list at records_path
        result.problems.append(f"page could not be read: {exc.message}")
        return result
    result.problems += compare(expected, bookings, rejects)
    return result


def check_dir(root: Path | str) -> list[GoldenResult]:
    """Every config under ``root`` against its golden sample."""
    return [check_config(path) for path in config_files(Path(root))]
