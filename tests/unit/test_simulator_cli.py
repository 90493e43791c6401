"""``pmsync simulator``'s options: the registry it prints, fault flags, refused settings."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pmsync.cli import main
from pmsync.simulator import Simulator


def test_hotels_prints_the_registry_of_the_same_seed() -> None:
    result = CliRunner().invoke(main, ["simulator", "--hotels", "6", "--seed", "3",
                                       "--port", "9000", "hotels"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == \
        Simulator(seed=3, hotels=6, base_url="http://127.0.0.1:9000").hotels()


def test_no_credentials_leaves_the_secrets_out() -> None:
    result = CliRunner().invoke(main, ["simulator", "--hotels", "3", "hotels", "--no-credentials"])
    assert result.exit_code == 0, result.output
    for secret in (v for h in Simulator(hotels=3).hotels() for v in h["credentials"].values()):
        assert secret not in result.output


def test_fault_flags_and_file_are_checked_before_serving(tmp_path: Path) -> None:
    runner = CliRunner()
    bad_rate = runner.invoke(main, ["simulator", "--fault", "error_rate=3", "hotels"])
    assert bad_rate.exit_code != 0 and "between 0 and 1" in bad_rate.output
    no_value = runner.invoke(main, ["simulator", "--fault", "error_rate", "hotels"])
    assert no_value.exit_code != 0 and "name=number" in no_value.output
    faults = tmp_path / "faults.json"
    faults.write_text('{"hotels": {"sim-001": {"latency_ms": 10}}, "default": {"bogus": 1}}')
    unknown = runner.invoke(main, ["simulator", "--faults", str(faults), "hotels"])
    assert unknown.exit_code != 0 and "bogus" in unknown.output
    faults.write_text("[1, 2")
    broken = runner.invoke(main, ["simulator", "--faults", str(faults), "hotels"])
    assert broken.exit_code != 0 and "faults.json" in broken.output


def test_golden_writes_every_family_sample(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["simulator", "golden", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    shipped = Path(__file__).resolve().parents[2] / "pms_configs"
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.json"))
    assert len(written) == 12
    for rel in written:
        # The shipped samples are exactly what the generator writes (regenerated, not edited).
        assert (tmp_path / rel).read_bytes() == (shipped / rel).read_bytes(), rel
