"""Credentials resolution: environment first, then the secrets directory; values never shown."""

from __future__ import annotations

import dataclasses
import json

import pytest

from pmsync.secrets import Credentials, SecretError, env_name, resolve
from pmsync.settings import Settings


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.delenv("PMSYNC_SECRETS_DIR", raising=False)
    (tmp_path / "secrets").mkdir()
    return dataclasses.replace(Settings(), stack_dir=tmp_path)


def test_a_reference_resolves_from_its_environment_variable(settings):
    env = {"PMSYNC_SECRET_CLOUDBEDS_H_1": json.dumps({"api_key": "abc", "pin": 1234})}
    creds = resolve("cloudbeds.h-1", settings, env)
    assert dict(creds) == {"api_key": "abc", "pin": "1234"}
    assert env_name("cloudbeds.h-1") == "PMSYNC_SECRET_CLOUDBEDS_H_1"


def test_a_reference_resolves_from_the_secrets_directory(settings):
    (settings.stack_dir / "secrets" / "mews_demo.json").write_text('{"client_token": "t", "access_token": "a"}')
    assert dict(resolve("mews_demo", settings, {})) == {"client_token": "t", "access_token": "a"}


def test_the_secrets_directory_can_be_moved(tmp_path, settings, monkeypatch):
    elsewhere = tmp_path / "vault"
    elsewhere.mkdir()
    (elsewhere / "r.json").write_text('{"k": "v"}')
    monkeypatch.setenv("PMSYNC_SECRETS_DIR", str(elsewhere))
    assert dict(resolve("r", settings, {})) == {"k": "v"}


def test_no_reference_means_no_credentials(settings):
    assert dict(resolve(None, settings, {})) == {}


def test_a_missing_secret_says_where_it_was_looked_for(settings):
    with pytest.raises(SecretError) as err:
        resolve("nope", settings, {})
    assert "PMSYNC_SECRET_NOPE" in str(err.value) and "nope.json" in str(err.value)


@pytest.mark.parametrize("text", ['{"api_key": "sk_live_LEAK', '"sk_live_LEAK"', '{"api_key": ["sk_live_LEAK"]}'])
def test_a_broken_secret_is_reported_without_its_value(settings, text):
    with pytest.raises(SecretError) as err:
        resolve("broken", settings, {"PMSYNC_SECRET_BROKEN": text})
    assert "broken" in str(err.value) and "LEAK" not in str(err.value)


@pytest.mark.parametrize("ref", ["../etc/passwd", "a/b", "", ".hidden", "x" * 200])
def test_a_reference_cannot_point_outside_the_secrets_directory(settings, ref):
    if not ref:
        assert dict(resolve(ref, settings, {})) == {}  # empty = no reference
        return
    with pytest.raises(SecretError, match="must be 1-128"):
        resolve(ref, settings, {})


def test_credentials_never_show_their_values():
    creds = Credentials("ref", {"api_key": "sk_live_LEAK"})
    assert "LEAK" not in repr(creds) and "LEAK" not in str(creds) and "LEAK" not in f"{creds}"
    assert creds["api_key"] == "sk_live_LEAK"
