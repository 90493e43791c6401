"""Loading PMS configs: read JSON, check it against ``schemas/pms_config.schema.json`` and
against what JSON Schema cannot express, and list **every** problem by JSON pointer.

A config is data: nothing in it is executed, and loading never contacts a PMS. A config with
any problem is never returned; the caller gets ``ConfigError(errors=[(pointer, message), …])``.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any, Iterable

import jsonschema
import orjson

from pmsync.config.model import PMSConfig
from pmsync.errors import ConfigError
from pmsync.mapping import paths, template
from pmsync.mapping.transforms import arg_problems
from pmsync.validation.raw_schema import schema_problems
from pmsync.validation.rules import check_rules

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "pms_config.schema.json"

# Variables a source template may name (docs/config-language.md, "source").
SOURCE_VARIABLES = frozenset({"since", "until", "page", "page_size", "offset", "cursor",
                              "hotel.id", "hotel.property_id"})
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_CREDENTIAL = re.compile(r"credential\.[A-Za-z_][A-Za-z0-9_]*")


@functools.cache
def meta_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@functools.cache
def _meta_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(meta_schema())


def pointer(parts: Iterable[Any]) -> str:
    """RFC 6901 JSON pointer for a sequence of keys and indexes."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


# --- meta-schema -------------------------------------------------------------------------

def _schema_errors(body: Any) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for err in _meta_validator().iter_errors(body):
        where = list(err.absolute_path)
        custom = err.schema.get("errorMessage", {}) if isinstance(err.schema, dict) else {}
        if "propertyNames" in err.absolute_schema_path:
            # jsonschema reports a bad key at its parent; point at the key itself.
            found.append((pointer(where + [err.instance]), custom.get(err.validator, err.message)))
        elif err.validator == "additionalProperties" and isinstance(err.instance, dict):
            known = err.schema.get("properties", {})
            for extra in err.instance:
                if extra not in known:
                    found.append((pointer(where + [extra]),
                                  f"unknown key {extra!r}; allowed here: {', '.join(known) or 'none'}"))
        elif err.validator == "required" and isinstance(err.instance, dict):
            for missing in err.validator_value:
                if missing not in err.instance:
                    found.append((pointer(where + [missing]), f"missing required key {missing!r}"))
        else:
            found.append((pointer(where), custom.get(err.validator, err.message)))
    return found


# --- checks JSON Schema cannot express ---------------------------------------------------

def _path_problem(value: Any, at: str) -> list[tuple[str, str]]:
    if isinstance(value, str) and value.startswith("$"):  # other shapes: the meta-schema says
        problem = paths.check(value)
        if problem:
            return [(at, problem)]
    return []


def _transform_problems(spec: Any, at: str) -> list[tuple[str, str]]:
    items = spec if isinstance(spec, list) else [spec]
    found = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            base = f"{at}/{i}" if isinstance(spec, list) else at
            found += [(f"{base}/{arg}", msg) for arg, msg in arg_problems(item)]
    return found


def _mapping_problems(field: str, spec: Any, body: dict[str, Any]) -> list[tuple[str, str]]:
    at = pointer(["field_mappings", field])
    if isinstance(spec, str):
        return _path_problem(spec, at)
    if not isinstance(spec, dict):
        return []
    found = _path_problem(spec.get("path"), f"{at}/path")
    for i, item in enumerate(spec.get("coalesce") if isinstance(spec.get("coalesce"), list) else []):
        found += _path_problem(item, f"{at}/coalesce/{i}")
    if isinstance(spec.get("template"), str):
        fields = spec.get("fields") if isinstance(spec.get("fields"), dict) else {}
        try:
            for name in template.names(spec["template"]):
                if name not in fields:
                    found.append((f"{at}/template", f"placeholder {{{name}}} has no entry in 'fields'"))
        except template.TemplateError as exc:
            found.append((f"{at}/template", str(exc)))
        for name, path in fields.items():
            found += _path_problem(path, f"{at}/fields/{pointer([name])[1:]}")
    lookup = spec.get("lookup")
    if isinstance(lookup, dict):
        for key in ("from", "match", "path"):
            found += _path_problem(lookup.get(key), f"{at}/lookup/{key}")
        source = lookup.get("from")
        if isinstance(source, str) and source.startswith("$"):
            steps = paths.simple_steps(source)
            if not steps or not all(isinstance(s, str) for s in steps):
                found.append((f"{at}/lookup/from", "lookup 'from' must be a plain path of object keys "
                              "(e.g. $.Customers) so a record's join context can be cut from the page"))
    if "transform" in spec:
        found += _transform_problems(spec["transform"], f"{at}/transform")
    if field == "status" and "const" in spec and isinstance(body.get("status_mappings"), dict):
        if not isinstance(spec["const"], str) or spec["const"] not in body["status_mappings"]:
            found.append((f"{at}/const", f"status is always mapped through status_mappings, which has "
                          f"no code {spec['const']!r}"))
    return found


def _source_problems(source: Any) -> list[tuple[str, str]]:
    if not isinstance(source, dict):
        return []
    found = _path_problem(source.get("records_path"), "/source/records_path")
    pagination = source.get("pagination")
    if isinstance(pagination, dict):
        found += _path_problem(pagination.get("next_cursor_path"), "/source/pagination/next_cursor_path")

    def walk(value: Any, at: list[Any]) -> None:
        if isinstance(value, str):
            for name in _VARIABLE.findall(value):
                if name not in SOURCE_VARIABLES and not _CREDENTIAL.fullmatch(name):
                    found.append((pointer(at), f"unknown variable ${{{name}}}; known: "
                                  f"{', '.join(sorted(SOURCE_VARIABLES))}, credential.<name>"))
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, at + [key])
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, at + [i])

    if isinstance(source.get("request"), dict):
        walk(source["request"], ["source", "request"])
    return found


def problems(body: Any, path: Path | None = None) -> list[tuple[str, str]]:
    """Every problem with a config body as (JSON pointer, message), in pointer order."""
    if not isinstance(body, dict):
        return [("", f"a config must be a JSON object, not {type(body).__name__}")]
    found = _schema_errors(body)
    mappings = body.get("field_mappings") if isinstance(body.get("field_mappings"), dict) else {}
    for field, spec in mappings.items():
        found += _mapping_problems(field, spec, body)
    found += _source_problems(body.get("source"))
    if isinstance(body.get("raw_data_schema"), (dict, bool)):
        found += [(f"/raw_data_schema{p}", m) for p, m in schema_problems(body["raw_data_schema"])]
    found += [(f"/validation_rules{p}", m)
              for p, m in check_rules(body.get("validation_rules"), set(mappings))]
    if path is not None:
        if isinstance(body.get("version"), str) and path.stem != body["version"]:
            found.append(("/version", f"version {body['version']!r} does not match the file name "
                          f"{path.name!r} (expected <version>.json)"))
        if isinstance(body.get("pms_type"), str) and path.parent.name != body["pms_type"]:
            found.append(("/pms_type", f"pms_type {body['pms_type']!r} does not match the folder "
                          f"{path.parent.name!r} (expected pms_configs/<pms_type>/<version>.json)"))
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=lambda item: item[0])


# --- reading -----------------------------------------------------------------------------

def _parse_json(text: bytes | str, origin: str) -> Any:
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen:
                duplicates.append(key)
            seen[key] = value
        return seen

    def no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    try:
        body = json.loads(text, object_pairs_hook=pairs, parse_constant=no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError([("", f"not valid JSON: {exc}")], source=origin) from None
    if duplicates:
        # orjson and json both keep the last value silently; a config author never means that.
        raise ConfigError([("", f"duplicate key {key!r} in one object (the later value would win)")
                           for key in dict.fromkeys(duplicates)], source=origin)
    return body


def read(source: Path | str | bytes | dict[str, Any]) -> tuple[Any, str, Path | None]:
    """The parsed body, a name for messages, and the file path if it came from a file.
    A ``str`` that starts with ``{`` is JSON text; any other ``str`` is a file path."""
    if isinstance(source, dict):
        try:
            return orjson.loads(orjson.dumps(source)), "<dict>", None  # a detached, JSON-only copy
        except (TypeError, orjson.JSONEncodeError) as exc:
            raise ConfigError([("", f"not JSON data: {exc}")], source="<dict>") from None
    if isinstance(source, (bytes, bytearray)):
        return _parse_json(bytes(source), "<bytes>"), "<bytes>", None
    if isinstance(source, str) and source.lstrip().startswith("{"):
        return _parse_json(source, "<text>"), "<text>", None
    path = Path(source)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError([("", f"cannot read {path}: {exc.strerror or exc}")], source=str(path)) from None
    return _parse_json(data, str(path)), str(path), path


def load_config(source: Path | str | bytes | dict[str, Any]) -> PMSConfig:
    """A checked config, or ConfigError listing every problem by JSON pointer."""
    body, origin, path = read(source)
    found = problems(body, path)
    if found:
        raise ConfigError(found, source=origin)
    return PMSConfig.from_body(body, origin)


def config_files(root: Path | str) -> list[Path]:
    """``<root>/<pms_type>/<version>.json`` files, sorted (golden folders are one level deeper)."""
    return sorted(p for p in Path(root).glob("*/*.json") if p.is_file())


def load_config_dir(root: Path | str) -> list[PMSConfig]:
    """Every config under ``root``; one ConfigError naming each bad file's problems."""
    configs: list[PMSConfig] = []
    errors: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for path in config_files(root):
        rel = path.relative_to(root).as_posix()
        try:
            cfg = load_config(path)
        except ConfigError as exc:
            errors += [(f"{rel}#{p}", m) for p, m in exc.errors]
            continue
        if cfg.key in seen:
            errors.append((f"{rel}#", f"{cfg.key} is also defined in {seen[cfg.key]}"))
            continue
        seen[cfg.key] = rel
        configs.append(cfg)
    if errors:
        raise ConfigError(errors, source=str(root))
    return configs
