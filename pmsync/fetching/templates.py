"""``${name}`` substitution in a config's request templates (query, headers, body, path).

A string that is exactly one placeholder becomes the variable's typed value (an int stays an
int); when that value is null, a dict key holding it is omitted. A placeholder inside a longer
string is replaced by the value's text (null → ``""``). Nothing is evaluated: a placeholder is a
name looked up in a dict, never an expression.

This module must never put a variable's value into an error message: ``credential.*`` values
are secrets. Errors name the variable only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from pmsync.errors import PMSConnectionError

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.\-]+)\}")


class TemplateError(PMSConnectionError):
    """A template names a variable that has no value for this hotel (e.g. a missing credential).

    Retrying cannot fix it: the hotel's config or its credentials must change."""


def _lookup(name: str, variables: Mapping[str, Any]) -> Any:
    if name not in variables:
        raise TemplateError(f"request template uses ${{{name}}}, which has no value for this hotel "
                            f"(known variables: {', '.join(sorted(variables))})")
    return variables[name]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_string(template: str, variables: Mapping[str, Any],
                  quote: Callable[[str], str] | None = None) -> Any:
    """One string: the typed value if it is exactly one placeholder, else the text with each
    placeholder replaced (through ``quote``, e.g. URL path quoting, when given)."""
    whole = _PLACEHOLDER.fullmatch(template)
    if whole is not None and quote is None:
        return _lookup(whole.group(1), variables)

    def replace(match: re.Match[str]) -> str:
        text = _text(_lookup(match.group(1), variables))
        return quote(text) if quote is not None else text

    return _PLACEHOLDER.sub(replace, template)


def render(template: Any, variables: Mapping[str, Any]) -> Any:
    """A JSON template (dict, list, string, scalar) with every placeholder substituted."""
    if isinstance(template, str):
        return render_string(template, variables)
    if isinstance(template, Mapping):
        out: dict[str, Any] = {}
        for key, value in template.items():
            rendered = render(value, variables)
            # A null from a whole-string placeholder means "do not send this key" (e.g. the
            # cursor on the first page), which is what PMS APIs expect, not `cursor=`.
            if rendered is None and isinstance(value, str) and _PLACEHOLDER.fullmatch(value):
                continue
            out[key] = rendered
        return out
    if isinstance(template, list):
        return [render(item, variables) for item in template]
    return template


def as_query(rendered: Mapping[str, Any] | None) -> dict[str, str]:
    """Rendered query values as the strings a URL carries (ints as digits, bools as true/false);
    a list value is sent as its JSON text, since a query has no other encoding for it."""
    if not rendered:
        return {}
    out: dict[str, str] = {}
    for key, value in rendered.items():
        if value is None:
            continue
        out[str(key)] = json.dumps(value) if isinstance(value, (list, dict)) else _text(value)
    return out


def as_headers(rendered: Mapping[str, Any] | None) -> dict[str, str]:
    """Rendered headers as strings; a header whose value rendered null is not sent."""
    if not rendered:
        return {}
    return {str(key): _text(value) for key, value in rendered.items() if value is not None}
