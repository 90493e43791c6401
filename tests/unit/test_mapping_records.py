"""The compiled per-record path: parse_record, validate_raw, map, process, records, context_for."""

from __future__ import annotations

import copy
from pathlib import Path

import orjson
import pytest

from pmsync.booking import empty_booking
from pmsync.config import compile_config, load_config
from pmsync.errors import PMSBusinessRuleError, PMSDataValidationError, PMSMappingError
from tests.unit.fixtures.builders import GOOD_RECORD, compiled

FIXTURES = Path(__file__).parent / "fixtures" / "configs"
EXPECTED = {**empty_booking(), "external_id": "R1", "status": "CONFIRMED", "check_in": "2026-05-01",
            "check_out": "2026-05-04", "source_updated_at": "2026-04-20T08:15:00Z"}


def test_map_returns_the_exact_canonical_shape_with_every_key() -> None:
    booking = compiled().map(GOOD_RECORD)
    assert booking == EXPECTED
    assert list(booking) == list(empty_booking())
    assert list(booking["guest"]) == ["first_name", "last_name", "email", "phone"]


def test_compile_is_cached_per_hash() -> None:
    cfg = load_config(FIXTURES / "demo" / "v1.json")
    assert compile_config(cfg) is compile_config(load_config(FIXTURES / "demo" / "v1.json"))
    c = compile_config(cfg)
    assert (c.pms_type, c.version, c.key, c.hash, c.config) == ("demo", "v1", "demo:v1", cfg.hash, cfg)
    assert c.source["records_path"] == "$"


def test_parse_record_reads_bytes_and_refuses_non_objects() -> None:
    c = compiled()
    assert c.parse_record(orjson.dumps(GOOD_RECORD)) == GOOD_RECORD
    for data, words in [(b"{bad", "not valid JSON"), (b"[1]", "JSON list, expected an object"),
                        (b"", "not valid JSON"), (b'"x"', "JSON str")]:
        with pytest.raises(PMSDataValidationError, match=words) as caught:
            c.parse_record(data)
        assert caught.value.stage == "schema" and caught.value.path == "$"


def test_validate_raw_names_the_failing_part() -> None:
    c = compiled(raw_data_schema={
        "type": "object", "required": ["id", "stay"],
        "properties": {"id": {"type": "string"},
                       "stay": {"type": "object", "properties": {"rooms": {"type": "array", "items": {"type": "integer"}}}},
                       "odd key": {"type": "string"}}})
    cases = [
        ({"stay": {}}, "$.id", "'id' is a required property"),
        ({"id": 5, "stay": {}}, "$.id", "5 is not of type 'string'"),
        ({"id": "a", "stay": {"rooms": [1, "two"]}}, "$.stay.rooms[1]", "'two' is not of type 'integer'"),
        ({"id": "a", "stay": {}, "odd key": 1}, "$['odd key']", "not of type"),
    ]
    for record, path, words in cases:
        with pytest.raises(PMSDataValidationError) as caught:
            c.validate_raw(record)
        assert caught.value.path == path and words in caught.value.message, caught.value.message
        assert caught.value.message.startswith(path)
    c.validate_raw({"id": "a", "stay": {"rooms": [1]}})


def test_validate_raw_message_stays_short_for_huge_values() -> None:
    c = compiled(raw_data_schema={"type": "object", "properties": {"id": {"type": "integer"}}})
    with pytest.raises(PMSDataValidationError) as caught:
        c.validate_raw({"id": "x" * 1_000_000})
    assert len(caught.value.message) < 400 and "is not of type 'integer'" in caught.value.message


def test_missing_null_and_empty_are_distinguished_only_where_they_should_be() -> None:
    c = compiled(fields={"guest.email": "$.email", "room_number": {"path": "$.room", "default": "TBD"},
                         "children": {"path": "$.kids", "default": 0}})
    missing = c.map(GOOD_RECORD)
    null = c.map({**GOOD_RECORD, "email": None, "room": None, "kids": None})
    empty = c.map({**GOOD_RECORD, "email": "", "room": "", "kids": ""})
    assert missing["guest"]["email"] is null["guest"]["email"] is empty["guest"]["email"] is None
    assert missing["room_number"] == null["room_number"] == "TBD"
    assert empty["room_number"] is None                 # "" is a value (default is for missing/null)…
    assert missing["children"] == null["children"] == 0
    assert empty["children"] is None                    # …and an empty number is no number


def test_mapping_forms_path_filter_template_const_coalesce() -> None:
    c = compiled(fields={
        "external_id": {"path": "$.ids[?(@.type=='Reservation')].id"},
        "guest.first_name": {"template": "{first} {middle}", "fields": {"first": "$.f", "middle": "$.m"}},
        "guest.last_name": {"template": "{{{last}}}", "fields": {"last": "$.l"}},
        "currency": {"const": "EUR"},
        "guest.email": {"coalesce": ["$.email", "$.contact.email"]},
        "room_number": {"path": "$.rooms[1]"},
        "adults": {"path": "$.guests", "transform": "count"},
    })
    record = {**GOOD_RECORD, "ids": [{"type": "Guest", "id": "G9"}, {"type": "Reservation", "id": "R7"}],
              "f": "Ana", "l": "Silva", "email": "", "contact": {"email": "ana@example.com"},
              "rooms": [101, 204], "guests": [{}, {}, {}]}
    booking = c.map(record)
    assert booking["external_id"] == "R7"
    assert booking["guest"] == {"first_name": "Ana", "last_name": "{Silva}", "email": "ana@example.com", "phone": None}
    assert (booking["currency"], booking["room_number"], booking["adults"]) == ("EUR", "204", 3)


def test_status_is_always_mapped_through_status_mappings() -> None:
    c = compiled()
    assert c.map({**GOOD_RECORD, "status": "CANCELLED"})["status"] == "CANCELLED"   # case-insensitive key
    assert c.map({**GOOD_RECORD, "status": 1})["status"] == "PENDING"
    with pytest.raises(PMSMappingError) as caught:
        c.map({**GOOD_RECORD, "status": "CONFIRMED_BY_PHONE"})
    assert caught.value.field == "status" and "CONFIRMED_BY_PHONE" in caught.value.message


def test_wrong_types_are_mapping_errors_naming_the_field() -> None:
    c = compiled(fields={"adults": "$.n", "total_amount": "$.amt", "room_number": "$.room"})
    for change, field in [({"n": "two"}, "adults"), ({"n": 1.5}, "adults"), ({"amt": "12,50"}, "total_amount"),
                          ({"room": {"no": 1}}, "room_number"), ({"room": True}, "room_number"),
                          ({"arrive": "01/05/2026"}, "check_in"), ({"updated": 1714000000}, "source_updated_at")]:
        with pytest.raises(PMSMappingError) as caught:
            c.map({**GOOD_RECORD, **change})
        assert caught.value.field == field and caught.value.message.startswith(f"{field}: ")
        assert caught.value.stage == "mapping"


def test_canonical_coercion_of_strings_and_numbers() -> None:
    c = compiled(fields={"adults": "$.n", "total_amount": "$.amt", "room_number": "$.room"})
    booking = c.map({**GOOD_RECORD, "n": "2", "amt": 99.999, "room": 204,
                     "arrive": "2026-05-01T23:30:00-05:00", "updated": "2026-04-20T10:15:00+02:00"})
    assert (booking["adults"], booking["total_amount"], booking["room_number"]) == (2, "100.00", "204")
    assert booking["check_in"] == "2026-05-01"
    assert booking["source_updated_at"] == "2026-04-20T08:15:00Z"


def test_rules_run_on_mapped_values_and_raise_business_rule_errors() -> None:
    c = compiled(rules={"required_fields": ["external_id"],
                        "business_rules": {"check_out_after_check_in": True, "max_booking_days": 2}})
    with pytest.raises(PMSBusinessRuleError) as caught:
        c.map({**GOOD_RECORD, "arrive": "2026-05-04T10:00:00+02:00", "depart": "2026-05-01"})
    assert caught.value.rule == "check_out_after_check_in"
    with pytest.raises(PMSBusinessRuleError) as caught:
        c.map(GOOD_RECORD)
    assert caught.value.rule == "max_booking_days"


def test_unicode_and_huge_strings_pass_through_sanitized() -> None:
    c = compiled(fields={"guest.first_name": "$.f", "guest.last_name": "$.l"})
    booking = c.map({**GOOD_RECORD, "f": "  José 王 <script>  ", "l": "x" * 1_000_000})
    assert booking["guest"]["first_name"] == "José 王 &lt;script&gt;"
    assert len(booking["guest"]["last_name"]) == 1_000_000


def test_an_unexpected_exception_comes_out_as_a_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from pmsync.config import compile as compile_module
    from pmsync.mapping import transforms

    def exploding() -> object:
        return lambda value: 1 / 0
    monkeypatch.setitem(transforms._FACTORIES, "lower", exploding)
    c = compiled(version="explodes", fields={"guest.email": {"path": "$.email", "transform": "lower"}})
    with pytest.raises(PMSMappingError) as caught:
        c.map({**GOOD_RECORD, "email": "a@b.c"})
    assert caught.value.field == "guest.email"
    assert caught.value.message == "guest.email: unexpected ZeroDivisionError: 'division by zero'"
    assert c.map(GOOD_RECORD)["guest"]["email"] is None       # the next record is unaffected

    monkeypatch.setattr(compile_module, "clean", lambda value: [][1])
    with pytest.raises(PMSMappingError, match="output: unexpected IndexError"):
        c.map({**GOOD_RECORD, "id": " R1 "})  # a value that needs cleaning
    monkeypatch.setattr(c, "_rules", lambda values: {}["x"])
    with pytest.raises(PMSBusinessRuleError, match="validation_rules: unexpected KeyError"):
        c.map(GOOD_RECORD)


def test_process_is_validate_raw_then_map() -> None:
    c = compiled()
    assert c.process(GOOD_RECORD) == EXPECTED
    with pytest.raises(PMSDataValidationError):
        c.process({**GOOD_RECORD, "id": 7})
    with pytest.raises(PMSDataValidationError, match="expected a JSON object"):
        c.process(["not", "an", "object"])


def test_records_at_records_path() -> None:
    c = compiled()
    assert c.records({"data": [1, 2]}) == [1, 2]
    assert c.records({"data": None}) == []
    with pytest.raises(PMSDataValidationError, match=r"no records list at \$\.data"):
        c.records({"items": []})
    with pytest.raises(PMSDataValidationError, match=r"no records list at \$\.data \(found a JSON dict\)"):
        c.records({"data": {"id": "a"}})
    root = compiled(source={**compiled().source, "records_path": "$"})
    assert root.records([{"id": "a"}]) == [{"id": "a"}]
    with pytest.raises(PMSDataValidationError, match="found a JSON dict"):
        root.records({"id": "a"})
    deep = compiled(source={**compiled().source, "records_path": "$.data[*].reservation"})
    assert deep.records({"data": [{"reservation": {"id": "a"}}, {"reservation": {"id": "b"}}]}) == [{"id": "a"}, {"id": "b"}]


def test_context_for_cuts_the_minimal_page_and_maps_the_same() -> None:
    c = compile_config(load_config(FIXTURES / "joined" / "v1.json"))
    page = orjson.loads((FIXTURES / "joined" / "golden" / "v1" / "raw.json").read_bytes())
    record = page["Reservations"][0]
    context = c.context_for(record, page)
    assert context == {"Customers": [page["Customers"][1]], "Companions": [page["Companions"][0]]}
    for record in page["Reservations"][:5]:
        assert_same_outcome(c, record, page)
    assert c.context_for({"CustomerId": "nobody"}, page) == {"Customers": [], "Companions": []}
    assert compiled().context_for(GOOD_RECORD, {"data": []}) is None


def assert_same_outcome(c, record, page) -> None:
    def outcome(context):
        try:
            return c.map(record, context)
        except Exception as exc:  # compare the typed error too
            return (type(exc).__name__, str(exc))
    assert outcome(c.context_for(record, page)) == outcome(page) == outcome(orjson.loads(orjson.dumps(c.context_for(record, page))))


def test_lookup_index_follows_a_changed_page() -> None:
    c = compile_config(load_config(FIXTURES / "joined" / "v1.json"))
    page = orjson.loads((FIXTURES / "joined" / "golden" / "v1" / "raw.json").read_bytes())
    record = page["Reservations"][1]
    assert c.map(record, page)["guest"]["last_name"] == "Silva"
    other = copy.deepcopy(page)
    other["Customers"][0]["LastName"] = "Santos"
    assert c.map(record, other)["guest"]["last_name"] == "Santos"
    with pytest.raises(PMSBusinessRuleError) as caught:   # True must not join the customer with id 1
        c.map({**record, "CustomerId": True}, {**page, "Customers": [{"Id": 1, "LastName": "One"}]})
    assert caught.value.field == "guest.last_name"
