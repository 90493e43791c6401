"""Invalid records the simulator injects: one kind per way a record can fail each stage.

A defect is data about a snapshot (``SimBooking.defect``): mapping and business-rule defects
are made on the canonical side (an unknown status code, a date nobody can read, check-out
before check-in, …) so every family renders them the same way; schema defects break the raw
record itself, so each family says how (``Family.break_schema``).

Every defect carries what a correct pipeline reports for it: stage, error class, location
(the canonical field, or for schema errors the raw JSON path the family gives) and a word
the message must contain. This module must never produce a record that is invalid in two
ways at once: a reject's expected stage would then depend on the engine's check order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Callable

from pmsync.simulator.booking import SimBooking

STAGE_CLASS = {"schema": "PMSDataValidationError", "mapping": "PMSMappingError",
               "business_rule": "PMSBusinessRuleError"}


@dataclass(frozen=True)
class Defect:
    name: str
    stage: str
    field: str | None            # canonical field the error names; None: the family's raw path
    message_contains: str | None  # None: the family's schema break says
    make: Callable[[SimBooking], SimBooking]

    @property
    def error_class(self) -> str:
        return STAGE_CLASS[self.stage]


def _same(b: SimBooking) -> SimBooking:
    return b


DEFECTS: dict[str, Defect] = {d.name: d for d in (
    # Schema: the family removes its reservation-id field / gives a count the wrong JSON type.
    Defect("missing_id", "schema", None, None, _same),
    Defect("wrong_type", "schema", None, None, _same),
    # Mapping: values of the right JSON type that no transform can read.
    Defect("unknown_status", "mapping", "status", "WAITLISTED",
           lambda b: b.evolve(raw_status="WAITLISTED")),
    Defect("unreadable_date", "mapping", "check_in", "31/02/2026",
           lambda b: b.evolve(raw_check_in="31/02/2026")),
    # Business rules: a well-formed booking that breaks exactly one rule.
    Defect("check_out_before_check_in", "business_rule", "check_out", "check_in",
           lambda b: b.evolve(check_out=b.check_in - timedelta(days=2))),
    Defect("stay_too_long", "business_rule", "check_out", "60",
           lambda b: b.evolve(check_out=b.check_in + timedelta(days=90))),
    Defect("negative_amount", "business_rule", "total_amount", "total_amount",
           lambda b: b.evolve(total_amount=Decimal("-120.00"))),
    Defect("zero_adults", "business_rule", "adults", "adults",
           lambda b: b.evolve(adults=0)),
    Defect("bad_email", "business_rule", "guest.email", "email",
           lambda b: b.evolve(email="not-an-email")),
)}


def expected_reject(defect_name: str, schema_location: str | None = None,
                    schema_message: str | None = None) -> dict[str, str | None]:
    """The reject a correct pipeline reports for a record with this defect."""
    defect = DEFECTS[defect_name]
    return {"stage": defect.stage, "error_class": defect.error_class,
            "location": defect.field or schema_location,
            "message_contains": defect.message_contains or schema_message}
