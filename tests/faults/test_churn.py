"""Bookings edited at the PMS while multi-page syncs walk, for every pagination style the
config language has (page number, offset, cursor), with and without an upper time bound:
the simulator's churn mode (pmsync/simulator/churn.py) edits the page-boundary record and a
random one between the pages of a walk; not one booking may be skipped."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timezone

import psycopg
import pytest

from pmsync.config_store import publish_configs
from tests.faults.churn_configs import VARIANTS, page_size, variant_configs
from tests.faults.load import finish, start_load

pytestmark = pytest.mark.timeout(900)

CHURN_RATE = 0.15


def _move_hotels_to_variants(pipeline) -> Counter:
    """Give each hotel of a family with variants one of them, round robin; returns per label."""
    by_family: dict[tuple[str, str], list] = {}
    for v in VARIANTS:
        by_family.setdefault((v.pms_type, v.shipped), []).append(v)
    per_label: Counter = Counter()
    with psycopg.connect(pipeline.settings.database_url, autocommit=True) as conn:
        rows = conn.execute("SELECT id, pms_type, pms_version FROM hotels WHERE id = ANY(%s) ORDER BY id",
                            (list(pipeline.hotels),)).fetchall()
        seen: Counter = Counter()
        for hotel_id, pms_type, version in rows:
            options = by_family.get((pms_type, version))
            if not options:
                continue       # generic v1: one page, nothing to walk
            v = options[seen[(pms_type, version)] % len(options)]
            seen[(pms_type, version)] += 1
            conn.execute("UPDATE hotels SET pms_version = %s WHERE id = %s", (v.version, hotel_id))
            per_label[v.label] += 1
    return per_label


def test_no_booking_is_skipped_when_the_pms_edits_records_during_paged_walks(pipeline, scale, record):
    start_load(pipeline, scale, fetcher=False, faults={"default": {"churn_rate": CHURN_RATE}})
    size = page_size(scale.bookings_per_hotel)
    publish_configs(pipeline.settings, variant_configs(size))
    per_label = _move_hotels_to_variants(pipeline)
    assert len(per_label) == len(VARIANTS), f"hotels per pagination style: {dict(per_label)}"
    started = time.monotonic()
    walks_from = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    pipeline.start_instance("fetcher", "fetcher")
    result = finish(pipeline, scale, record, started)
    # Nothing else changes the world in this scenario: what is newer than the start was
    # edited by churn while a walk was under way.
    edited = sum(1 for t in pipeline.truth().values() for b in t["bookings"].values()
                 if b["source_updated_at"] >= walks_from)
    assert edited > 0, "the simulator edited no booking during the walks: churn was not exercised"
    record.did = (f"churn_rate {CHURN_RATE} on every hotel, pages of {size}: "
                  + "; ".join(f"{label}: {n} hotels" for label, n in sorted(per_label.items())))
    record.counts.update({"hotels walking pages": sum(per_label.values()), "edited during walks": edited})
    assert result.bookings_loaded == result.bookings_expected
    record.passed = True
