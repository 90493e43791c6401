"""A config's ``source`` block read once into typed values the fetcher uses per request.

The block's meaning is docs/config-language.md; the meta-schema has already checked its
shape when the config was loaded, so this module only fills defaults and refuses what a
request cannot be built from. It never does I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonpath_ng.ext import parse as parse_jsonpath

from pmsync.errors import ConfigError
from pmsync.fetching.delta import DeltaSpec

PAGINATION_TYPES = ("page", "offset", "cursor", "none")


@dataclass(frozen=True)
class RequestSpec:
    method: str = "GET"
    path: str = "/"
    query: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, Any] = field(default_factory=dict)
    body: Any = None


@dataclass(frozen=True)
class PaginationSpec:
    type: str = "none"
    start: int = 1
    page_size: int | None = None
    next_cursor_path: str | None = None
    # Parsed once: the per-page work is a look-up, never a parse.
    next_cursor: Any = None


@dataclass(frozen=True)
class SourceSpec:
    request: RequestSpec
    pagination: PaginationSpec
    delta: DeltaSpec
    records_path: str = "$"

    @classmethod
    def from_block(cls, block: Any) -> "SourceSpec":
        block = _as_mapping(block)
        request = _as_mapping(block.get("request") or {})
        pagination = _as_mapping(block.get("pagination") or {})
        kind = str(pagination.get("type") or "none")
        errors: list[tuple[str, str]] = []
        if kind not in PAGINATION_TYPES:
            errors.append(("/source/pagination/type",
                           f"{kind!r} is not one of {', '.join(PAGINATION_TYPES)}"))
        page_size = pagination.get("page_size")
        if kind in ("page", "offset") and not (isinstance(page_size, int) and page_size > 0):
            errors.append(("/source/pagination/page_size",
                           f"{kind} pagination needs a positive page_size to know when to stop"))
        cursor_path = pagination.get("next_cursor_path")
        compiled_cursor = None
        if kind == "cursor":
            if not cursor_path:
                errors.append(("/source/pagination/next_cursor_path",
                               "cursor pagination needs next_cursor_path"))
            else:
                try:
                    compiled_cursor = parse_jsonpath(cursor_path)
                except Exception as exc:  # jsonpath-ng raises several unrelated types
                    errors.append(("/source/pagination/next_cursor_path", f"not a JSONPath: {exc}"))
        if errors:
            raise ConfigError(errors, "source")
        return cls(
            request=RequestSpec(method=str(request.get("method") or "GET").upper(),
                                path=str(request.get("path") or "/"),
                                query=dict(request.get("query") or {}),
                                headers=dict(request.get("headers") or {}),
                                body=request.get("body")),
            pagination=PaginationSpec(type=kind, start=int(pagination.get("start", 1)),
                                      page_size=page_size, next_cursor_path=cursor_path,
                                      next_cursor=compiled_cursor),
            delta=DeltaSpec.from_source(_as_mapping(block.get("delta") or {})),
            records_path=str(block.get("records_path") or "$"),
        )


def _as_mapping(value: Any) -> Mapping[str, Any]:
    """The compiled config may hand its source block over as a dict or as a dataclass."""
    if isinstance(value, Mapping):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise ConfigError([("/source", f"expected an object, got {type(value).__name__}")], "source")
