"""``pmsync config lint|map|test`` as a config author uses them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import orjson
from click.testing import CliRunner

from pmsync.cli import main
from tests.unit.fixtures.builders import config

FIXTURES = Path(__file__).parent / "fixtures" / "configs"


def invoke(*args: str):
    return CliRunner().invoke(main, ["config", *args], catch_exceptions=False)


def test_lint_passes_good_files_and_lists_every_error_by_pointer(tmp_path: Path) -> None:
    good = invoke("lint", str(FIXTURES / "demo" / "v1.json"), str(FIXTURES / "joined" / "v1.json"))
    assert good.exit_code == 0 and good.output.count(": ok") == 2
    body = config()
    body["field_mappings"]["check_in"] = "$.a["
    body["status_mappings"]["x"] = "DONE"
    bad = tmp_path / "unit" / "v1.json"
    bad.parent.mkdir()
    bad.write_bytes(orjson.dumps(body))
    result = invoke("lint", str(bad))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert [line.split(": ")[0] for line in lines] == [f"{bad}#/field_mappings/check_in", f"{bad}#/status_mappings/x"]
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert invoke("lint", str(broken)).exit_code == 1


def test_map_prints_one_json_line_per_booking_or_reject() -> None:
    result = invoke("map", str(FIXTURES / "demo" / "v1.json"), str(FIXTURES / "demo" / "golden" / "v1" / "raw.json"))
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["index"] for line in lines] == list(range(10))
    assert lines[0]["booking"]["external_id"] == "QK2291"
    assert lines[2]["reject"] == {"stage": "schema", "error_class": "PMSDataValidationError",
                                  "location": "$.reservation.roomStay.timeSpan.end",
                                  "message": "$.reservation.roomStay.timeSpan.end: 'end' is a required property"}


def test_map_refuses_a_bad_config_or_page(tmp_path: Path) -> None:
    page = tmp_path / "page.json"
    page.write_text("{nope")
    result = invoke("map", str(FIXTURES / "demo" / "v1.json"), str(page))
    assert result.exit_code == 1 and "not valid JSON" in result.output
    page.write_text('{"items": []}')
    result = invoke("map", str(FIXTURES / "joined" / "v1.json"), str(page))
    assert result.exit_code == 1 and "no records list at $.Reservations" in result.output


def test_test_passes_matching_golden_samples_and_fails_with_a_diff(tmp_path: Path) -> None:
    ok = invoke("test", str(FIXTURES))
    assert ok.exit_code == 0 and "2 passed, 0 failed" in ok.output
    shutil.copytree(FIXTURES / "demo", tmp_path / "demo")
    expected = tmp_path / "demo" / "golden" / "v1" / "expected.json"
    data = json.loads(expected.read_text())
    data["bookings"][1]["guest"]["first_name"] = "Zoe"
    expected.write_text(json.dumps(data))
    (tmp_path / "demo" / "v2.json").write_text(json.dumps({**json.loads((tmp_path / "demo" / "v1.json").read_text()), "version": "v2"}))
    failed = invoke("test", str(tmp_path))
    assert failed.exit_code == 1
    assert "FAIL demo/v1.json" in failed.output and '-    "first_name": "Zoe",' in failed.output and '+    "first_name": "Zoë",' in failed.output
    assert "FAIL demo/v2.json" in failed.output and "missing golden sample" in failed.output
    assert "0 passed, 2 failed" in failed.output
