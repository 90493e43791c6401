"""Compiled builds of the per-record modules, used only while they match their sources.

Why: every booking runs through the same few modules (JSON mapping, Avro, COPY text, rules)
in three worker processes, and on the reference 2-core machine their interpreted Python was
the pipeline's largest cost. Cython compiles these modules unchanged (plain Python, type
hints left as hints) to C extensions: the mapper's step went from 27.4 to 23.1 µs per
booking and the loader's Avro-to-COPY from 11.6 to 6.6 µs (2026-11-26, same run). The
``.py`` files stay the source and the reference; nothing here changes what they compute, and
the whole test suite runs against the compiled build (``make test`` builds it first), the
unit tests against the plain Python as well (``PMSYNC_COMPILED=0``).

How a stale build is never used: ``build()`` writes the extensions under ``build/compiled/``
(not beside the sources, where Python would prefer them over an edited ``.py``) with a
manifest of each source's SHA-256. ``install()``, called from ``pmsync/__init__.py``, puts an
import finder first in ``sys.meta_path`` that loads a module's extension only if its source
still has that hash; an edited module runs as plain Python until the next build.

    pmsync compile                      # build what is missing or out of date
    PMSYNC_COMPILED=0 pmsync …          # run everything as plain Python
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import logging
import os
import sys
from pathlib import Path

# The per-record path of the validator, mapper and loader. Not the Kafka loops around them
# (streams/worker.py, loader/consume.py): bench/pipeline.py's passthrough baseline runs the
# same aiokafka client code uncompiled, so the ratio compares the domain work only.
MODULES: tuple[str, ...] = (
    "pmsync.kafka.headers",
    "pmsync.mapping.paths",
    "pmsync.mapping.template",
    "pmsync.mapping.transforms",
    "pmsync.validation.raw_schema",
    "pmsync.validation.rules",
    "pmsync.validation.sanitize",
    "pmsync.config.compile",
    "pmsync.serde.codec",
    "pmsync.serde.avro",
    "pmsync.serde.copy_text",
    "pmsync.streams.steps",
    "pmsync.db.bookings",
    "pmsync.loader.batch",
    "pmsync.loader.store",
)
# Python semantics kept: annotations are not enforced as C types (a wrong type still fails
# where the Python code would fail, with the same error).
DIRECTIVES = {"language_level": 3, "annotation_typing": False}

SOURCE_ROOT = Path(__file__).resolve().parent.parent      # holds the pmsync package
BUILD_DIR = SOURCE_ROOT / "build" / "compiled"
MANIFEST = BUILD_DIR / "manifest.json"
ENABLED_ENV = "PMSYNC_COMPILED"
_SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]  # this interpreter's extension modules


def source_of(module: str) -> Path:
    return SOURCE_ROOT.joinpath(*module.split(".")).with_suffix(".py")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_manifest(path: Path = MANIFEST) -> dict:
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if manifest.get("extension_suffix") != _SUFFIX:
        return {}  # built by another interpreter: its extensions cannot load here
    return manifest.get("modules", {})


class CompiledFinder(importlib.abc.MetaPathFinder):
    """Finds a listed module's extension when its source is unchanged since the build;
    otherwise defers to the normal finders (the ``.py``)."""

    def __init__(self, build_dir: Path, modules: dict[str, dict]) -> None:
        self.build_dir = build_dir
        self.modules = modules
        self.stale: list[str] = []

    def find_spec(self, fullname, path=None, target=None):
        entry = self.modules.get(fullname)
        if entry is None:
            return None
        source, binary = source_of(fullname), self.build_dir / entry["binary"]
        if not source.is_file() or not binary.is_file() or digest(source) != entry["source_sha256"]:
            self.stale.append(fullname)
            return None
        loader = importlib.machinery.ExtensionFileLoader(fullname, str(binary))
        return importlib.util.spec_from_file_location(fullname, binary, loader=loader)


def install() -> CompiledFinder | None:
    """Use the compiled modules that are current, unless ``PMSYNC_COMPILED=0``. Idempotent."""
    for finder in sys.meta_path:
        if isinstance(finder, CompiledFinder):
            return finder
    if os.environ.get(ENABLED_ENV, "1") == "0":
        return None
    modules = _read_manifest()
    if not modules:
        return None
    finder = CompiledFinder(BUILD_DIR, modules)
    sys.meta_path.insert(0, finder)
    return finder


def status() -> dict[str, list[str]]:
    """Which listed modules (of those imported) run compiled and which as plain Python, and
    which were not loaded compiled because their source changed since the build."""
    finder = next((f for f in sys.meta_path if isinstance(f, CompiledFinder)), None)
    compiled = [m for m in MODULES if m in sys.modules and
                isinstance(getattr(sys.modules[m], "__loader__", None), importlib.machinery.ExtensionFileLoader)]
    return {"compiled": compiled,
            "plain": [m for m in MODULES if m in sys.modules and m not in compiled],
            "stale": sorted(set(finder.stale)) if finder else []}


def log_status(log: logging.Logger) -> None:
    """One start-up line saying how many per-record modules run compiled; a warning names
    those left plain by an edit since the last ``pmsync compile`` (they run correctly, slower)."""
    now = status()
    log.info("per-record modules", extra={"compiled": len(now["compiled"]),
                                          "plain": len(now["plain"])})
    if now["stale"]:
        log.warning("modules changed since the last `pmsync compile` run as plain Python",
                    extra={"modules": now["stale"]})


def build(modules: tuple[str, ...] = MODULES, build_dir: Path = BUILD_DIR, jobs: int = 2) -> list[str]:
    """Compile the modules whose source changed since the last build; returns their names.

    Needs Cython and a C compiler (``pip install -e '.[compiled]'``; gcc). Raises if one fails:
    a build that silently left modules out would make benchmarks measure the wrong thing."""
    from Cython.Build import cythonize
    from setuptools import Distribution, Extension
    from setuptools.command.build_ext import build_ext

    manifest_path = build_dir / "manifest.json"
    current = _read_manifest(manifest_path)
    wanted = {m: digest(source_of(m)) for m in modules}
    todo = [m for m in modules
            if current.get(m, {}).get("source_sha256") != wanted[m]
            or not (build_dir / current[m]["binary"]).is_file()]
    if todo:
        cwd, root_log = os.getcwd(), logging.getLogger()
        level = root_log.level
        root_log.setLevel(logging.WARNING)  # setuptools logs each gcc command line at INFO
        os.chdir(SOURCE_ROOT)  # Cython and setuptools resolve the sources from the working folder
        try:
            extensions = cythonize(
                [Extension(m, [str(source_of(m).relative_to(SOURCE_ROOT))]) for m in todo],
                build_dir=str(build_dir / "c"), compiler_directives=DIRECTIVES, quiet=True,
                nthreads=jobs)
            command = build_ext(Distribution({"name": "pmsync-compiled", "ext_modules": extensions}))
            command.build_lib, command.build_temp = str(build_dir / "lib"), str(build_dir / "tmp")
            command.parallel = jobs
            command.ensure_finalized()
            command.run()
        finally:
            os.chdir(cwd)
            root_log.setLevel(level)
    entries = {}
    for m in modules:
        binary = Path("lib", *m.split(".")).with_suffix(_SUFFIX)
        if not (build_dir / binary).is_file():
            raise RuntimeError(f"compiling {m} produced no {binary}")
        entries[m] = {"source_sha256": wanted[m], "binary": str(binary)}
    manifest_path.write_text(json.dumps({"extension_suffix": _SUFFIX, "modules": entries}, indent=1) + "\n")
    return todo

