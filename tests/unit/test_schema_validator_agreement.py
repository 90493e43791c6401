"""Differential test: jsonschema-rs (the hot path) and the reference ``jsonschema`` agree on
validity for every shipped raw_data_schema, the test configs' schemas, and schemas chosen for
keywords where engines are known to differ (regex dialects, numbers, unicode lengths)."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import jsonschema_rs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pmsync.config.load import config_files
from pmsync.errors import PMSDataValidationError
from pmsync.validation.raw_schema import RawSchema
from tests.unit.fixtures.strategies import JSON, mutated

ROOT = Path(__file__).resolve().parents[2]
CONFIG_PATHS = config_files(Path(__file__).parent / "fixtures" / "configs") + config_files(ROOT / "pms_configs")

TRICKY: dict[str, dict] = {
    "numbers": {"type": "object", "properties": {
        "i": {"type": "integer", "minimum": 0, "exclusiveMaximum": 100},
        "n": {"type": "number", "multipleOf": 0.5},
        "m": {"type": "integer", "multipleOf": 3},
        "c": {"const": 1}, "e": {"enum": [0, False, "0", None]}}},
    "strings": {"type": "object", "properties": {
        "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "digits": {"type": "string", "pattern": "^[0-9]+"},
        "word": {"type": "string", "pattern": "[A-Za-z_]"},
        "len": {"type": "string", "minLength": 2, "maxLength": 4},
        "date": {"type": "string", "format": "date"},
        "email": {"type": "string", "format": "email"}}},
    "structure": {
        "type": "object", "required": ["id"],
        "properties": {"id": {"type": ["string", "integer"]},
                       "tags": {"type": "array", "uniqueItems": True, "maxItems": 3},
                       "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "number"}], "items": False},
                       "guests": {"type": "array", "contains": {"type": "object", "required": ["name"]}, "minContains": 1}},
        "patternProperties": {"^x-": {"type": "string"}},
        "dependentRequired": {"start": ["end"]},
        "if": {"properties": {"id": {"type": "integer"}}, "required": ["id"]},
        "then": {"required": ["legacy"]},
        "propertyNames": {"maxLength": 12},
        "$defs": {"money": {"type": "object", "required": ["amount"], "properties": {"amount": {"type": "string"}}}},
        "unevaluatedProperties": {"type": ["string", "number", "object", "array", "boolean", "null"]}},
    "refs": {"type": "object", "properties": {"total": {"$ref": "#/$defs/money"}, "paid": {"$ref": "#/$defs/money"}},
             "additionalProperties": {"not": {"type": "null"}},
             "$defs": {"money": {"type": "object", "required": ["amount"],
                                 "properties": {"amount": {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{2})?(?![\\s\\S])"}}}}},
}

TARGETED = [
    {}, {"i": 1.0}, {"i": 100}, {"i": -0.0}, {"i": 2**64}, {"i": True}, {"n": 0.07}, {"n": 19.99}, {"n": 1e308},
    {"m": 9.0}, {"c": 1.0}, {"c": True}, {"e": 0.0}, {"e": False}, {"code": "EUR"}, {"code": "EU€"},
    {"digits": "١٢٣"}, {"digits": "123\n"}, {"word": "é"}, {"word": "_"}, {"len": "😀😀"}, {"len": "é"},
    {"len": "e\u0301"}, {"date": "2026-02-30"}, {"email": "nope"}, {"id": "a", "tags": [1, 1.0]},
    {"id": "a", "tags": [1, True]}, {"id": "a", "tags": [{"a": 1}, {"a": 1.0}]}, {"id": 5}, {"id": 5, "legacy": 1},
    {"id": "a", "pair": ["x", 1]}, {"id": "a", "pair": ["x", 1, 2]}, {"id": "a", "guests": [{}]},
    {"id": "a", "guests": [{"name": 1}]}, {"id": "a", "x-a": 1}, {"id": "a", "start": 1},
    {"id": "a", "averyveryverylongkey": 1}, {"total": {"amount": "1.5"}}, {"total": {"amount": "-12.50"}},
    {"other": None}, {"paid": {"amount": "12.50\n"}},
]


# Where the engines differ, jsonschema-rs follows the JSON Schema spec (ECMA-262 regexes, exact
# multipleOf) and is the one pmsync trusts; docs/config-language.md tells config authors.
# (schema, instance, valid per the spec)
DIVERGENT = [
    ({"type": "number", "multipleOf": 0.01}, 0.07, True),          # Python: 0.07 / 0.01 = 7.000000000000001
    ({"type": "string", "pattern": "^\\d+$"}, "١٢٣", False),        # ECMA \d is [0-9]; Python's is any digit
    ({"type": "string", "pattern": "^[0-9]+$"}, "12\n", False),      # ECMA $ is the end; Python's allows a final \n
    ({"type": "string", "pattern": "^\\w+$"}, "é", False),           # ECMA \w is ASCII; Python's is Unicode
]


def _schemas() -> list[tuple[str, object, list]]:
    found = []
    for path in CONFIG_PATHS:
        body = orjson.loads(path.read_bytes())
        raw = path.parent / "golden" / path.stem / "raw.json"
        records = []
        if raw.is_file():
            from pmsync.config import compile_config, load_config
            records = [r for r in compile_config(load_config(path)).records(orjson.loads(raw.read_bytes()))
                       if isinstance(r, dict)]
        found.append((path.parent.name + "/" + path.name, body["raw_data_schema"], records or [{}]))
    found += [(name, schema, TARGETED) for name, schema in TRICKY.items()]
    return found


SCHEMAS = _schemas()
IDS = [name for name, _, _ in SCHEMAS]


def agree(schema: object, instance: object) -> None:
    reference = jsonschema.Draft202012Validator(schema).is_valid(instance)
    ours = RawSchema(schema).is_valid(instance)
    assert ours == reference, f"pmsync says {ours}, jsonschema says {reference} for {instance!r}"
    try:
        fast = jsonschema_rs.Draft202012Validator(schema).is_valid(instance)
    except Exception:
        return  # values Rust cannot take are re-checked by the reference validator (RawSchema)
    assert fast == reference, f"jsonschema-rs says {fast}, jsonschema says {reference} for {instance!r}"


@pytest.mark.parametrize("name, schema, samples", SCHEMAS, ids=IDS)
def test_validators_agree_on_known_samples(name: str, schema: object, samples: list) -> None:
    for sample in samples + TARGETED:
        agree(schema, sample)


@pytest.mark.parametrize("name, schema, samples", SCHEMAS, ids=IDS)
def test_validators_agree_on_mutated_and_random_records(name: str, schema: object, samples: list) -> None:
    @settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(instance=mutated(samples) | JSON | st.fixed_dictionaries({}, optional={k: JSON for k in ("i", "n", "code", "id", "tags", "total")}))
    def check(instance: object) -> None:
        agree(schema, instance)
    check()


@pytest.mark.parametrize("schema, instance, valid", DIVERGENT)
def test_known_divergences_are_decided_by_the_spec_and_still_explained(schema, instance, valid) -> None:
    raw = RawSchema(schema)
    assert raw.is_valid(instance) is valid
    assert jsonschema.Draft202012Validator(schema).is_valid(instance) is not valid  # why rs decides
    if not valid:
        with pytest.raises(PMSDataValidationError) as caught:
            raw.validate(instance)
        assert caught.value.path == "$" and "does not match" in caught.value.message
