"""No health information in the logs, error pages or e-mail subjects.

A canary member (a name, an e-mail address and a screening note no other test uses) goes
through the flows that log: a 500 in a view holding their record, a 404 / 403 / 400 about
them, a refused e-mail, a unique violation on their address. What every handler writes
(the records as the PHI filter leaves them), the error pages and the subjects must not
contain the canary. The filter itself is tested directly at the end.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import smtplib
import sys
from collections.abc import Callable

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.template.loader import render_to_string
from django.test import Client, override_settings

from groupcare.logging import PHIFilter, describe, redact, redact_traceback
from members.enums import Role
from members.models import Member
from members.services import InvitationMailError, invitation_send
from sessions.enums import EnrolmentStatus, Finding, NotificationStatus, ScreeningOutcome
from sessions.models import Notification
from sessions.services.enrolment import screening_record
from sessions.services.notifications import (
    notifications_dispatch,
    notifications_send,
    reminders_plan,
)
from tests.factories.members import ClinicFactory, ClinicRoleFactory, MemberFactory, UserFactory
from tests.factories.sessions import EnrolmentFactory, GroupFactory, GroupSessionFactory

CANARY_NAME = "Zebediah Canaryton"
CANARY_EMAIL = "canary.zebediah@example.org"
CANARY_NOTE = "CANARY-NOTE-5c1e9"
CANARIES = ("Zebediah", "Canaryton", CANARY_EMAIL, "canary.zebediah", CANARY_NOTE)

START = dt.datetime(2026, 6, 2, 17, 0, tzinfo=dt.UTC)
PLANNED_AT = START - dt.timedelta(days=10)


def _leaks(text: str) -> list[str]:
    return [canary for canary in CANARIES if canary.casefold() in text.casefold()]


@pytest.fixture
def canary(db) -> Member:
    """The canary: a member with a login, referred to a group, screened with notes."""
    clinic = ClinicFactory(name="Riverside")
    user = UserFactory(email=CANARY_EMAIL, full_name=CANARY_NAME)
    ClinicRoleFactory(user=user, clinic=clinic, role=Role.MEMBER)
    member = MemberFactory(
        clinic=clinic,
        user=user,
        preferred_name="Zebediah",
        legal_name=CANARY_NAME,
        email=CANARY_EMAIL,
        reminder_offsets=[1440],
    )
    group = GroupFactory(clinic=clinic)
    enrolment = EnrolmentFactory(group=group, member=member, status=EnrolmentStatus.REFERRED)
    screening_record(
        enrolment=enrolment,
        by=group.lead_facilitator,
        findings={
            area: (Finding.NO_CONCERN, f"{CANARY_NOTE} {area}")
            for area in ("acute_illness", "anxiety_or_trauma", "disruptive_behaviour")
        }
        | {"individual_needs": (Finding.MANAGEABLE, CANARY_NOTE)},
        outcome=ScreeningOutcome.SUITABLE,
    )
    return member


@pytest.fixture
def logs(caplog) -> Callable[[], str]:
    """Every record of the test, from every logger at DEBUG, as the site's handlers write
    it (each of them runs the PHI filter, see ``test_every_handler_runs_the_phi_filter``)."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django")
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")

    def text() -> str:
        lines = []
        for record in caplog.records:
            PHIFilter().filter(record)
            lines.append(formatter.format(record))
        return "\n".join(lines)

    return text


def _anonymous() -> Client:
    return Client(raise_request_exception=False)


# --------------------------------------------------------------------------- error flows


@override_settings(ROOT_URLCONF="tests.security.phi_urls", DEBUG=False)
@pytest.mark.parametrize(
    "view", ["crash", "crash-key", "crash-detail", "crash-unique"], ids=lambda v: v
)
def test_a_500_in_a_view_holding_a_member_logs_and_shows_no_personal_data(canary, logs, view):
    response = _anonymous().get(f"/phi-test/{view}/{canary.pk}/?q={CANARY_NAME}")

    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong" in body
    assert _leaks(body) == []
    logged = logs()
    assert f"ERROR django.request Internal Server Error: /phi-test/{view}/{canary.pk}/" in logged
    assert f"processing <members.member #{canary.pk}> <<e-mail>>" in logged
    assert "Traceback (most recent call last)" in logged
    assert _leaks(logged) == []


@override_settings(ROOT_URLCONF="tests.security.phi_urls", DEBUG=False)
def test_the_unique_violation_on_a_members_address_says_which_constraint_not_the_value(
    canary, logs
):
    _anonymous().get(f"/phi-test/crash-detail/{canary.pk}/")

    assert (
        'IntegrityError: duplicate key value violates unique constraint "members_user_email_key"'
        "\nDETAIL:  Key (email)=(…) already exists." in logs()
    )


@override_settings(ROOT_URLCONF="tests.security.phi_urls", DEBUG=False)
def test_a_500_under_the_api_is_json_and_says_nothing_of_the_member(canary, logs):
    response = _anonymous().get(f"/api/v1/phi-test/crash/{canary.pk}/")

    assert (response.status_code, response["Content-Type"]) == (500, "application/json")
    assert response.json() == {"detail": "Server error."}
    assert _leaks(logs()) == []


@override_settings(ROOT_URLCONF="tests.security.phi_urls", DEBUG=False)
@pytest.mark.parametrize(
    ("view", "status", "heading"),
    [
        ("not-found", 404, "Page not found"),
        ("forbidden", 403, "Not allowed"),
        ("bad-request", 400, "Bad request"),
    ],
)
def test_an_error_about_a_member_shows_a_generic_page_and_logs_no_personal_data(
    canary, logs, view, status, heading
):
    response = _anonymous().get(f"/phi-test/{view}/{canary.pk}/?name={CANARY_NAME}")

    assert response.status_code == status
    body = response.content.decode()
    assert f"<h1>{heading}</h1>" in body
    assert _leaks(body) == []
    assert "phi-test" not in body  # nothing of the request either
    assert _leaks(logs()) == []


@pytest.mark.django_db
def test_a_404_for_a_members_record_on_the_site_and_the_api_says_nothing_of_them(canary, logs):
    outsider = UserFactory()
    ClinicRoleFactory(user=outsider, role=Role.MEMBER)
    client = Client()
    client.force_login(outsider)
    enrolment = canary.enrolments.get()

    page = client.get(f"/enrolments/{enrolment.pk}/")
    api = client.get(f"/api/v1/members/{canary.pk}/")

    assert page.status_code == 404
    assert "<h1>Page not found</h1>" in page.content.decode()
    assert api.status_code == 404
    assert _leaks(page.content.decode() + api.content.decode()) == []
    assert f"WARNING django.request Not Found: /enrolments/{enrolment.pk}/" in logs()
    assert _leaks(logs()) == []


# --------------------------------------------------------------------------- e-mail


class RefusingBackend(BaseEmailBackend):
    """A mail server that refuses every recipient, naming them, as real ones do."""

    def send_messages(self, email_messages):
        recipient = email_messages[0].to[0]
        raise smtplib.SMTPRecipientsRefused(
            {recipient: (550, f"5.1.1 <{recipient}>: mailbox unavailable".encode())}
        )


REFUSING_BACKEND = f"{__name__}.RefusingBackend"


def _due_reminder(member: Member) -> Notification:
    group = GroupFactory(clinic=member.clinic)
    session = GroupSessionFactory(group=group, start=START)
    EnrolmentFactory(
        group=group, member=member, status=EnrolmentStatus.ACTIVE, joined_on=dt.date(2026, 5, 1)
    )
    reminders_plan(sessions=[session], now=PLANNED_AT)
    return Notification.objects.get(session=session)


def test_a_refused_reminder_is_logged_by_id_only(canary, logs, settings):
    settings.EMAIL_BACKEND = REFUSING_BACKEND
    row = _due_reminder(canary)
    now = START - dt.timedelta(hours=24)

    for batch in notifications_dispatch(now=now).batches:
        notifications_send(notification_ids=batch, now=now)

    row.refresh_from_db()
    assert row.status == NotificationStatus.FAILED
    assert f"WARNING {notifications_send.__module__} notification {row.pk} failed: " in logs()
    assert _leaks(logs()) == []


def test_a_sent_reminder_has_a_subject_without_the_members_name(canary, logs):
    _due_reminder(canary)
    now = START - dt.timedelta(hours=24)

    for batch in notifications_dispatch(now=now).batches:
        notifications_send(notification_ids=batch, now=now)

    assert len(mail.outbox) == 1
    assert _leaks(mail.outbox[0].subject) == []
    assert _leaks(logs()) == []


def test_a_refused_invitation_is_neither_logged_nor_shown_with_the_address(canary, logs, settings):
    settings.EMAIL_BACKEND = REFUSING_BACKEND
    admin = UserFactory()
    ClinicRoleFactory(user=admin, clinic=canary.clinic, role=Role.ADMIN)

    with pytest.raises(InvitationMailError) as refused:
        invitation_send(
            clinic=canary.clinic,
            email=CANARY_EMAIL,
            full_name=CANARY_NAME,
            role=Role.MEMBER,
            by=admin,
            member=canary,
        )

    assert _leaks(refused.value.message) == []
    assert _leaks(logs()) == []


def test_an_invitation_subject_does_not_name_the_invitee(canary, logs):
    admin = UserFactory()
    ClinicRoleFactory(user=admin, clinic=canary.clinic, role=Role.ADMIN)

    invitation_send(
        clinic=canary.clinic,
        email=CANARY_EMAIL,
        full_name=CANARY_NAME,
        role=Role.MEMBER,
        by=admin,
        member=canary,
    )

    assert [message.subject for message in mail.outbox] == ["Your invitation to GroupCare"]
    assert _leaks(logs()) == []


# --------------------------------------------------------------------------- configuration


def test_every_handler_of_the_settings_runs_the_phi_filter():
    handlers = settings.LOGGING["handlers"]

    assert handlers
    assert {name: handler.get("filters") for name, handler in handlers.items()} == {
        name: ["phi"] for name in handlers
    }
    assert settings.LOGGING["filters"]["phi"] == {"()": "groupcare.logging.PHIFilter"}


def test_every_handler_installed_runs_the_phi_filter():
    """The handlers logging actually holds (Django's defaults included), not pytest's."""
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    unfiltered = [
        (logger.name, type(handler).__name__)
        for logger in loggers
        for handler in logger.handlers
        if type(handler).__module__.split(".")[0] not in {"_pytest", "tests"}
        and not isinstance(handler, logging.NullHandler)
        and not any(isinstance(f, PHIFilter) for f in handler.filters)
    ]

    assert unfiltered == []


def test_no_logger_mails_a_traceback_to_admins():
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    mailers = [
        logger.name
        for logger in loggers
        for handler in logger.handlers
        if type(handler).__name__ == "AdminEmailHandler"
    ]

    assert mailers == []
    assert settings.ADMINS == []
    assert logging.getLogger("django").handlers == []


@pytest.mark.django_db
def test_the_console_writes_the_redacted_line(monkeypatch):
    (console,) = [h for h in logging.getLogger().handlers if h.get_name() == "console"]
    stream = io.StringIO()
    monkeypatch.setattr(console, "stream", stream)
    member = MemberFactory.build(pk=41, preferred_name="Zebediah", email=CANARY_EMAIL)

    try:
        raise ValueError(f"no such address {CANARY_EMAIL}")
    except ValueError:
        logging.getLogger("groupcare.tests.phi").exception("sending to %s failed", member)

    written = stream.getvalue()
    assert "sending to <members.member #41> failed\n" in written
    assert "ValueError: no such address <e-mail>\n" in written
    assert _leaks(written) == []


def test_the_500_page_needs_no_request_nor_the_database():
    """Rendered like Django's server_error does: no context, no request, no database."""
    body = render_to_string("500.html")

    assert "<h1>Something went wrong</h1>" in body


# --------------------------------------------------------------------------- the filter


def _record(msg, *args, exc_info=None, **extra) -> logging.LogRecord:
    record = logging.LogRecord("test", logging.ERROR, __file__, 1, msg, args or None, exc_info)
    record.__dict__.update(extra)
    return record


def _filtered(record: logging.LogRecord) -> logging.LogRecord:
    assert PHIFilter().filter(record) is True
    return record


def _exc_info(exc: BaseException):
    try:
        raise exc
    except BaseException:
        return sys.exc_info()


def test_the_filter_writes_a_model_instance_as_its_label_and_id():
    member = MemberFactory.build(pk=7, preferred_name="Zebediah")

    record = _filtered(_record("enrolled %s in %s", member, "group 3"))

    assert (record.getMessage(), record.args) == ("enrolled <members.member #7> in group 3", None)


def test_the_filter_writes_a_model_instance_given_as_the_message_or_in_a_list():
    members = [MemberFactory.build(pk=pk, preferred_name="Zebediah") for pk in (1, 2)]

    assert _filtered(_record(members[0])).getMessage() == "<members.member #1>"
    assert (
        _filtered(_record("members %s", members)).getMessage()
        == "members ['<members.member #1>', '<members.member #2>']"
    )


@pytest.mark.django_db
def test_the_filter_writes_a_queryset_as_its_model():
    MemberFactory(preferred_name="Zebediah")

    record = _filtered(_record("members: %s", Member.objects.all()))

    assert record.getMessage() == "members: <QuerySet members.member>"


def test_the_filter_takes_mapping_arguments():
    member = MemberFactory.build(pk=3)

    record = _record("%(who)s at %(where)s", {"who": member, "where": "room 2"})

    assert _filtered(record).getMessage() == "<members.member #3> at room 2"


def test_the_filter_redacts_email_addresses_in_the_message():
    record = _filtered(_record("invitation to %s bounced", CANARY_EMAIL))

    assert record.getMessage() == "invitation to <e-mail> bounced"


def test_the_filter_formats_the_traceback_redacted_and_clears_exc_info():
    record = _record(
        "send failed", exc_info=_exc_info(ValueError(f"{CANARY_EMAIL} refused, said 'Zebediah'"))
    )

    record = _filtered(record)

    assert record.exc_info is None
    assert record.exc_text.startswith("Traceback (most recent call last):\n")
    assert record.exc_text.endswith("ValueError: <e-mail> refused, said '…'")
    assert logging.Formatter().format(record) == "send failed\n" + record.exc_text


def test_the_filter_redacts_the_values_python_echoes_in_an_exception():
    record = _filtered(_record("x", exc_info=_exc_info(KeyError(CANARY_NAME))))
    record2 = _filtered(
        _record("x", exc_info=_exc_info(ValueError(f"invalid literal: {CANARY_NAME!r}")))
    )

    assert record.exc_text.endswith("KeyError: '…'")
    assert record2.exc_text.endswith("ValueError: invalid literal: '…'")


def test_the_filter_keeps_the_traceback_source_lines():
    record = _filtered(_record("x", exc_info=_exc_info(KeyError("a"))))

    assert "    raise exc\n" in record.exc_text


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        (
            "DETAIL:  Key (email)=(zeb@example.org) already exists.",
            "DETAIL:  Key (email)=(…) already exists.",
        ),
        (
            "DETAIL:  Key (clinic_id, name)=(4, Zebediah (a) Canaryton) already exists.",
            "DETAIL:  Key (clinic_id, name)=(…) already exists.",
        ),
        (
            'DETAIL:  Key (member_id)=(12) is not present in table "members_member".',
            'DETAIL:  Key (member_id)=(…) is not present in table "members_member".',
        ),
        (
            "DETAIL:  Failing row contains (5, Zebediah, Canaryton, null).",
            "DETAIL:  Failing row contains (…).",
        ),
        (
            '"GET /groups/?name=Canaryton&page=2 HTTP/1.1" 200 5120',
            '"GET /groups/?… HTTP/1.1" 200 5120',
        ),
        ('"POST /enrolments/5/?q=a%20b HTTP/1.1" 302 0', '"POST /enrolments/5/?… HTTP/1.1" 302 0'),
        ("Not Found: /groups/5/", "Not Found: /groups/5/"),
        ("Lookup in <Member: Zebediah Canaryton> failed", "Lookup in <Member: …> failed"),
    ],
)
def test_the_filter_redacts(text, redacted):
    assert redact(text) == redacted
    assert _filtered(_record(text)).getMessage() == redacted


def test_the_filter_redacts_constraint_details_in_a_traceback():
    error = Exception(
        'duplicate key value violates unique constraint "members_user_email_key"\n'
        f"DETAIL:  Key (email)=({CANARY_EMAIL}) already exists."
    )

    record = _filtered(_record("x", exc_info=_exc_info(error)))

    assert record.exc_text.endswith(
        'Exception: duplicate key value violates unique constraint "members_user_email_key"\n'
        "DETAIL:  Key (email)=(…) already exists."
    )


def test_the_filter_drops_the_request_django_attaches():
    record = _filtered(_record("Internal Server Error: /x/", request=object(), status_code=500))

    assert not hasattr(record, "request")
    assert record.status_code == 500


def test_the_filter_is_idempotent():
    member = MemberFactory.build(pk=9)
    record = _record("to %s: %s", member, CANARY_EMAIL, exc_info=_exc_info(KeyError(CANARY_NAME)))

    once = _filtered(record)
    message, exc_text = once.getMessage(), once.exc_text
    twice = _filtered(once)

    assert (twice.getMessage(), twice.exc_text) == (message, exc_text)


def test_a_log_call_whose_arguments_do_not_fit_still_logs_a_line():
    record = _filtered(_record("%s and %s", "one"))

    assert record.getMessage() == f"(unformattable log message from {__file__}:1)"


def test_describe_leaves_other_values_alone():
    assert describe(("a", 1)) == ("a", 1)
    assert describe(CANARY_NAME) == CANARY_NAME


def test_redact_traceback_leaves_quoted_source_lines_alone():
    text = "Traceback (most recent call last):\n  File 'x.py', line 1\n    f('a')\nKeyError: 'b'"

    assert redact_traceback(text) == (
        "Traceback (most recent call last):\n  File 'x.py', line 1\n    f('a')\nKeyError: '…'"
    )
