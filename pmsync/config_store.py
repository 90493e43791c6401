"""Publishing a PMS config: store it in Postgres (what hotels and the API read) and send it to
the compacted configs topic (what the stream workers hot-reload from).

Only a config that passed ``load_config`` (meta-schema and semantic checks) can be published.
"""

from __future__ import annotations

import orjson
import psycopg

from pmsync.kafka.acked import DEFAULT_BOOTSTRAP_TIMEOUT_S, acked_producer
from pmsync.settings import Settings


def store_config(conn: psycopg.Connection, cfg) -> None:
    conn.execute(
        """INSERT INTO pms_configs (pms_type, version, body, config_hash)
           VALUES (%s, %s, %s::jsonb, %s)
           ON CONFLICT (pms_type, version) DO UPDATE
              SET body = EXCLUDED.body, config_hash = EXCLUDED.config_hash, updated_at = now()
            WHERE pms_configs.config_hash IS DISTINCT FROM EXCLUDED.config_hash""",
        (cfg.pms_type, cfg.version, orjson.dumps(cfg.body).decode(), cfg.hash))


def send_config(settings: Settings, configs: list, *,
                bootstrap_timeout_s: float = DEFAULT_BOOTSTRAP_TIMEOUT_S) -> None:
    """Send configs to the configs topic and wait for the broker's acknowledgement."""
    producer = acked_producer(settings, "pmsync-config-publish", bootstrap_timeout_s=bootstrap_timeout_s)
    try:
        for cfg in configs:
            producer.send(settings.topics.configs, key=cfg.key.encode(), value=orjson.dumps(cfg.body))
        producer.flush(timeout=30)
    finally:
        producer.close()


def publish_configs(settings: Settings, configs: list, conn: psycopg.Connection | None = None, *,
                    bootstrap_timeout_s: float = DEFAULT_BOOTSTRAP_TIMEOUT_S) -> None:
    """Store then send; the database row is committed before the workers can see the topic record."""
    if conn is None:
        with psycopg.connect(settings.database_url) as owned:
            for cfg in configs:
                store_config(owned, cfg)
    else:
        for cfg in configs:
            store_config(conn, cfg)
        conn.commit()
    send_config(settings, configs, bootstrap_timeout_s=bootstrap_timeout_s)


def publish_config(settings: Settings, cfg, conn: psycopg.Connection | None = None, *,
                   bootstrap_timeout_s: float = DEFAULT_BOOTSTRAP_TIMEOUT_S) -> None:
    publish_configs(settings, [cfg], conn, bootstrap_timeout_s=bootstrap_timeout_s)


def stored_config(database_url: str, key: str) -> bytes | None:
    """The body stored for ``pms_type:version`` (validated when it was published), or None.
    What stream workers fall back to when the configs topic's record for a key is not valid."""
    pms_type, _, version = key.partition(":")
    with psycopg.connect(database_url, connect_timeout=5, application_name="pmsync-configs") as conn:
        row = conn.execute("SELECT body::text FROM pms_configs WHERE pms_type = %s AND version = %s",
                           (pms_type, version)).fetchone()
    return row[0].encode() if row else None
