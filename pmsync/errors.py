"""Error classes shared by every stage.

Each pipeline error knows the stage it belongs to, so a reject can be routed to the DLQ with
``error.stage`` / ``error.class`` / ``error.path`` headers without the caller inspecting it.
Messages must tell a person what to fix; never put a secret in one.
"""

from __future__ import annotations


class PMSError(Exception):
    """Base of every error a PMS record or connection can cause."""

    stage: str = "unknown"

    def __init__(self, message: str, *, path: str | None = None, field: str | None = None,
                 rule: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.field = field
        self.rule = rule

    @property
    def location(self) -> str:
        """Where the problem is: the canonical field if known, else the raw JSON path."""
        return self.field or self.path or ""

    def as_dict(self) -> dict[str, str | None]:
        return {"stage": self.stage, "error_class": type(self).__name__, "message": self.message,
                "path": self.path, "field": self.field, "rule": self.rule}


class PMSDataValidationError(PMSError):
    """The raw record does not match its PMS version's ``raw_data_schema``."""

    stage = "schema"


class PMSMappingError(PMSError):
    """A field mapping or transform could not produce a canonical value."""

    stage = "mapping"


class PMSBusinessRuleError(PMSError):
    """The mapped booking breaks a required-field, field or business rule."""

    stage = "business_rule"


class PMSConnectionError(PMSError):
    """Fetching from a PMS failed (network, HTTP status, malformed body)."""

    stage = "fetch"


class ConfigError(Exception):
    """A PMS config is invalid. ``errors`` lists every problem as (JSON pointer, message)."""

    def __init__(self, errors: list[tuple[str, str]], source: str = "config") -> None:
        self.errors = errors
        self.source = source
        lines = "\n".join(f"  {pointer or '/'}: {message}" for pointer, message in errors)
        super().__init__(f"{source}: {len(errors)} error(s)\n{lines}")


class SettingsError(Exception):
    """An environment variable has a value pmsync cannot use."""


class PMSLoadError(PMSError):
    """A booking could not be decoded or stored by the loader."""

    stage = "load"


class PMSInternalError(PMSError):
    """A pipeline step failed in a way it should not (a bug); the message is kept in the DLQ."""

    stage = "internal"


class PMSConfigMissingError(PMSError):
    """No config is published for the message's PMS type and version (or its headers lack them)."""

    stage = "config"
