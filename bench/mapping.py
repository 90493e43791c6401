"""Mapping benchmark: records/s on one core for the whole per-record path of every shipped config.

Run: ``.venv/bin/python bench/mapping.py [--records 100000] [--naive-records 400] [--root pms_configs]``

For each config under ``pms_configs/`` (records cloned from its golden sample's valid records,
each with its own external id) it times, in one run on the same bytes:
  pmsync   parse bytes (orjson) + raw schema check (jsonschema-rs) + map + rules + sanitize
           + lineage + Avro encode (``map_row`` + ``pmsync.serde.avro.encode_row``, as the mapper); for a config with
           ``lookup`` mappings the record's join context is parsed from its own bytes too, as
           the mapper receives it next to the raw message
  floor    ``json.loads`` of the same record bytes
  naive    the seed system's way: ``json.loads``, ``jsonschema.validate`` per record, every
           JSONPath re-parsed per field per record, then the same transforms/rules/Avro; run on
           fewer records and scaled (said in the table)
and prints records/s and ratios. It asserts nothing: performance is reported, never tested.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import jsonpath_ng.ext
import jsonschema
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pmsync.config import CompiledConfig, compile_config, load_config  # noqa: E402
from pmsync.config.load import config_files  # noqa: E402
from pmsync.errors import PMSError  # noqa: E402
from pmsync.mapping import paths  # noqa: E402

from pmsync.serde.avro import encode_row  # noqa: E402

LINEAGE = {"hotel_id": "hotel-1", "source_topic": "pms.raw.v1", "source_partition": 3,
           "source_offset": 1_234_567}


def _set(record: dict, steps: list, value: Any) -> None:
    for step in steps[:-1]:
        record = record[step]
    record[steps[-1]] = value


def _id_steps(spec: Any) -> list | None:
    path = spec if isinstance(spec, str) else spec.get("path") if isinstance(spec, dict) else None
    return paths.simple_steps(path) if isinstance(path, str) else None


def workload(compiled: CompiledConfig, path: Path, count: int) -> list[tuple[bytes, bytes | None]]:
    """``count`` (record bytes, context bytes or None) cloned from the golden sample's valid records."""
    page = orjson.loads((path.parent / "golden" / path.stem / "raw.json").read_bytes())
    valid = []
    for record in compiled.records(page):
        try:
            compiled.process(record, compiled.context_for(record, page))
        except PMSError:
            continue
        valid.append((record, compiled.context_for(record, page)))
    if not valid:
        raise SystemExit(f"{path}: the golden sample has no valid record to clone")
    steps = _id_steps(compiled.config.body["field_mappings"]["external_id"])
    out = []
    for i in range(count):
        record, context = valid[i % len(valid)]
        if steps:
            record = copy.deepcopy(record)
            _set(record, steps, f"B{i:07d}")
        out.append((orjson.dumps(record), None if context is None else orjson.dumps(context)))
    return out


def pmsync_path(compiled: CompiledConfig, avro: bool = True) -> Callable[[bytes, bytes | None], Any]:
    """The validator's and the mapper's per-record work, as ``streams.steps`` does it."""
    hotel, topic, partition, offset = (LINEAGE["hotel_id"], LINEAGE["source_topic"],
                                       LINEAGE["source_partition"], LINEAGE["source_offset"])

    def run(data: bytes, context: bytes | None) -> Any:
        record = compiled.parse_record(data)
        compiled.validate_raw(record)
        row = compiled.map_row(record, None if context is None else orjson.loads(context))
        if not avro:
            return row
        return encode_row(row, hotel, compiled.pms_type, compiled.version, compiled.hash,
                          topic, partition, offset)
    return run


def _mapping_paths(spec: Any) -> list[tuple[str, bool]]:
    """(path, evaluated on the context) for every JSONPath in one mapping."""
    if isinstance(spec, str):
        return [(spec, False)]
    found = [(spec["path"], False)] if "path" in spec else []
    found += [(p, False) for p in spec.get("coalesce", [])]
    found += [(p, False) for p in spec.get("fields", {}).values()]
    if "lookup" in spec:
        found += [(spec["lookup"]["from"], True), (spec["lookup"]["match"], False)]
    return found


def naive_path(compiled: CompiledConfig) -> Callable[[bytes, bytes | None], bytes]:
    body = compiled.config.body
    fast = pmsync_path(compiled)

    def run(data: bytes, context: bytes | None) -> bytes:
        record = json.loads(data)
        ctx = None if context is None else json.loads(context)
        jsonschema.validate(record, body["raw_data_schema"])   # builds and checks a validator each call
        for spec in body["field_mappings"].values():
            for path, on_context in _mapping_paths(spec):
                jsonpath_ng.ext.parse(path).find(ctx if on_context else record)  # parsed per field per record
        return fast(data, context)  # transforms, rules, sanitize, Avro: the same work as pmsync
    return run


def rate(fn: Callable[[bytes, bytes | None], Any], items: list[tuple[bytes, bytes | None]]) -> float:
    for data, context in items[:200]:
        fn(data, context)  # warm caches
    gc.collect()
    started = time.perf_counter()
    for data, context in items:
        fn(data, context)
    return len(items) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--naive-records", type=int, default=400)
    parser.add_argument("--root", type=Path, default=ROOT / "pms_configs")
    parser.add_argument("--only", default="", help="only configs whose type:version contains this")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    print(f"records per config: {args.records:,} (naive reference: {args.naive_records:,}, scaled to records/s)")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"(other processes on this machine slow every column alike; compare ratios)")
    header = (f"{'config':<24}{'pmsync rec/s':>14}{'w/o Avro':>10}{'json.loads rec/s':>18}"
              f"{'naive rec/s':>13}{'pmsync/floor':>14}{'pmsync/naive':>14}")
    print(header)
    print("-" * len(header))
    for path in config_files(args.root):
        compiled = compile_config(load_config(path))
        if args.only not in compiled.key:
            continue
        items = workload(compiled, path, args.records)
        ours = rate(pmsync_path(compiled), items)
        no_avro = rate(pmsync_path(compiled, avro=False), items)
        floor = rate(lambda data, context: json.loads(data), items)
        naive = rate(naive_path(compiled), items[: args.naive_records])
        print(f"{compiled.key:<24}{ours:>14,.0f}{no_avro:>10,.0f}{floor:>18,.0f}{naive:>13,.0f}"
              f"{ours / floor:>14.2f}{ours / naive:>13,.0f}x")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("targets (issue 4): >= 40,000 records/s per core for cloudbeds; >= 100x the naive reference")


if __name__ == "__main__":
    main()
