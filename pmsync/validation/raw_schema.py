"""A PMS version's ``raw_data_schema`` compiled once, checked per record.

jsonschema-rs answers yes/no on the hot path (about 100x faster than the reference validator);
only a failing record is re-checked by the reference ``jsonschema`` validator to explain what
is wrong and where. ``tests/unit/test_schema_validator_agreement.py`` proves the two agree on
validity. Never put a whole huge value into an error message.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import jsonschema_rs

from pmsync.errors import PMSDataValidationError
from pmsync.mapping.paths import location

_MAX_MESSAGE = 300


def _clip(text: str) -> str:
    if len(text) <= _MAX_MESSAGE:
        return text
    # Keep both ends: the start names the value, the end says what is wrong with it.
    return text[:180] + " … " + text[-100:]


def schema_problems(schema: Any) -> list[tuple[str, str]]:
    """Why ``schema`` is not a usable draft 2020-12 schema, as (pointer inside it, message)."""
    problems = []
    for err in jsonschema.Draft202012Validator(jsonschema.Draft202012Validator.META_SCHEMA).iter_errors(schema):
        pointer = "".join(f"/{str(p).replace('~', '~0').replace('/', '~1')}" for p in err.absolute_path)
        problems.append((pointer, f"not a valid JSON Schema: {_clip(err.message)}"))
    if not problems:
        try:
            jsonschema_rs.Draft202012Validator(schema)
        except Exception as exc:  # e.g. a regex the Rust engine cannot compile
            problems.append(("", f"JSON Schema cannot be compiled: {_clip(str(exc))}"))
    return problems


class RawSchema:
    """One compiled raw-record schema (draft 2020-12)."""

    def __init__(self, schema: dict | bool) -> None:
        self.schema = schema
        self._fast = jsonschema_rs.Draft202012Validator(schema)
        self._reference: jsonschema.Draft202012Validator | None = None

    def is_valid(self, record: Any) -> bool:
        try:
            return self._fast.is_valid(record)
        except Exception:  # a Python value Rust cannot take (e.g. an int beyond 64 bits)
            return self.reference.is_valid(record)

    @property
    def reference(self) -> jsonschema.Draft202012Validator:
        if self._reference is None:
            self._reference = jsonschema.Draft202012Validator(self.schema)
        return self._reference

    def validate(self, record: Any) -> None:
        """Return if ``record`` is valid, else raise PMSDataValidationError saying where and why."""
        if not self.is_valid(record):
            raise self.explain(record)

    def explain(self, record: Any) -> PMSDataValidationError:
        error = jsonschema.exceptions.best_match(self.reference.iter_errors(record))
        if error is None:  # the validators disagree: report what the fast one saw
            try:
                self._fast.validate(record)
            except jsonschema_rs.ValidationError as fast:
                path = _clip(location(list(fast.instance_path)))
                return PMSDataValidationError(f"{path}: {_clip(fast.message)}", path=path)
            return PMSDataValidationError("record does not match raw_data_schema", path="$")
        parts = list(error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            # Point at the missing property itself, not at the object that lacks it.
            missing = [p for p in error.validator_value if p not in error.instance]
            if missing:
                parts.append(missing[0])
        path = _clip(location(parts))  # a record may hold a huge key; headers must stay small
        return PMSDataValidationError(f"{path}: {_clip(error.message)}", path=path)
