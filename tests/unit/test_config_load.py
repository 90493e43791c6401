"""Loading configs: every error listed by JSON pointer, semantic checks, identity and hash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import orjson
import pytest

from pmsync.booking import FIELDS, STATUSES
from pmsync.config import PMSConfig, load_config, load_config_dir, problems
from pmsync.config.load import meta_schema
from pmsync.errors import ConfigError
from tests.unit.fixtures.builders import MINIMAL, config

FIXTURES = Path(__file__).parent / "fixtures" / "configs"


def pointers(body: object) -> list[str]:
    return [pointer for pointer, _ in problems(body)]


def test_minimal_config_loads_with_identity_and_hash() -> None:
    cfg = load_config(config())
    assert (cfg.pms_type, cfg.version, cfg.key) == ("unit", "v1", "unit:v1")
    assert cfg.hash == hashlib.sha256(orjson.dumps(MINIMAL, option=orjson.OPT_SORT_KEYS)).hexdigest()
    assert cfg.source == MINIMAL["source"]
    assert cfg.body == MINIMAL


def test_hash_ignores_key_order_and_whitespace() -> None:
    text = json.dumps(MINIMAL, indent=4)
    reordered = json.dumps(dict(reversed(list(MINIMAL.items()))))
    assert load_config(text).hash == load_config(reordered.encode()).hash == load_config(MINIMAL).hash


def test_five_mistakes_give_five_errors_each_naming_its_pointer() -> None:
    body = config(fields={
        "guest.nickname": "$.nick",                                   # 1 not a canonical field
        "check_in": {"path": "$.arrive[", "transform": "parse_date"},   # 2 bad JSONPath
        "adults": {"path": "$.n", "transform": "to_int"},              # 3 unknown transform
    }, rules={"fields": {"currency": {"type": "string", "format": "[A-Z{3"}}})  # 4 bad regex
    body["pms_type"] = "Cloud Beds"                                   # 5 bad pms_type
    body["field_mappings"]["currency"] = "$.cur"
    with pytest.raises(ConfigError) as caught:
        load_config(body)
    found = dict(caught.value.errors)
    assert sorted(found) == sorted([
        "/field_mappings/guest.nickname",
        "/field_mappings/check_in/path",
        "/field_mappings/adults/transform",
        "/validation_rules/fields/currency/format",
        "/pms_type",
    ]), caught.value.errors
    assert "canonical field" in found["/field_mappings/guest.nickname"]
    assert "invalid JSONPath" in found["/field_mappings/check_in/path"]
    assert "unknown transform" in found["/field_mappings/adults/transform"]
    assert "regular expression" in found["/validation_rules/fields/currency/format"]
    assert "/validation_rules/fields/currency/format" in str(caught.value)


@pytest.mark.parametrize("mutate, pointer, words", [
    (lambda b: b.pop("raw_data_schema"), "/raw_data_schema", "missing required key"),
    (lambda b: b.update(extra=1), "/extra", "unknown key"),
    (lambda b: b["status_mappings"].update(x="DONE"), "/status_mappings/x", "canonical status"),
    (lambda b: b["field_mappings"].update(check_in={"path": "$.a", "const": 1}),
     "/field_mappings/check_in", "exactly one of"),
    (lambda b: b["field_mappings"].update(check_in={"transform": "parse_date"}),
     "/field_mappings/check_in", "exactly one of"),
    (lambda b: b["field_mappings"].update(check_in="arrive"), "/field_mappings/check_in", "start with '$'"),
    (lambda b: b["field_mappings"].update(children={"path": "$.c", "transform": "split"}),
     "/field_mappings/children/transform", "needs arguments"),
    (lambda b: b["field_mappings"].update(children={"path": "$.c", "transform": {"name": "split", "sep": ","}}),
     None, None),
    (lambda b: b["field_mappings"].update(children={"path": "$.c", "transform": [{"name": "decimal", "places": 2, "sep": 1}]}),
     "/field_mappings/children/transform/0/sep", "unknown key"),
    (lambda b: b["field_mappings"].update(source_updated_at={"path": "$.u", "transform": {"name": "parse_datetime", "assume_tz": "Mars/Base"}}),
     "/field_mappings/source_updated_at/transform/assume_tz", "unknown time zone"),
    (lambda b: b["field_mappings"].update(check_in={"path": "$.a", "transform": {"name": "parse_date", "formats": ["dd/mm/yyyy"]}}),
     "/field_mappings/check_in/transform/formats/0", "strptime"),
    (lambda b: b["field_mappings"].update({"guest.first_name": {"template": "{a} {b}", "fields": {"a": "$.a"}}}),
     "/field_mappings/guest.first_name/template", "{b}"),
    (lambda b: b["field_mappings"].update({"guest.first_name": {"lookup": {"from": "$.C[?(@.x)]", "key": "Id", "match": "$.c", "path": "$.n"}}}),
     "/field_mappings/guest.first_name/lookup/from", "plain path"),
    (lambda b: b["field_mappings"].update(status={"const": "booked"}), "/field_mappings/status/const", "status_mappings"),
    (lambda b: b["source"]["request"].update(headers={"X": "${credentials.key}"}),
     "/source/request/headers/X", "unknown variable"),
    (lambda b: b["source"].update(records_path="$.data[?("), "/source/records_path", "invalid JSONPath"),
    (lambda b: b["source"]["pagination"].update(type="cursor"), "/source/pagination/next_cursor_path", "missing required key"),
    (lambda b: b.update(raw_data_schema={"type": "objekt"}), "/raw_data_schema/type", "not a valid JSON Schema"),
    (lambda b: b.update(validation_rules={"required_fields": ["room_number"]}),
     "/validation_rules/required_fields/0", "no mapping"),
    (lambda b: b.update(validation_rules={"fields": {"check_in": {"type": "decimal"}}}),
     "/validation_rules/fields/check_in/type", "cannot apply"),
    (lambda b: b.update(validation_rules={"fields": {"check_in": {"type": "date", "min": "May 1"}}}),
     "/validation_rules/fields/check_in/min", "YYYY-MM-DD"),
    (lambda b: b.update(validation_rules={"fields": {"adults": {"type": "int", "min": 1}}}),
     "/validation_rules/fields/adults", "never fire"),
    (lambda b: b.update(validation_rules={"business_rules": {"non_negative_amount": True}}),
     "/validation_rules/business_rules/non_negative_amount", "never fire"),
    (lambda b: b.update(validation_rules={"business_rules": {"max_booking_days": 0}}),
     "/validation_rules/business_rules/max_booking_days", "minimum"),
])
def test_each_mistake_is_reported_at_its_pointer(mutate, pointer, words) -> None:
    body = config()
    mutate(body)
    found = problems(body)
    if pointer is None:
        assert found == []
        return
    assert [p for p, _ in found] == [pointer], found
    assert words in found[0][1]


def test_file_name_and_folder_must_match_version_and_type(tmp_path: Path) -> None:
    path = tmp_path / "other" / "v2.json"
    path.parent.mkdir()
    path.write_bytes(orjson.dumps(config()))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert sorted(p for p, _ in caught.value.errors) == ["/pms_type", "/version"]


def test_not_json_duplicate_keys_and_non_objects_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(b"{nope")
    with pytest.raises(ConfigError, match="duplicate key 'check_in'"):
        load_config('{"field_mappings": {"check_in": "$.a", "check_in": "$.b"}}')
    with pytest.raises(ConfigError, match="NaN is not JSON"):
        load_config('{"x": NaN}')
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.json")
    assert problems([1, 2]) == [("", "a config must be a JSON object, not list")]


def test_load_config_dir_loads_each_and_reports_every_bad_file(tmp_path: Path) -> None:
    assert {c.key for c in load_config_dir(FIXTURES)} == {"demo:v1", "joined:v1"}
    (tmp_path / "unit").mkdir()
    (tmp_path / "unit" / "v1.json").write_bytes(orjson.dumps(config()))
    bad = config(version="v2")
    bad["status_mappings"] = {}
    (tmp_path / "unit" / "v2.json").write_bytes(orjson.dumps(bad))
    (tmp_path / "unit" / "v3.json").write_bytes(b"[")
    with pytest.raises(ConfigError) as caught:
        load_config_dir(tmp_path)
    assert [p for p, _ in caught.value.errors] == ["unit/v2.json#/status_mappings", "unit/v3.json#"]


def test_meta_schema_lists_exactly_the_canonical_fields_statuses_and_transforms() -> None:
    from pmsync.mapping.transforms import NAMES
    schema = meta_schema()
    assert schema["properties"]["field_mappings"]["propertyNames"]["enum"] == list(FIELDS)
    assert schema["properties"]["status_mappings"]["additionalProperties"]["enum"] == list(STATUSES)
    assert schema["$defs"]["transform"]["else"]["properties"]["name"]["enum"] == list(NAMES)


def test_config_equality_is_by_hash() -> None:
    assert load_config(config()) == load_config(json.dumps(config()))
    assert load_config(config()) != load_config(config(version="v2"))
    assert isinstance(hash(load_config(config())), int)
    assert isinstance(load_config(config()), PMSConfig)
