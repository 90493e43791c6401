"""The compiled per-record modules: used when current, never when their source changed.

``make test`` runs the whole suite on the compiled build and the unit tests again with
``PMSYNC_COMPILED=0``, so both forms pass the same tests; these check the switch itself."""

from __future__ import annotations

import importlib.machinery
import json
import os
import sys

import pytest

from pmsync import compiled

ENABLED = os.environ.get(compiled.ENABLED_ENV, "1") != "0"


def _manifest() -> dict:
    return json.loads(compiled.MANIFEST.read_text())["modules"]


def test_every_listed_module_runs_in_the_form_this_run_asked_for():
    # Importing them all: the suite may not have touched every one yet.
    for name in compiled.MODULES:
        __import__(name)
    now = compiled.status()
    if ENABLED:
        # `make test` builds first (scripts/bootstrap.sh): a module left plain here means the
        # benchmarks and services would not run what the tests tested.
        assert now["compiled"] == list(compiled.MODULES), (
            f"running as plain Python: {now['plain']} (changed since the build: {now['stale']}); "
            "run `pmsync compile` (make does), or PMSYNC_COMPILED=0 to test the plain modules")
        assert now["stale"] == []
    else:
        assert now["compiled"] == [] and now["plain"] == list(compiled.MODULES)
    for name in now["compiled"]:
        assert sys.modules[name].__file__.endswith(importlib.machinery.EXTENSION_SUFFIXES[0])


def test_the_finder_loads_an_extension_only_for_the_source_it_was_built_from():
    name = "pmsync.serde.copy_text"
    entry = _manifest()[name]
    current = compiled.CompiledFinder(compiled.BUILD_DIR, {name: entry})
    spec = current.find_spec(name)
    assert isinstance(spec.loader, importlib.machinery.ExtensionFileLoader)
    assert spec.origin == str(compiled.BUILD_DIR / entry["binary"])

    edited = compiled.CompiledFinder(compiled.BUILD_DIR, {name: {**entry, "source_sha256": "0" * 64}})
    assert edited.find_spec(name) is None          # the normal finders then load the .py
    assert edited.stale == [name]

    missing = compiled.CompiledFinder(compiled.BUILD_DIR, {name: {**entry, "binary": "lib/nothing.so"}})
    assert missing.find_spec(name) is None
    assert current.find_spec("pmsync.settings") is None  # not listed: never compiled


def test_a_manifest_from_another_interpreter_is_ignored(tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"extension_suffix": ".cpython-312-x86_64-linux-gnu.so",
                                    "modules": _manifest()}))
    assert compiled._read_manifest(manifest) == {}
    manifest.write_text("{not json")
    assert compiled._read_manifest(manifest) == {}


@pytest.mark.parametrize("name", compiled.MODULES)
def test_each_listed_module_has_its_source_in_the_package(name):
    assert compiled.source_of(name).is_file()
