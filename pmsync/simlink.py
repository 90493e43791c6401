"""Glue between the PMS simulator and the pipeline: register the simulator's hotels with the
fetcher (hotels table + credentials in the secrets folder) and read its ground truth.

Used by ``pmsync demo``, the end-to-end tests and bench/pipeline.py. Credentials are written
to files readable by the owner only and never printed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import psycopg
import urllib.request

from pmsync.hotels import Hotel, add_hotel, get_hotel
from pmsync.secrets import secrets_dir
from pmsync.settings import Settings


def sim_get(base_url: str, path: str, timeout: float = 30) -> dict:
    with urllib.request.urlopen(f"{base_url.rstrip('/')}{path}", timeout=timeout) as response:
        return json.loads(response.read())


def sim_post(base_url: str, path: str, body: dict | None = None, timeout: float = 30) -> dict:
    request = urllib.request.Request(f"{base_url.rstrip('/')}{path}", method="POST",
                                     data=json.dumps(body or {}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def register_hotels(conn: psycopg.Connection, settings: Settings, sim_url: str, *,
                    id_prefix: str = "", poll_interval_s: int = 30) -> dict[str, str]:
    """Add every simulated hotel (skipping ones already registered); returns our id → sim id."""
    folder = secrets_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    ours = {}
    for entry in sim_get(sim_url, "/_sim/hotels?credentials=1")["hotels"]:
        hotel_id = f"{id_prefix}{entry['id']}"
        ref = f"{hotel_id}-credentials"
        path: Path = folder / f"{ref}.json"
        path.write_text(json.dumps(entry["credentials"]))
        os.chmod(path, 0o600)
        if get_hotel(conn, hotel_id) is None:
            add_hotel(conn, Hotel(hotel_id, entry["name"], entry["pms_type"], entry["pms_version"],
                                  entry["base_url"], entry["property_id"], ref, poll_interval_s))
        ours[hotel_id] = entry["id"]
    return ours
