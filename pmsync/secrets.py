"""Resolving a hotel's ``credentials_ref`` to its credential fields.

A hotel row stores only the name of its secret. The secret itself is a JSON object of string
fields (``{"api_key": "…"}``), read from the environment variable ``PMSYNC_SECRET_<REF>`` (the
reference upper-cased, every character outside A-Z 0-9 turned into ``_``) or else from the file
``<secrets dir>/<ref>.json`` (``PMSYNC_SECRETS_DIR``, default ``<stack_dir>/secrets``).

This module must never put a secret value into a log line, an exception message or a repr:
errors name the reference and the source only.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from pmsync.settings import Settings

# A reference is a file name too: no separators, no "..", nothing a shell would mangle.
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class SecretError(Exception):
    """A credentials reference cannot be resolved. The message names the reference only."""


class Credentials(Mapping[str, str]):
    """Credential fields by name; ``repr``/``str`` never show a value."""

    def __init__(self, ref: str | None, fields: Mapping[str, str]) -> None:
        self.ref = ref
        self._fields = dict(fields)

    def __getitem__(self, key: str) -> str:
        return self._fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return f"Credentials(ref={self.ref!r}, fields={sorted(self._fields)})"

    __str__ = __repr__


NO_CREDENTIALS = Credentials(None, {})


def env_name(ref: str) -> str:
    return "PMSYNC_SECRET_" + re.sub(r"[^A-Z0-9]", "_", ref.upper())


def secrets_dir(settings: Settings) -> Path:
    return Path(os.environ.get("PMSYNC_SECRETS_DIR") or settings.stack_dir / "secrets")


def check_ref(ref: str) -> str:
    if not _REF.fullmatch(ref):
        raise SecretError(f"credentials reference {ref!r} must be 1-128 letters, digits, '.', '_' "
                          "or '-', starting with a letter or digit")
    return ref


def resolve(ref: str | None, settings: Settings,
            environ: Mapping[str, str] | None = None) -> Credentials:
    """The credential fields of ``ref`` (none when the hotel has no reference)."""
    if not ref:
        return NO_CREDENTIALS
    check_ref(ref)
    environ = os.environ if environ is None else environ
    name = env_name(ref)
    if environ.get(name):
        return Credentials(ref, _fields(environ[name], f"environment variable {name}", ref))
    path = secrets_dir(settings) / f"{ref}.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SecretError(f"credentials reference {ref!r} not found: set {name} or create "
                          f"{path}") from None
    except OSError as exc:
        raise SecretError(f"credentials reference {ref!r}: cannot read {path} "
                          f"({type(exc).__name__})") from None
    return Credentials(ref, _fields(text, str(path), ref))


def _fields(text: str, where: str, ref: str) -> dict[str, str]:
    try:
        value = json.loads(text)
    except ValueError:
        # The parser's message quotes the text around the error: it could be the secret.
        raise SecretError(f"credentials {ref!r} in {where} are not valid JSON") from None
    if not isinstance(value, dict) or not value:
        raise SecretError(f"credentials {ref!r} in {where} must be a non-empty JSON object "
                          'of fields, e.g. {"api_key": "..."}')
    bad = [key for key, field in value.items() if not isinstance(field, (str, int))]
    if bad:
        raise SecretError(f"credentials {ref!r} in {where}: fields {sorted(bad)} must be strings")
    return {str(key): str(field) for key, field in value.items()}
