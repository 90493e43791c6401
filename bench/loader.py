"""Loader benchmark: the set-based upsert against plain COPY of the very same rows.

Run: ``.venv/bin/python bench/loader.py [--rows 200000] [--hotels 1000] [--batch-size 5000]``

Creates a throwaway database on the running Postgres (owner DSN from the settings), migrates
it, and in one run on the same generated rows measures:
  (a) COPY into an unkeyed table             (b) COPY into a table with the bookings key
  (b') COPY into a table with all of bookings' indexes (the real write floor, for context)
  (c) the loader's upsert, all rows new      (d) the upsert, every row exists (incoming newer)
  (e) the upsert, every incoming row stale
each with and without the rooms upsert (the guest is part of the booking row), plus the whole loader path (Avro decode +
newest-per-key + upsert) for new rows. Every batch is one transaction, as in the loader.
Prints rows/s and ratios; it asserts nothing about speed. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone

import psycopg

from pmsync.db.bookings import BookingStore, newest_per_key
from pmsync.db.migrate import migrate
from pmsync.loader.batch import Batch, Message
from pmsync.loader.store import store_batch
from pmsync.serde.avro import encode_booking
from pmsync.settings import get_settings

COLUMNS = ("hotel_id", "external_id", "status", "check_in", "check_out", "room_number", "room_type",
           "adults", "children", "total_amount", "currency", "source_updated_at", "pms_type",
           "pms_version", "config_hash", "source_topic", "source_partition", "source_offset")
STATUSES = ("PENDING", "CONFIRMED", "CHECKED_IN", "CHECKED_OUT", "CANCELLED", "NO_SHOW")


def generate(rows: int, hotels: int, seed: int = 7) -> list[dict]:
    rnd = random.Random(seed)
    base = datetime(2026, 4, 1, tzinfo=timezone.utc)
    out = []
    for i in range(rows):
        hotel = f"hotel-{i % hotels:04d}"
        check_in = base + timedelta(days=rnd.randrange(0, 300))
        out.append({
            "external_id": f"R-{i // hotels:07d}", "status": rnd.choice(STATUSES),
            "check_in": check_in.date().isoformat(),
            "check_out": (check_in + timedelta(days=rnd.randrange(1, 14))).date().isoformat(),
            "guest": {"first_name": rnd.choice(["Ana", "Ines", "Jon", "Mei"]),
                      "last_name": rnd.choice(["Silva", "Moreau", "Berg", "Chen"]),
                      "email": f"guest{i}@example.com" if i % 3 else None, "phone": None},
            "room_number": str(100 + rnd.randrange(0, 300)), "room_type": rnd.choice(["SGL", "DBL", "STE"]),
            "adults": rnd.randrange(1, 4), "children": rnd.randrange(0, 3),
            "total_amount": f"{rnd.randrange(5000, 500000) / 100:.2f}", "currency": "EUR",
            "source_updated_at": (base - timedelta(seconds=rnd.randrange(0, 10**7))).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "hotel_id": hotel, "pms_type": "generic", "pms_version": "1", "config_hash": "c" * 16,
            "source_topic": "pms.raw.v1", "source_partition": i % 6, "source_offset": i,
        })
    return out


def shifted(rows: Sequence[dict], hours: int) -> list[dict]:
    """The same bookings, changed ``hours`` later (negative: earlier, i.e. stale)."""
    out = []
    for r in rows:
        when = datetime.fromisoformat(r["source_updated_at"]) + timedelta(hours=hours)
        out.append({**r, "status": "CONFIRMED", "source_updated_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "source_offset": r["source_offset"] + (10**7 if hours > 0 else 0)})
    return out


def chunks(rows: Sequence, size: int) -> list[Sequence]:
    return [rows[i:i + size] for i in range(0, len(rows), size)]


def timed(label: str, rows: int, work: Callable[[], None], results: list) -> None:
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    results.append((label, rows, seconds))
    print(f"  {label:<58} {rows / seconds:>10,.0f} rows/s", flush=True)


def copy_into(conn: psycopg.Connection, table: str, rows: Sequence[dict], size: int) -> None:
    sql = f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN"
    for part in chunks(rows, size):
        with conn.transaction(), conn.cursor() as cur, cur.copy(sql) as copy:
            for r in part:
                copy.write_row(tuple(r[c] for c in COLUMNS))


def upsert(store: BookingStore, rows: Sequence[dict], size: int) -> None:
    for part in chunks(rows, size):
        keep = newest_per_key(part)
        with store.conn.transaction():
            store.upsert([part[i] for i in keep])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--hotels", type=int, default=1_000)
    parser.add_argument("--batch-size", type=int, default=5_000)
    args = parser.parse_args()

    settings = get_settings()
    name = f"pmsync_bench_{uuid.uuid4().hex[:8]}"
    owner_dsn = settings.database_url
    with psycopg.connect(owner_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    dsn = psycopg.conninfo.make_conninfo(owner_dsn, dbname=name)
    try:
        migrate(dsn)
        rows = generate(args.rows, args.hotels)
        newer, stale = shifted(rows, 1), shifted(rows, -2)
        print(f"{args.rows:,} bookings, {args.hotels:,} hotels, batches of {args.batch_size:,} "
              f"(one transaction each), database {name}")
        results: list = []
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE copy_plain (LIKE bookings INCLUDING DEFAULTS)")
            conn.execute("CREATE TABLE copy_keyed (LIKE bookings INCLUDING DEFAULTS, "
                         "PRIMARY KEY (hotel_id, external_id))")
            # bookings' own key, checks and both secondary indexes: what any write into it pays.
            conn.execute("CREATE TABLE copy_indexed (LIKE bookings INCLUDING ALL)")
            n, size = len(rows), args.batch_size
            timed("(a) COPY, unkeyed table", n, lambda: copy_into(conn, "copy_plain", rows, size), results)
            timed("(b) COPY, table with the bookings key", n,
                  lambda: copy_into(conn, "copy_keyed", rows, size), results)
            timed("(b') COPY, table with all of bookings' indexes", n,
                  lambda: copy_into(conn, "copy_indexed", rows, size), results)
            for full in (True, False):
                what = "bookings(+guest)+rooms" if full else "bookings only"
                conn.execute("TRUNCATE bookings, rooms")
                store = BookingStore(conn, with_rooms=full)
                timed(f"(c) upsert, all new [{what}]", n, lambda: upsert(store, rows, size), results)
                timed(f"(d) upsert, all exist, incoming newer [{what}]", n,
                      lambda: upsert(store, newer, size), results)
                timed(f"(e) upsert, all exist, incoming stale [{what}]", n,
                      lambda: upsert(store, stale, size), results)
            written = conn.execute("SELECT count(*) FROM bookings WHERE status = 'CONFIRMED'").fetchone()[0]
            total = conn.execute("SELECT count(*) FROM bookings").fetchone()[0]
            assert total == n, f"{total} rows stored, expected {n}"  # a sanity check, not a timing

            conn.execute("TRUNCATE bookings, rooms")
            encoded = [Batch.of([Message("pms.bookings.v1", 0, i + j, r["hotel_id"].encode(),
                                         encode_booking(r), []) for j, r in enumerate(part)])
                       for i, part in zip(range(0, n, size), chunks(rows, size))]
            full_store = BookingStore(conn)
            timed("(c+) whole loader path, all new: Avro decode + upsert [all]", n,
                  lambda: [store_batch(full_store, b) for b in encoded], results)

        plain, keyed = results[0][2], results[1][2]
        upsert_full, upsert_bookings = results[3][2], results[6][2]
        print(f"\n{'scenario':<58} {'rows/s':>10} {'vs (a)':>7} {'vs (b)':>7}")
        for label, count, seconds in results:
            print(f"{label:<58} {count / seconds:>10,.0f} {plain / seconds:>6.2f}x {keyed / seconds:>6.2f}x")
        print(f"\nbar: loader upsert (c) >= 0.50x plain COPY (a); measured "
              f"{plain / upsert_full:.2f}x with rooms, {plain / upsert_bookings:.2f}x bookings only; "
              f"bookings-only upsert vs (b') COPY into an equally indexed table: "
              f"{results[2][2] / upsert_bookings:.2f}x")
        print(f"sanity: {total:,} rows stored, {written:,} with the newer version's status")
    finally:
        with psycopg.connect(owner_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
