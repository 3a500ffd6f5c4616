"""Fixtures shared by the whole suite, and the rule for tests that need real services.

A test marked ``postgres``, ``redis`` or ``browser`` is skipped, with the reason printed in
the summary, when that service is not configured; with ``GROUPCARE_REQUIRE_SERVICES=true``
(as CI sets) it fails instead, so CI can never pass without exercising the real services.
"""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.core.cache import cache

from groupcare.env import env_bool
from tests.factories.members import ClinicFactory, ClinicRoleFactory, UserFactory

#: Debian's Chromium, which the browser tests drive (Playwright never downloads its own).
CHROMIUM = "/usr/bin/chromium"


def _missing_service(item: pytest.Item) -> str | None:
    if item.get_closest_marker("postgres") and (
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql"
    ):
        return "needs PostgreSQL: set DATABASE_URL=postgres://USER@HOST:5432/NAME"
    if item.get_closest_marker("redis") and not os.environ.get("REDIS_URL"):
        return "needs Redis: set REDIS_URL=redis://HOST:6379/0"
    if item.get_closest_marker("browser") and not os.path.exists(CHROMIUM):
        return f"needs Chromium at {CHROMIUM}: apt-get install chromium"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    reason = _missing_service(item)
    if reason is None:
        return
    if env_bool("GROUPCARE_REQUIRE_SERVICES", False):
        pytest.fail(f"{reason} (GROUPCARE_REQUIRE_SERVICES is on)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _empty_cache():
    """Every test starts with an empty cache: allauth counts sign-in attempts there (per
    address and per account), so one test's failures must never lock out another's."""
    cache.clear()


@pytest.fixture
def clinic():
    return ClinicFactory()


@pytest.fixture
def other_clinic():
    return ClinicFactory()


@pytest.fixture
def make_user():
    """A user holding ``role`` in ``clinic`` (no role when ``role`` is None)."""

    def _make(clinic=None, role=None, **kwargs):
        user = UserFactory(**kwargs)
        if role is not None:
            ClinicRoleFactory(user=user, clinic=clinic or ClinicFactory(), role=role)
        return user

    return _make
