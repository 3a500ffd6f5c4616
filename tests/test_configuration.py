"""Settings come from the environment, strictly, and production refuses unsafe values."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from groupcare.env import env_bool, env_int, env_list

BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("on", True),
        ("false", False),
        ("0", False),
        ("No", False),
        ("off", False),
        ("", False),
    ],
)
def test_env_bool_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("GC_TEST_FLAG", raw)

    assert env_bool("GC_TEST_FLAG", False) is expected


def test_env_bool_rejects_a_typo_instead_of_guessing(monkeypatch):
    monkeypatch.setenv("GC_TEST_FLAG", "ture")

    with pytest.raises(ImproperlyConfigured, match="GC_TEST_FLAG='ture' is not a boolean"):
        env_bool("GC_TEST_FLAG", False)


def test_env_int_rejects_words(monkeypatch):
    monkeypatch.setenv("GC_TEST_NUMBER", "ten")

    with pytest.raises(ImproperlyConfigured, match="GC_TEST_NUMBER='ten' is not a whole number"):
        env_int("GC_TEST_NUMBER", 1)


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch):
    monkeypatch.setenv("GC_TEST_LIST", " a.example, b.example ,,")

    assert env_list("GC_TEST_LIST") == ["a.example", "b.example"]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DJANGO_") and key != "GROUPCARE_VAR_DIR"
    }
    clean.update(env, DJANGO_SETTINGS_MODULE="groupcare.settings")
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = _manage(
        "check",
        DJANGO_DEBUG="false",
        DJANGO_ALLOWED_HOSTS="groupcare.example.org",
        GROUPCARE_VAR_DIR=str(tmp_path),
    )

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_production_refuses_a_development_secret_key(tmp_path):
    result = _manage(
        "check",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="django-insecure-short",
        DJANGO_ALLOWED_HOSTS="groupcare.example.org",
        GROUPCARE_VAR_DIR=str(tmp_path),
    )

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is too weak" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts(tmp_path):
    result = _manage(
        "check",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        GROUPCARE_VAR_DIR=str(tmp_path),
    )

    assert result.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS is not set" in result.stderr


def test_a_mistyped_debug_flag_stops_start_up(tmp_path):
    result = _manage("check", DJANGO_DEBUG="yes please", GROUPCARE_VAR_DIR=str(tmp_path))

    assert result.returncode != 0
    assert "DJANGO_DEBUG='yes please' is not a boolean" in result.stderr


def test_deploy_check_passes_with_production_settings(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="groupcare.example.org",
        GROUPCARE_FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        GROUPCARE_VAR_DIR=str(tmp_path),
    )

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def _production(**env: str) -> dict[str, str]:
    return {
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "groupcare.example.org",
        "GROUPCARE_FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        **env,
    }


def _setting(expression: str, tmp_path: Path, **env: str) -> str:
    """``expression`` over ``settings``, evaluated in a fresh process with ``env``."""
    result = _manage(
        "shell",
        "--no-imports",
        "-c",
        f"from django.conf import settings; print({expression})",
        GROUPCARE_VAR_DIR=str(tmp_path),
        **env,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_with_redis_the_cache_that_counts_sign_in_attempts_is_shared_redis(tmp_path):
    cache = _setting(
        "settings.CACHES['default']['BACKEND'], settings.CACHES['default']['LOCATION']",
        tmp_path,
        **_production(REDIS_URL="redis://redis.internal:6379/0"),
    )

    assert cache == "django.core.cache.backends.redis.RedisCache redis://redis.internal:6379/0"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "0"),
        ({"DJANGO_BEHIND_TLS_PROXY": "true"}, "1"),
        ({"DJANGO_BEHIND_TLS_PROXY": "true", "GROUPCARE_TRUSTED_PROXY_COUNT": "2"}, "2"),
    ],
)
def test_rate_limits_count_the_address_the_trusted_proxy_saw(tmp_path, env, expected):
    count = _setting("settings.ALLAUTH_TRUSTED_PROXY_COUNT", tmp_path, **_production(**env))

    assert count == expected
