"""What each scenario did, its counts and its time to recover: printed to the test output
and collected into ``summary.json`` and ``summary.md`` in the suite's run folder, from which
the release note's fault table is copied."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class ScenarioRecord:
    scenario: str
    scale: str
    did: str = ""
    counts: dict[str, int | float | str] = field(default_factory=dict)
    recover_s: float | None = None        # from the end of the fault to the exact truth
    total_s: float = 0.0
    passed: bool = False
    started: float = field(default_factory=time.monotonic, repr=False)

    def line(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        recover = f"{self.recover_s:.1f}s" if self.recover_s is not None else "-"
        return (f"[faults] {self.scenario} ({self.scale}): {self.did} | {counts} | "
                f"recovered in {recover} | total {self.total_s:.1f}s | "
                f"{'PASS' if self.passed else 'FAIL'}")


class Summary:
    """Every scenario of the session, rewritten to disk after each one (a crash keeps the rest)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.records: list[ScenarioRecord] = []
        folder.mkdir(parents=True, exist_ok=True)

    def add(self, record: ScenarioRecord) -> None:
        record.total_s = time.monotonic() - record.started
        self.records.append(record)
        print("\n" + record.line(), flush=True)
        self._write()

    def _write(self) -> None:
        rows = [{k: v for k, v in asdict(r).items() if k != "started"} for r in self.records]
        (self.folder / "summary.json").write_text(json.dumps(rows, indent=2))
        lines = ["| scenario | scale | what it did | counts | time to recover | total | result |",
                 "|---|---|---|---|---|---|---|"]
        for r in self.records:
            counts = ", ".join(f"{k} {v}" for k, v in r.counts.items())
            recover = f"{r.recover_s:.1f} s" if r.recover_s is not None else "-"
            lines.append(f"| {r.scenario} | {r.scale} | {r.did} | {counts} | {recover} | "
                         f"{r.total_s:.0f} s | {'pass' if r.passed else 'FAIL'} |")
        (self.folder / "summary.md").write_text("\n".join(lines) + "\n")
