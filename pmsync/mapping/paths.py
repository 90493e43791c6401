"""JSONPath look-ups compiled once: simple paths become plain dict/list steps, others use
jsonpath-ng's extended parser (filters allowed), parsed here and never again per record.

Also formats raw-record locations (``$.a[0]['b c']``) for error paths. Must never evaluate
config text as Python; jsonpath-ng interprets its own grammar only.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Sequence

import jsonpath_ng.ext

Getter = Callable[[Any], Any]

# $ followed by .name, [123] or ['any key'] steps only: no wildcards, filters, slices, recursion.
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class PathSyntaxError(ValueError):
    """A JSONPath in a config cannot be parsed."""


def simple_steps(path: str) -> list[str | int] | None:
    """The key/index steps of a simple path, or None if the path needs the full parser."""
    if not path.startswith("$"):
        return None
    steps: list[str | int] = []
    pos = 1
    while pos < len(path):
        match = _STEP.match(path, pos)
        if match is None:
            return None
        name, index, quoted = match.groups()
        if name is not None:
            steps.append(name)
        elif index is not None:
            steps.append(int(index))
        else:
            steps.append(re.sub(r"\\(.)", r"\1", quoted))
        pos = match.end()
    return steps


def _step_getter(steps: Sequence[str | int]) -> Getter:
    steps = tuple(steps)

    # Type checks matter: a str key on a list, or an int index on a str, is "missing", not an
    # accident of Python's indexing ("abc"[0] would otherwise read "a").
    def get(doc: Any) -> Any:
        cur = doc
        for step in steps:
            if type(step) is str:
                if type(cur) is not dict:
                    return None
                cur = cur.get(step)
            else:
                if type(cur) is not list or step >= len(cur):
                    return None
                cur = cur[step]
            if cur is None:
                return None
        return cur

    if not steps:
        return lambda doc: doc
    if all(type(step) is str for step in steps):
        return _key_getter(steps)
    return get


def _key_getter(keys: tuple[str, ...]) -> Getter:
    # Keys only: plain indexing is safe here, since a str key on a list, str or None raises
    # TypeError and a missing key KeyError. Specialised by depth because this runs for every
    # field of every record.
    if len(keys) == 1:
        (a,) = keys
        return lambda doc: doc.get(a) if type(doc) is dict else None
    if len(keys) == 2:
        a, b = keys

        def get2(doc: Any) -> Any:
            try:
                return doc[a][b]
            except (KeyError, TypeError):
                return None
        return get2
    if len(keys) == 3:
        a, b, c = keys

        def get3(doc: Any) -> Any:
            try:
                return doc[a][b][c]
            except (KeyError, TypeError):
                return None
        return get3

    def getn(doc: Any) -> Any:
        try:
            for key in keys:
                doc = doc[key]
            return doc
        except (KeyError, TypeError):
            return None
    return getn


def parse(path: str) -> Any:
    """Parse a non-simple path with jsonpath-ng's extended grammar, or raise PathSyntaxError."""
    if not isinstance(path, str) or not path.startswith("$"):
        raise PathSyntaxError(f"a JSONPath must start with '$': {path!r}")
    try:
        return jsonpath_ng.ext.parse(path)
    except Exception as exc:  # jsonpath-ng raises several unrelated types for bad syntax
        raise PathSyntaxError(f"invalid JSONPath {path!r}: {exc}") from None


def check(path: Any) -> str | None:
    """Why ``path`` is not a usable JSONPath, or None if it is."""
    if not isinstance(path, str):
        return "a JSONPath must be a string"
    if simple_steps(path) is not None:
        return None
    try:
        parse(path)
    except PathSyntaxError as exc:
        return str(exc)
    return None


# prefix[?(@.rel == literal)]suffix, the one filter shape configs use all the time (pick an
# element of a list by a property). Other filters go to jsonpath-ng.
_STEPS = r"(?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\]|\['(?:[^'\\]|\\.)*'\])*"
_EQ_FILTER = re.compile(
    rf"(?P<prefix>\${_STEPS})\[\?\(\s*@(?P<rel>{_STEPS})\s*==\s*"
    r"(?P<literal>'[^'\\]*'|\"[^\"\\]*\"|-?(?:0|[1-9]\d{0,15}))\s*\)\](?P<suffix>" + _STEPS + ")")
_MISSING = object()


def _walk(doc: Any, steps: Sequence[str | int]) -> Any:
    """The value at ``steps`` or _MISSING (unlike the getters, null and missing differ here)."""
    for step in steps:
        if type(step) is str:
            if type(doc) is not dict or step not in doc:
                return _MISSING
            doc = doc[step]
        else:
            if type(doc) is not list or step >= len(doc):
                return _MISSING
            doc = doc[step]
    return doc


def _equal_to(literal: str | int) -> Callable[[Any], bool]:
    # RFC 9535 equality, as jsonpath-ng applies it: a boolean never equals a number.
    if isinstance(literal, str):
        return lambda value: type(value) is str and value == literal
    return lambda value: type(value) in (int, float) and value == literal


def _filter_getter(path: str, expr: Any) -> Getter | None:
    match = _EQ_FILTER.fullmatch(path)
    if match is None:
        return None
    prefix = simple_steps(match["prefix"])
    rel = simple_steps("$" + match["rel"])
    suffix = simple_steps("$" + match["suffix"])
    if prefix is None or rel is None or suffix is None:
        return None
    raw = match["literal"]
    literal: str | int = raw[1:-1] if raw[0] in "'\"" else int(raw)
    equal = _equal_to(literal)

    def first(doc: Any) -> Any:
        items = _walk(doc, prefix)
        if type(items) is not list:
            matches = expr.find(doc)  # not a list: leave the exotic cases to jsonpath-ng itself
            return matches[0].value if matches else None
        for item in items:
            if equal(_walk(item, rel)):
                value = _walk(item, suffix)
                if value is not _MISSING:
                    return value
        return None
    return first


def compile_first(path: str) -> Getter:
    """A function doc -> the first match's value, or None when nothing matches."""
    steps = simple_steps(path)
    if steps is not None:
        return _step_getter(steps)
    expr = parse(path)
    fast = _filter_getter(path, expr)
    if fast is not None:
        return fast

    def first(doc: Any) -> Any:
        matches = expr.find(doc)
        return matches[0].value if matches else None
    return first


def compile_all(path: str) -> Callable[[Any], list[Any]]:
    """A function doc -> the values of every match (a simple path matches at most once)."""
    steps = simple_steps(path)
    if steps is not None:
        get = _step_getter(steps)

        def one(doc: Any) -> list[Any]:
            value = get(doc)
            return [] if value is None else [value]
        return one
    expr = parse(path)
    return lambda doc: [m.value for m in expr.find(doc)]


def location(parts: Sequence[str | int]) -> str:
    """A JSONPath-like location for error messages: ``$.a[0]['b c']``."""
    out = ["$"]
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _IDENT.match(part):
            out.append(f".{part}")
        else:
            escaped = part.replace("\\", "\\\\").replace("'", "\\'")
            out.append(f"['{escaped}']")
    return "".join(out)
