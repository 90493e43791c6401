"""``PMSConfig``: one loaded, checked PMS config version and its identity (type, version, hash).

It holds data only; compiling it for the per-record path is ``pmsync.config.compile``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson


def config_hash(body: dict[str, Any]) -> str:
    """SHA-256 hex of the config with sorted keys and no whitespace (docs/config-language.md)."""
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True, eq=False)
class PMSConfig:
    """A config that passed the meta-schema and every semantic check."""

    pms_type: str
    version: str
    body: dict[str, Any] = field(repr=False)
    hash: str
    origin: str = "<memory>"   # where it was loaded from, for messages only

    @property
    def key(self) -> str:
        """``type:version``, the key on the configs topic and in caches."""
        return f"{self.pms_type}:{self.version}"

    @property
    def source(self) -> dict[str, Any]:
        """The ``source`` block: how the fetcher pulls a page from this PMS."""
        return self.body["source"]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PMSConfig) and other.hash == self.hash

    def __hash__(self) -> int:
        return hash(self.hash)

    @classmethod
    def from_body(cls, body: dict[str, Any], origin: str = "<memory>") -> "PMSConfig":
        return cls(pms_type=body["pms_type"], version=body["version"], body=body,
                   hash=config_hash(body), origin=origin)
