"""Fixtures shared by the whole suite, and the rule for tests that need real services.

A test marked ``postgres``, ``redis`` or ``browser`` is skipped, with the reason printed in
the summary, when that service is not configured; with ``GROUPCARE_REQUIRE_SERVICES=true``
(as CI sets) it fails instead, so CI can never pass without exercising the real services.

Every test is also a PHI canary scan (:func:`_phi_canary_scan`): the log records it emits
and the subjects of the e-mails it sends must not contain a member's name, e-mail address
or note as the factories seed them.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core.cache import cache

from groupcare.env import env_bool
from groupcare.logging import PHIFilter
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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "phi_scan_exempt(reason): the test logs a member's name, e-mail address or note on "
        "purpose; the PHI canary scan leaves it alone (say why)",
    )


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


# --------------------------------------------------------------------------- PHI canaries

#: What the factories and the security tests seed as a member's identity or clinical text
#: (tests/factories/members.py: ``Mem00001``, ``Mem00001 Legalname``, ``member1@example.org``;
#: tests/security: "Zebediah Canaryton", ``canary…@example.org``, "CANARY-NOTE-…").
PHI_CANARY = re.compile(
    r"Mem\d{5}|member\d+@example\.org|Canaryton|canary[\w.+-]*@example\.org|CANARY-NOTE"
)

# factory_boy logs every object it builds, with its field values, at DEBUG: test tooling,
# not the application, and far too chatty to format on every test.
logging.getLogger("factory").setLevel(logging.INFO)


class _PHICapture(logging.Handler):
    """Keeps each record's text as the site's handlers would write it (after PHIFilter)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(PHIFilter())
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.name} {record.levelname} {record.getMessage()}"
        if record.exc_text:
            text += "\n" + record.exc_text
        self.texts.append(text)


@pytest.fixture(autouse=True)
def _phi_canary_scan(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test whose log records or e-mail subjects carry a seeded member's name,
    e-mail address or note. Every logger propagates to the root, at DEBUG, for the test."""
    if request.node.get_closest_marker("phi_scan_exempt"):
        yield
        return
    root = logging.getLogger()
    capture = _PHICapture()
    level = root.level
    isolated = [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    for logger in isolated:
        logger.propagate = True
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.setLevel(level)
        root.removeHandler(capture)
        for logger in isolated:
            logger.propagate = False
    leaks = [text for text in capture.texts if PHI_CANARY.search(text)]
    if settings.configured:
        from django.core import mail

        leaks += [
            f"e-mail subject: {message.subject}"
            for message in getattr(mail, "outbox", [])
            if PHI_CANARY.search(str(message.subject))
        ]
    if leaks:
        pytest.fail(
            "Personal data in the logs or e-mail subjects (log ids instead):\n"
            + "\n".join(leaks[:10]),
            pytrace=False,
        )
