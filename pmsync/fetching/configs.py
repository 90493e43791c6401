"""PMS configs for the fetcher: read from table ``pms_configs``, compiled once per body hash.

Compiling is ``pmsync.config.load_config(body)`` then ``compile_config``; a config that fails
either is reported per hotel (its sync fails with the config's errors) and never stops other
hotels. The ``source`` block is read from the same body the compiled config came from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psycopg_pool import ConnectionPool

from pmsync.errors import ConfigError
from pmsync.fetching.source import SourceSpec

Compiler = Callable[[dict[str, Any]], Any]


def compile_body(body: dict[str, Any]) -> Any:
    """The project's compiler (imported on use: it is another module's work)."""
    from pmsync.config import compile_config, load_config
    return compile_config(load_config(body))


@dataclass(frozen=True)
class LoadedConfig:
    pms_type: str
    version: str
    config_hash: str
    compiled: Any
    source: SourceSpec


class ConfigCache:
    """Compiled configs by (type, version); recompiled only when the stored hash changes."""

    def __init__(self, pool: ConnectionPool, compiler: Compiler = compile_body) -> None:
        self.pool = pool
        self.compiler = compiler
        self._by_key: dict[tuple[str, str], LoadedConfig] = {}
        self._errors: dict[tuple[str, str, str], str] = {}

    def refresh(self) -> dict[tuple[str, str], LoadedConfig | str]:
        """Every stored config, compiled, or the reason it could not be (by type, version)."""
        with self.pool.connection() as conn:
            rows = conn.execute("SELECT pms_type, version, config_hash, body FROM pms_configs").fetchall()
        out: dict[tuple[str, str], LoadedConfig | str] = {}
        for pms_type, version, config_hash, body in rows:
            key = (pms_type, version)
            cached = self._by_key.get(key)
            if cached is not None and cached.config_hash == config_hash:
                out[key] = cached
                continue
            failed = self._errors.get((pms_type, version, config_hash))
            if failed is not None:
                out[key] = failed
                continue
            try:
                loaded = LoadedConfig(pms_type, version, config_hash, self.compiler(body),
                                      SourceSpec.from_block((body or {}).get("source")))
            except ConfigError as exc:
                out[key] = self._errors[(pms_type, version, config_hash)] = \
                    f"config {pms_type}/{version} is invalid: {exc}"
                continue
            except Exception as exc:  # a compiler bug must fail this config's hotels only
                out[key] = self._errors[(pms_type, version, config_hash)] = \
                    f"config {pms_type}/{version} could not be compiled: {type(exc).__name__}: {exc}"
                continue
            self._by_key[key] = out[key] = loaded
        return out
