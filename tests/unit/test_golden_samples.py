"""Every shipped config runs end to end over its golden sample (the seed system's lesson: its
own config mapped no record at all). A config without a golden sample fails here."""

from __future__ import annotations

import copy
from pathlib import Path

import orjson
import pytest

from pmsync.config import compile_config, load_config
from pmsync.config.golden import check_config, check_dir, compare, run_page
from pmsync.config.load import config_files

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "pms_configs"
FIXTURES = Path(__file__).parent / "fixtures" / "configs"
SHIPPED_CONFIGS = config_files(SHIPPED)


def test_pms_configs_folder_is_empty_or_every_config_has_a_golden_sample() -> None:
    # Passes vacuously only while no config is shipped; the parametrized test below does the work.
    for path in SHIPPED_CONFIGS:
        folder = path.parent / "golden" / path.stem
        assert (folder / "raw.json").is_file() and (folder / "expected.json").is_file(), \
            f"{path.relative_to(ROOT)} has no golden sample in {folder.relative_to(ROOT)}"


@pytest.mark.parametrize("path", SHIPPED_CONFIGS, ids=[p.relative_to(SHIPPED).as_posix() for p in SHIPPED_CONFIGS])
def test_shipped_golden_sample_matches(path: Path) -> None:
    result = check_config(path)
    assert result.ok, "\n".join(result.problems)


@pytest.mark.parametrize("path", config_files(FIXTURES), ids=lambda p: p.parent.name)
def test_own_golden_samples_match(path: Path) -> None:
    result = check_config(path)
    assert result.ok, "\n".join(result.problems)


def _demo() -> tuple:
    path = FIXTURES / "demo" / "v1.json"
    folder = path.parent / "golden" / "v1"
    page = orjson.loads((folder / "raw.json").read_bytes())
    expected = orjson.loads((folder / "expected.json").read_bytes())
    bookings, rejects = run_page(compile_config(load_config(path)), page)
    return expected, bookings, rejects


def test_the_comparison_catches_a_changed_booking_with_a_readable_diff() -> None:
    expected, bookings, rejects = _demo()
    assert compare(expected, bookings, rejects) == []
    changed = copy.deepcopy(expected)
    changed["bookings"][0]["total_amount"] = "612.41"
    problems = compare(changed, bookings, rejects)
    assert problems[0] == "booking 0 (QK2291) differs (--- expected, +++ actual):"
    assert '-  "total_amount": "612.41"' in problems and '+  "total_amount": "612.40"' in problems
    del changed["bookings"][0]
    assert compare(changed, bookings, rejects)[0] == "3 bookings, expected 2 (--- expected, +++ actual):"


def test_the_comparison_catches_every_kind_of_reject_mismatch() -> None:
    expected, bookings, rejects = _demo()
    changed = copy.deepcopy(expected)
    changed["rejects"][0]["location"] = "$.reservation"
    changed["rejects"][1]["message_contains"] = "no such words"
    changed["rejects"][2]["stage"] = "mapping"
    del changed["rejects"][3]
    changed["rejects"].append({"index": 0, "stage": "schema", "error_class": "PMSDataValidationError"})
    problems = compare(changed, bookings, rejects)
    assert any(p.startswith("reject 2: location is '$.reservation.roomStay.timeSpan.end'") for p in problems)
    assert any(p.startswith("reject 3: message") and "no such words" in p for p in problems)
    assert any(p.startswith("reject 4: stage is 'business_rule', expected 'mapping'") for p in problems)
    assert any(p.startswith("reject 5: unexpected PMSMappingError at status") for p in problems)
    assert any(p.startswith("reject 0: expected PMSDataValidationError") for p in problems)
    assert len(problems) == 5
    assert compare({"rejects": []}, bookings, rejects) == ['expected.json must be {"bookings": [...], "rejects": [...]}']


def test_a_config_without_golden_sample_fails(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "v1.json").write_bytes((FIXTURES / "demo" / "v1.json").read_bytes())
    [result] = check_dir(tmp_path)
    assert not result.ok and "missing golden sample" in result.problems[0]
    assert check_dir(tmp_path / "demo" / "golden") == []
