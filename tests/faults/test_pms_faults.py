"""Every PMS fault the simulator has (pmsync/simulator/faults.py) on some hotels while the
others stay healthy: the healthy hotels' syncs never fail, a failed sync leaves its hotel's
checkpoint where it was and a later sync fills what it missed; a PMS that keeps failing backs
off across syncs up to a cap (visible in the sync status) and recovers on its own."""

from __future__ import annotations

import time
import pytest

from tests.faults.fault_pipeline import FETCHER_OPTIONS, POLL_INTERVAL_S
from tests.faults.load import finish, start_load
from tests.faults.sync_status import sync_status

pytestmark = pytest.mark.timeout(900)

# Faults that make whole syncs fail while they are at 1.0, and milder rates that retries
# inside one sync mostly ride out.
FAILING = {
    "5xx": ({"error_rate": 1.0}, {"error_rate": 0.3}),
    "429": ({"rate_limit_rate": 1.0, "retry_after_seconds": 1}, {"rate_limit_rate": 0.3, "retry_after_seconds": 1}),
    "hang": ({"timeout_rate": 1.0, "hang_seconds": 6}, {"timeout_rate": 0.2, "hang_seconds": 6}),
    "truncated": ({"truncated_rate": 1.0}, {"truncated_rate": 0.3}),
    "malformed": ({"malformed_rate": 1.0}, {"malformed_rate": 0.3}),
}
# Faults that serve extra records: they never fail a sync, the result must still be exact.
EXTRA = {"duplicates": {"duplicate_rate": 1.0}, "out_of_order": {"out_of_order_rate": 1.0}}
HOTELS_PER_FAULT = 3
BACKOFF_MAX_S = 15
FETCHER = [*FETCHER_OPTIONS, "--attempts", "2", "--backoff-max", str(BACKOFF_MAX_S)]


def _assign(sim_ids: list[str]) -> dict[str, list[str]]:
    """Fault name → the simulator hotels that get it (every 7th hotel or so; the rest healthy)."""
    names = [*FAILING, *EXTRA]
    picked = sim_ids[::len(sim_ids) // (len(names) * HOTELS_PER_FAULT)]
    return {name: picked[i::len(names)][:HOTELS_PER_FAULT] for i, name in enumerate(names)}


def _faults(assigned: dict[str, list[str]], phase: int) -> dict:
    hotels = {h: FAILING[name][phase] for name, ids in assigned.items() if name in FAILING for h in ids}
    hotels.update({h: EXTRA[name] for name, ids in assigned.items() if name in EXTRA for h in ids})
    return {"hotels": hotels}


def test_pms_faults_stay_with_their_hotels_and_failed_syncs_are_filled_later(pipeline, scale, record):
    start_load(pipeline, scale, fetcher=False)
    sim_ids = sorted(pipeline.hotels.values())
    assigned = _assign(sim_ids)
    by_sim = {sim: ours for ours, sim in pipeline.hotels.items()}
    failing = {by_sim[h] for name in FAILING for h in assigned[name]}
    faulty = failing | {by_sim[h] for name in EXTRA for h in assigned[name]}
    pipeline.set_faults(_faults(assigned, 0))
    pipeline.start_instance("fetcher", "fetcher", FETCHER)

    # Phase 1: the failing PMSs fail every request. Wait until each has failed a few syncs in
    # a row, then read its backoff from the sync status.
    def backed_off() -> dict | None:
        status = sync_status(pipeline.settings)
        return status if all(status[h]["consecutive_failures"] >= 3 for h in failing) else None
    started = time.monotonic()
    status = pipeline.wait_for(backed_off, 240, f"each of the {len(failing)} failing hotels to fail 3 syncs in a row")
    backoff_s = pipeline.backoff_seconds(failing)
    for h in failing:
        row = status[h]
        assert row["delta_cursor"] is None and row["last_success_at"] is None, (
            f"{h} never synced successfully but its checkpoint moved: {row}")
        assert row.get("next_attempt_at"), f"{h} failed {row['consecutive_failures']} syncs, no backoff shown: {row}"
    assert min(backoff_s.values()) > POLL_INTERVAL_S, (
        f"after 3+ failed syncs each hotel should wait longer than its {POLL_INTERVAL_S} s interval: "
        f"{sorted(backoff_s.values())}")
    assert backoff_s and max(backoff_s.values()) <= BACKOFF_MAX_S + 1, (
        f"backoff beyond the {BACKOFF_MAX_S} s cap: {sorted(backoff_s.values())}")
    healthy_failed = {h: row["last_error"] for h, row in status.items()
                      if h in pipeline.hotels and h not in failing and row["consecutive_failures"]}
    assert not healthy_failed, f"{len(healthy_failed)} healthy hotels had failed syncs: {healthy_failed}"

    # Phase 2: the PMSs get better (milder faults), nobody restarts anything.
    pipeline.set_faults(_faults(assigned, 1))
    healed = time.monotonic()
    # Every once-failing hotel completes a sync by itself (its backoff ends, the next succeeds).
    def all_synced_again() -> dict | None:
        status = sync_status(pipeline.settings)
        return status if all(status[h]["last_success_at"] for h in failing) else None
    pipeline.wait_for(all_synced_again, 120,
                              f"each of the {len(failing)} once-failing hotels to complete a sync on its own",
                              interval=2)
    finish(pipeline, scale, record, healed)
    after = sync_status(pipeline.settings)
    never_failed = [h for h in pipeline.hotels if h not in faulty]
    errors = {h: after[h]["last_error"] for h in never_failed if after[h].get("last_error")}
    assert not errors, f"{len(errors)} of {len(never_failed)} healthy hotels recorded a failed sync: {errors}"
    still = {h: after[h]["consecutive_failures"] for h in failing if after[h]["consecutive_failures"]}
    record.did = (f"{len(failing)} hotels with 5xx/429/hang/truncated/malformed at 100% until each failed "
                  f"3+ syncs (backoff {min(backoff_s.values()):.0f}-{max(backoff_s.values()):.0f} s, cap "
                  f"{BACKOFF_MAX_S} s), then at 20-30%; {len(faulty) - len(failing)} with duplicates/out-of-order; "
                  f"{len(never_failed)} healthy")
    record.counts.update({"failing hotels": len(failing), "healthy sync failures": len(errors),
                          "phase 1 s": round(healed - started), "hotels still failing": len(still)})
    record.passed = True
