"""The product image: builds, runs the CLI as a non-root user, ships no compiler."""

from __future__ import annotations

import json
import tomllib

from tests.deploy.podman import ROOT, run

IMAGE = "localhost/pmsync:dev"


def test_the_image_runs_version_and_settings_as_a_non_root_user(images: float) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert run("podman", "run", "--rm", IMAGE, "--version").stdout.strip() == f"pmsync, version {version}"
    settings = json.loads(run("podman", "run", "--rm", "-e", "PMSYNC_KAFKA_BOOTSTRAP=kafka:9092",
                              IMAGE, "settings").stdout)
    assert settings["kafka_bootstrap"] == "kafka:9092"
    assert run("podman", "run", "--rm", "--entrypoint", "id", IMAGE, "-u").stdout.strip() == "10001"


def test_the_image_carries_its_version_label_and_no_healthcheck_or_compiler(images: float) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    inspected = json.loads(run("podman", "image", "inspect", IMAGE).stdout)[0]
    labels = inspected["Config"]["Labels"]
    assert labels["org.opencontainers.image.version"] == version
    assert not inspected["Config"].get("Healthcheck")
    found = run("podman", "run", "--rm", "--entrypoint", "sh", IMAGE, "-c",
                "command -v gcc cc cython || true").stdout.strip()
    assert found == ""
    print(f"\n[deploy] image size: {inspected['Size'] / 1e6:.0f} MB")


def test_the_compiled_modules_are_used_on_a_read_only_root(images: float) -> None:
    """The chart runs the image read-only: every compiled module must still load (a stale or
    missing build would silently fall back to plain Python)."""
    out = run("podman", "run", "--rm", "--read-only", "--entrypoint", "python", IMAGE, "-c",
              "import importlib, pmsync.compiled as c; "
              "print(sum(importlib.import_module(m).__file__.endswith(c._SUFFIX) for m in c.MODULES), len(c.MODULES))").stdout.split()
    assert out[0] == out[1]
