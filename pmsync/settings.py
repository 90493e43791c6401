"""Settings from environment variables, read and validated once at start.

Every knob has a documented default that matches the native dev stack, so ``pmsync`` works
on a fresh clone with no environment at all. A bad value stops the process with a message
naming the variable; it never falls back silently.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit

from pmsync.errors import SettingsError

REPO_ROOT = Path(__file__).resolve().parent.parent


def _int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise SettingsError(f"{name}={value} must be at least {minimum}")
    return value


def _str(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _dsn(name: str, default: str) -> str:
    value = _str(name, default)
    if urlsplit(value).scheme not in ("postgresql", "postgres"):
        raise SettingsError(f"{name} must be a postgresql:// URL")
    return value


@dataclass(frozen=True)
class Topics:
    raw: str = "pms.raw.v1"
    validated: str = "pms.validated.v1"
    bookings: str = "pms.bookings.v1"
    dlq: str = "pms.dlq.v1"
    configs: str = "pms.configs.v1"

    @classmethod
    def from_env(cls, prefix: str = "") -> "Topics":
        """Topic names, each overridable (PMSYNC_TOPIC_RAW, …) and all prefixable (tests)."""
        values = {}
        for f in fields(cls):
            values[f.name] = prefix + _str(f"PMSYNC_TOPIC_{f.name.upper()}", f.default)
        return cls(**values)


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str = "127.0.0.1:19092"
    database_url: str = "postgresql://pmsync:pmsync@127.0.0.1:55432/pmsync"
    api_database_url: str = "postgresql://pmsync_api:pmsync_api@127.0.0.1:55432/pmsync"
    topics: Topics = field(default_factory=Topics)
    partitions: int = 6
    dlq_retention_ms: int = 30 * 24 * 3600 * 1000
    stack_dir: Path = REPO_ROOT / ".stack"
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    postgres_port: int = 55432
    api_port: int = 8000
    simulator_port: int = 8081
    log_level: str = "INFO"
    # Consumer groups are "<prefix>-<service>"; tests give each run its own prefix.
    group_prefix: str = "pmsync"

    @classmethod
    def from_env(cls) -> "Settings":
        kafka_port = _int("PMSYNC_KAFKA_PORT", 19092, 1)
        pg_port = _int("PMSYNC_POSTGRES_PORT", 55432, 1)
        level = _str("PMSYNC_LOG_LEVEL", "INFO").upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError(f"PMSYNC_LOG_LEVEL={level!r} must be DEBUG, INFO, WARNING or ERROR")
        partitions = _int("PMSYNC_TOPIC_PARTITIONS", 6, 1)
        return cls(
            kafka_bootstrap=_str("PMSYNC_KAFKA_BOOTSTRAP", f"127.0.0.1:{kafka_port}"),
            database_url=_dsn("PMSYNC_DATABASE_URL",
                              f"postgresql://pmsync:pmsync@127.0.0.1:{pg_port}/pmsync"),
            api_database_url=_dsn("PMSYNC_API_DATABASE_URL",
                                  f"postgresql://pmsync_api:pmsync_api@127.0.0.1:{pg_port}/pmsync"),
            topics=Topics.from_env(_str("PMSYNC_TOPIC_PREFIX", "")),
            partitions=partitions,
            dlq_retention_ms=_int("PMSYNC_DLQ_RETENTION_MS", 30 * 24 * 3600 * 1000, 3600_000),
            stack_dir=Path(_str("PMSYNC_STACK_DIR", str(REPO_ROOT / ".stack"))),
            kafka_port=kafka_port,
            kafka_controller_port=_int("PMSYNC_KAFKA_CONTROLLER_PORT", kafka_port + 1, 1),
            postgres_port=pg_port,
            api_port=_int("PMSYNC_API_PORT", 8000, 1),
            simulator_port=_int("PMSYNC_SIMULATOR_PORT", 8081, 1),
            log_level=level,
            group_prefix=_str("PMSYNC_GROUP_PREFIX", "pmsync"),
        )

    def to_env(self) -> dict[str, str]:
        """Environment variables that make a child process read these same settings."""
        env = {
            "PMSYNC_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "PMSYNC_DATABASE_URL": self.database_url,
            "PMSYNC_API_DATABASE_URL": self.api_database_url,
            "PMSYNC_TOPIC_PARTITIONS": str(self.partitions),
            "PMSYNC_TOPIC_PREFIX": "",
            "PMSYNC_DLQ_RETENTION_MS": str(self.dlq_retention_ms),
            "PMSYNC_STACK_DIR": str(self.stack_dir),
            "PMSYNC_KAFKA_PORT": str(self.kafka_port),
            "PMSYNC_KAFKA_CONTROLLER_PORT": str(self.kafka_controller_port),
            "PMSYNC_POSTGRES_PORT": str(self.postgres_port),
            "PMSYNC_API_PORT": str(self.api_port),
            "PMSYNC_SIMULATOR_PORT": str(self.simulator_port),
            "PMSYNC_LOG_LEVEL": self.log_level,
            "PMSYNC_GROUP_PREFIX": self.group_prefix,
        }
        for f in fields(Topics):
            env[f"PMSYNC_TOPIC_{f.name.upper()}"] = getattr(self.topics, f.name)
        return env

    def group_id(self, service: str) -> str:
        return f"{self.group_prefix}-{service}"

    def redacted(self) -> dict[str, str]:
        """Settings as printable strings, with passwords in DSNs masked."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            text = str(value)
            if f.name.endswith("database_url"):
                parts = urlsplit(text)
                if parts.password:
                    text = text.replace(f":{parts.password}@", ":***@")
            out[f.name] = text
        return out


_settings: Settings | None = None


def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    global _settings
    if _settings is None:
        _settings = Settings.from_env()
    return _settings
