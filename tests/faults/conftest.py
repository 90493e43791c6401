"""Fixtures of the fault suite.

- ``private_stack`` (session): a Kafka node and a Postgres cluster of the suite's own
  (tests/faults/private_stack.py), never the shared dev stack, stopped at the end.
- ``scale`` (session): ``PMSYNC_FAULTS_SCALE=ci|long`` (tests/faults/scale.py).
- ``summary`` (session): the scenario table, written to ``$PMSYNC_FAULTS_DIR`` (default
  ``.stack/faults``) as summary.json and summary.md.
- ``pipeline`` (per test): a FaultPipeline on a fresh database and fresh topics of the private
  stack, not started yet; stopped, its topics and database dropped, afterwards.
- ``record`` (per test): the scenario's line in the table; the test fills it in.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from pmsync.settings import REPO_ROOT
from tests.faults.fault_pipeline import FaultPipeline
from tests.faults.private_stack import PrivateStack
from tests.faults.report import ScenarioRecord, Summary
from tests.faults.scale import Scale, current_scale


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="session")
def faults_dir() -> Path:
    return Path(os.environ.get("PMSYNC_FAULTS_DIR") or REPO_ROOT / ".stack" / "faults")


@pytest.fixture(scope="session")
def private_stack(faults_dir: Path) -> Iterator[PrivateStack]:
    stack = PrivateStack.create(faults_dir / "stack")
    try:
        yield stack.up()
    finally:
        stack.down()


@pytest.fixture(scope="session")
def scale() -> Scale:
    return current_scale()


@pytest.fixture(scope="session")
def summary(faults_dir: Path) -> Summary:
    return Summary(faults_dir)


@pytest.fixture
def pipeline(private_stack: PrivateStack, faults_dir: Path,
             request: pytest.FixtureRequest) -> Iterator[FaultPipeline]:
    settings = private_stack.scenario_settings()
    run_dir = faults_dir / "runs" / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    if run_dir.exists():
        shutil.rmtree(run_dir)   # logs of an earlier session's run of the same scenario
    pipe = FaultPipeline(settings, run_dir)
    try:
        yield pipe
    finally:
        # The broker or Postgres may be down if the scenario failed half way: bring them back
        # so the next scenario starts on a whole stack.
        if not private_stack.kafka.running():
            private_stack.start_kafka()
        if not private_stack.postgres.running():
            private_stack.start_postgres()
        pipe.stop()
        private_stack.drop_database(settings)


@pytest.fixture
def record(summary: Summary, scale: Scale, request: pytest.FixtureRequest) -> Iterator[ScenarioRecord]:
    entry = ScenarioRecord(request.node.name, scale.name)
    yield entry
    summary.add(entry)
