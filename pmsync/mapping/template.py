"""Templates (``"{first} {last}"``) split once into literal text and named placeholders.

This is deliberately not ``str.format``: a config can name values, never attributes, indexes or
format specs. ``{{`` and ``}}`` stand for literal braces.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class TemplateError(ValueError):
    """A template in a config is malformed."""


class Placeholder(str):
    """A placeholder name (a str subclass so the parts list stays flat and cheap)."""


def split(template: str) -> list[str]:
    """Literal strings and ``Placeholder`` names in order; raises TemplateError if malformed."""
    parts: list[str] = []
    literal: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(template):
        literal.append(template[pos:match.start()])
        token = match.group(0)
        if token in ("{{", "}}"):
            literal.append(token[0])
        elif match.group(1) is not None and _NAME.fullmatch(match.group(1)):
            parts.append("".join(literal))
            literal = []
            parts.append(Placeholder(match.group(1)))
        elif match.group(1) is not None:
            raise TemplateError(f"placeholder {token!r} must be a name like {{first}}")
        else:
            raise TemplateError(f"unmatched {token!r} at position {match.start()} (write {token * 2} for a literal brace)")
        pos = match.end()
    literal.append(template[pos:])
    parts.append("".join(literal))
    return [p for p in parts if p or isinstance(p, Placeholder)]


def names(template: str) -> list[str]:
    return [str(p) for p in split(template) if isinstance(p, Placeholder)]
