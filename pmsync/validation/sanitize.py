"""Sanitization of a mapped booking's strings (after rules, before output).

Every string is trimmed, ``&``, ``<``, ``>`` are escaped, NUL characters are removed (Postgres
text cannot store them), and an empty string becomes null. Must never change a non-string.
"""

from __future__ import annotations


def clean(value: str) -> str | None:
    """One string sanitized: trimmed, escaped, NUL removed; None when nothing is left."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    value = value.strip()
    if not value:
        return None
    if "&" in value or "<" in value or ">" in value:
        # & first, so the entities added for < and > are not escaped twice.
        value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value
