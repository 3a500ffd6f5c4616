"""A member's own data (``member_data_export``) and the anonymisation of a discharged
member's record (``member_anonymise``)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from django.contrib.auth import authenticate
from django.db import connection

from members.enums import Role
from members.models import ApiToken, AuditEntry, ClinicRole, Member
from members.services import (
    MemberAnonymisedError,
    api_token_issue,
    member_record_viewed,
    member_records_listed,
    member_update,
    user_get_or_create,
)
from sessions.enums import (
    AttendanceStatus,
    EnrolmentStatus,
    Finding,
    NotificationKind,
    NotificationStatus,
    ScreeningOutcome,
)
from sessions.errors import (
    AlreadyAnonymisedError,
    AnonymiseNotAllowedError,
    MemberStillEnrolledError,
    RetentionPeriodRunningError,
)
from sessions.models import (
    Attendance,
    AttendanceChange,
    AttendanceSummaryMember,
    CalendarFeed,
    Enrolment,
    Notification,
    Screening,
)
from sessions.selectors.exports import attendance_export_rows
from sessions.selectors.member_data import member_data_export
from sessions.services.agreements import agreement_accept, agreement_publish
from sessions.services.attendance import attendance_cant_attend
from sessions.services.calendar_feeds import calendar_feed_issue
from sessions.services.enrolment import enrolment_discharge, enrolment_refer
from sessions.services.member_privacy import member_anonymise, member_data_exported
from sessions.services.summaries import attendance_summary_build
from tests.factories.members import (
    TEST_PASSWORD,
    ClinicFactory,
    ClinicRoleFactory,
    MemberFactory,
    UserFactory,
    mfa_enrol,
)
from tests.factories.sessions import EnrolmentFactory, GroupFactory, GroupSessionFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)  # a Monday
PAST_START = dt.datetime(2026, 5, 3, 17, 0, tzinfo=dt.UTC)
FUTURE_START = dt.datetime(2026, 5, 12, 17, 0, tzinfo=dt.UTC)
RETENTION_DAYS = 30


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat()


def _staff(clinic, role, full_name):
    user = UserFactory(full_name=full_name)
    ClinicRoleFactory(user=user, clinic=clinic, role=role)
    return user


def _member_login(clinic, email="robin@example.org"):
    user = UserFactory(email=email, full_name="Robin Login")
    ClinicRoleFactory(user=user, clinic=clinic, role=Role.MEMBER)
    return user


def _robin(clinic, user):
    return MemberFactory(
        clinic=clinic,
        user=user,
        preferred_name="Robin",
        legal_name="Robin Quartermaine",
        email="robin@example.org",
        phone="+44 7700 900123",
        emergency_contact_name="Sky Quartermaine",
        emergency_contact_phone="+44 7700 900456",
        timezone="Europe/Paris",
    )


def _screening(enrolment, by, note="Low mood every spring", plan=""):
    return Screening.objects.create(
        enrolment=enrolment,
        acute_illness=Finding.MANAGEABLE,
        acute_illness_note=note,
        anxiety_or_trauma=Finding.NO_CONCERN,
        disruptive_behaviour=Finding.NO_CONCERN,
        individual_needs=Finding.NO_CONCERN,
        individual_needs_note="Prefers a group",
        outcome=ScreeningOutcome.SUITABLE_WITH_SUPPORT if plan else ScreeningOutcome.SUITABLE,
        support_plan=plan,
        screened_by=by,
    )


# =========================================================================== download


@pytest.fixture
def history():
    """Robin's history at T0: an active enrolment screened with notes, an accepted agreement,
    an amended attendance mark, a "can't come", a reminder, a token, a one-time-code app,
    a calendar link, and their record read and listed by staff; beside them, Quinn, a
    fellow member of the same group."""
    with time_machine.travel(T0, tick=False):
        clinic = ClinicFactory(name="Riverside")
        lead = _staff(clinic, Role.FACILITATOR, "Sam Lead")
        group = GroupFactory(clinic=clinic, name="Tuesday Group", lead_facilitator=lead)
        user = _member_login(clinic)
        robin = _robin(clinic, user)
        quinn = MemberFactory(
            clinic=clinic,
            preferred_name="Quinn",
            legal_name="Quinn Fellowes",
            email="quinn@example.org",
            phone="+44 7700 900999",
        )
        joined = dt.date(2026, 5, 1)
        enrolment = EnrolmentFactory(
            group=group, member=robin, status=EnrolmentStatus.ACTIVE, joined_on=joined
        )
        EnrolmentFactory(group=group, member=quinn, status=EnrolmentStatus.ACTIVE, joined_on=joined)
        _screening(enrolment, lead)
        agreement = agreement_publish(group=group, text="We keep it here.", by=lead)
        agreement_accept(agreement=agreement, member=robin, by=user)
        agreement_accept(agreement=agreement, member=quinn, by=lead, method="paper")
        past = GroupSessionFactory(group=group, start=PAST_START)
        mark = Attendance.objects.create(
            session=past,
            member=robin,
            status=AttendanceStatus.LATE,
            minutes_attended=60,
            recorded_by=lead,
        )
        AttendanceChange.objects.create(
            attendance=mark,
            old_status=AttendanceStatus.PRESENT,
            new_status=AttendanceStatus.LATE,
            new_minutes=60,
            changed_by=lead,
            reason="Arrived after the bus broke down",
        )
        Attendance.objects.create(
            session=past, member=quinn, status=AttendanceStatus.ABSENT, recorded_by=lead
        )
        future = GroupSessionFactory(group=group, start=FUTURE_START)
        attendance_cant_attend(session=future, member=robin, by=user, now=T0)
        Notification.objects.all().delete()
        Notification.objects.create(
            key="r1",
            kind=NotificationKind.REMINDER,
            clinic=clinic,
            member=robin,
            session=past,
            due_at=T0,
            status=NotificationStatus.SENT,
            sent_at=T0,
        )
        Notification.objects.create(
            key="r2",
            kind=NotificationKind.REMINDER,
            clinic=clinic,
            member=quinn,
            session=past,
            due_at=T0,
            status=NotificationStatus.SENT,
            sent_at=T0,
        )
        mfa_enrol(user)  # a token needs a second factor behind it
        token, _raw = api_token_issue(user=user, name="Phone")
        calendar_feed_issue(user=user, by=user)
        member_record_viewed(member=robin, by=lead)
        member_records_listed(members=[robin, quinn], by=lead)
        member_record_viewed(member=quinn, by=lead)
    return {"user": user, "robin": robin, "quinn": quinn, "token": token, "clinic": clinic}


def test_export_holds_everything_about_the_member_and_nothing_else(history):
    robin, token = history["robin"], history["token"]

    document = member_data_export(user=history["user"], now=T0)

    assert document == {
        "format": "groupcare.member-data",
        "version": 1,
        "generated_at": _iso(T0),
        "account": {
            "email": "robin@example.org",
            "full_name": "Robin Login",
            "date_joined": _iso(T0),
            "last_login": None,
            "mfa": [{"type": "totp", "created_at": _iso(T0), "last_used_at": None}],
            "api_tokens": [
                {
                    "name": "Phone",
                    "prefix": token.prefix,
                    "created_at": _iso(T0),
                    "last_used_at": None,
                    "revoked_at": None,
                }
            ],
            "calendar_feed": {"active": True, "created_at": _iso(T0)},
            "sessions": [],
        },
        "member_records": [
            {
                "id": robin.pk,
                "clinic": "Riverside",
                "preferred_name": "Robin",
                "legal_name": "Robin Quartermaine",
                "email": "robin@example.org",
                "phone": "+44 7700 900123",
                "emergency_contact": {"name": "Sky Quartermaine", "phone": "+44 7700 900456"},
                "timezone": "Europe/Paris",
                "reminders": {"enabled": True, "minutes_before": [1440, 120], "quiet_hours": True},
                "created_at": _iso(T0),
                "enrolments": [
                    {
                        "group": "Tuesday Group",
                        "status": "active",
                        "referred_at": _iso(T0),
                        "waitlisted_at": None,
                        "joined_on": "2026-05-01",
                        "left_on": None,
                        "left_at": None,
                        "leave_note": "",
                        "screening_override_reason": "",
                        "screenings": [
                            {
                                "screened_at": _iso(T0),
                                "screened_by": "Sam Lead",
                                "areas": {
                                    "acute_illness": {
                                        "finding": "manageable",
                                        "note": "Low mood every spring",
                                    },
                                    "anxiety_or_trauma": {"finding": "no_concern", "note": ""},
                                    "disruptive_behaviour": {"finding": "no_concern", "note": ""},
                                    "individual_needs": {
                                        "finding": "no_concern",
                                        "note": "Prefers a group",
                                    },
                                },
                                "outcome": "suitable",
                                "support_plan": "",
                            }
                        ],
                        "waitlist_offers": [],
                    }
                ],
                "agreement_acceptances": [
                    {
                        "group": "Tuesday Group",
                        "agreement_version": 1,
                        "accepted_at": _iso(T0),
                        "method": "online",
                    }
                ],
                "attendance": [
                    {
                        "group": "Tuesday Group",
                        "session_start": _iso(PAST_START),
                        "session_end": _iso(PAST_START + dt.timedelta(minutes=90)),
                        "session_status": "scheduled",
                        "status": "late",
                        "minutes_attended": 60,
                        "recorded_at": _iso(T0),
                        "changes": [
                            {
                                "changed_at": _iso(T0),
                                "old_status": "present",
                                "new_status": "late",
                                "old_minutes": None,
                                "new_minutes": 60,
                            }
                        ],
                    },
                    {
                        "group": "Tuesday Group",
                        "session_start": _iso(FUTURE_START),
                        "session_end": _iso(FUTURE_START + dt.timedelta(minutes=90)),
                        "session_status": "scheduled",
                        "status": "excused",
                        "minutes_attended": None,
                        "recorded_at": _iso(T0),
                        "changes": [],
                    },
                ],
                "cant_come_reports": [
                    {
                        "reported_at": _iso(T0),
                        "group": "Tuesday Group",
                        "session_start": _iso(FUTURE_START),
                        "recorded_as": "excused",
                    }
                ],
                "notifications": [
                    {
                        "kind": "reminder",
                        "status": "sent",
                        "due_at": _iso(T0),
                        "sent_at": _iso(T0),
                    }
                ],
                "audit": [
                    {
                        "at": _iso(T0),
                        "action": "sessions.agreement.accepted",
                        "by": "Robin Login",
                        "by_you": True,
                    },
                    {
                        "at": _iso(T0),
                        "action": "sessions.attendance.cant_attend",
                        "by": "Robin Login",
                        "by_you": True,
                    },
                    {
                        "at": _iso(T0),
                        "action": "members.member.viewed",
                        "by": "Sam Lead",
                        "by_you": False,
                    },
                    {
                        "at": _iso(T0),
                        "action": "members.member.listed",
                        "by": "Sam Lead",
                        "by_you": False,
                    },
                ],
            }
        ],
    }


def test_export_carries_no_fellow_members_data_and_no_secret(history):
    document = json.dumps(member_data_export(user=history["user"], now=T0))

    quinn = history["quinn"]
    for marker in (quinn.preferred_name, quinn.legal_name, quinn.email, quinn.phone):
        assert marker not in document
    assert [record["id"] for record in json.loads(document)["member_records"]] == [
        history["robin"].pk
    ]
    assert history["token"].digest not in document
    assert CalendarFeed.objects.get(user=history["user"]).token not in document
    totp = Authenticator.objects.get(user=history["user"])
    assert json.dumps(totp.data)[:20] not in document


def test_export_lists_each_record_of_a_person_in_several_clinics(history):
    elsewhere = ClinicFactory(name="Hillside")
    MemberFactory(clinic=elsewhere, user=history["user"], preferred_name="Rob")

    document = member_data_export(user=history["user"], now=T0)

    assert [(r["clinic"], r["preferred_name"]) for r in document["member_records"]] == [
        ("Hillside", "Rob"),
        ("Riverside", "Robin"),
    ]


@pytest.mark.parametrize("size", [1, 5])
def test_export_runs_the_same_queries_for_any_history(django_assert_num_queries, size):
    clinic = ClinicFactory()
    lead = _staff(clinic, Role.FACILITATOR, "Sam Lead")
    user = _member_login(clinic)
    robin = _robin(clinic, user)
    for day in range(size):
        group = GroupFactory(clinic=clinic, lead_facilitator=lead)
        enrolment = EnrolmentFactory(
            group=group, member=robin, status=EnrolmentStatus.ACTIVE, joined_on=dt.date(2026, 5, 1)
        )
        _screening(enrolment, lead)
        session = GroupSessionFactory(group=group, start=PAST_START - dt.timedelta(days=day))
        mark = Attendance.objects.create(
            session=session, member=robin, status=AttendanceStatus.PRESENT, recorded_by=lead
        )
        AttendanceChange.objects.create(
            attendance=mark, new_status=AttendanceStatus.PRESENT, changed_by=lead
        )
        Notification.objects.create(
            key=f"k{group.pk}",
            kind=NotificationKind.REMINDER,
            clinic=clinic,
            member=robin,
            session=session,
            due_at=T0,
        )
        agreement = agreement_publish(group=group, text="We keep it here.", by=lead)
        agreement_accept(agreement=agreement, member=robin, by=user)
        member_record_viewed(member=robin, by=lead)
        mfa_enrol(user)  # a token needs a second factor behind it
        api_token_issue(user=user, name=f"Token {group.pk}")

    with django_assert_num_queries(13):
        document = member_data_export(user=user, now=T0)

    assert len(document["member_records"][0]["enrolments"]) == size
    assert len(document["member_records"][0]["attendance"]) == size


def test_a_download_is_audited_once_per_clinic_with_ids_only(history):
    robin = history["robin"]
    elsewhere = MemberFactory(clinic=ClinicFactory(), user=history["user"])

    member_data_exported(members=[robin, elsewhere], by=history["user"])

    entries = AuditEntry.objects.filter(action="members.member.data_exported").order_by("pk")
    assert [(e.clinic_id, e.actor_id, e.data) for e in entries] == [
        (robin.clinic_id, history["user"].pk, {"member_ids": [robin.pk]}),
        (elsewhere.clinic_id, history["user"].pk, {"member_ids": [elsewhere.pk]}),
    ]


# =========================================================================== anonymise

T_START = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
T_END = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC)
T_ALLOWED = T_END + dt.timedelta(days=RETENTION_DAYS)


@pytest.fixture(autouse=True)
def _retention(settings):
    settings.GROUPCARE_RETENTION_DAYS = RETENTION_DAYS


@pytest.fixture
def discharged():
    """Robin, discharged from the Tuesday Group at T_END with a note, after a screening with
    notes, two attendance marks (one amended with a reason) and reminders; with a login
    (token, calendar link, one-time-code app). The clinic keeps records 30 days."""
    with time_machine.travel(T_START, tick=False):
        clinic = ClinicFactory(name="Riverside")
        admin = _staff(clinic, Role.ADMIN, "Jordan Admin")
        lead = _staff(clinic, Role.FACILITATOR, "Sam Lead")
        group = GroupFactory(clinic=clinic, name="Tuesday Group", lead_facilitator=lead)
        user = _member_login(clinic)
        robin = _robin(clinic, user)
        enrolment = EnrolmentFactory(
            group=group, member=robin, status=EnrolmentStatus.ACTIVE, joined_on=dt.date(2026, 3, 2)
        )
        Enrolment.objects.filter(pk=enrolment.pk).update(
            screening_override_reason="History of self-harm, stable now"
        )
        _screening(enrolment, lead, plan="Check in weekly after the session")
        first = GroupSessionFactory(group=group, start=dt.datetime(2026, 3, 3, 17, tzinfo=dt.UTC))
        second = GroupSessionFactory(group=group, start=dt.datetime(2026, 3, 5, 17, tzinfo=dt.UTC))
        present = Attendance.objects.create(
            session=first, member=robin, status=AttendanceStatus.PRESENT, recorded_by=lead
        )
        AttendanceChange.objects.create(
            attendance=present,
            old_status=AttendanceStatus.ABSENT,
            new_status=AttendanceStatus.PRESENT,
            changed_by=lead,
            reason="Robin rang: in hospital overnight",
        )
        Attendance.objects.create(
            session=second, member=robin, status=AttendanceStatus.ABSENT, recorded_by=lead
        )
        Notification.objects.create(
            key="sent",
            kind=NotificationKind.REMINDER,
            clinic=clinic,
            member=robin,
            session=first,
            due_at=T_START,
            status=NotificationStatus.FAILED,
            last_error="SMTPRecipientsRefused: {'robin@example.org': (550, b'no')}",
        )
        Notification.objects.create(
            key="pending",
            kind=NotificationKind.REMINDER,
            clinic=clinic,
            member=robin,
            session=second,
            due_at=T_START,
        )
        mfa_enrol(user)  # a token needs a second factor behind it
        token, _raw = api_token_issue(user=user, name="Phone")
        calendar_feed_issue(user=user, by=user)
    with time_machine.travel(T_END, tick=False):
        enrolment_discharge(enrolment=enrolment, by=lead, note="Moved away; see GP letter")
    return {
        "clinic": clinic,
        "admin": admin,
        "lead": lead,
        "group": group,
        "user": user,
        "robin": robin,
        "enrolment": enrolment,
        "token": token,
    }


def _anonymise(discharged, when=T_ALLOWED, by=None):
    with time_machine.travel(when, tick=False):
        return member_anonymise(member=discharged["robin"], by=by or discharged["admin"])


def test_anonymise_clears_every_identity_field_of_the_record(discharged):
    robin = _anonymise(discharged)

    row = Member.objects.filter(pk=robin.pk).values().get()
    assert {
        key: value for key, value in row.items() if key not in ("created_at", "updated_at")
    } == {
        "id": robin.pk,
        "clinic_id": discharged["clinic"].pk,
        "user_id": None,
        "preferred_name": f"Anonymised member #{robin.pk}",
        "legal_name": "",
        "email": "",
        "phone": "",
        "emergency_contact_name": "",
        "emergency_contact_phone": "",
        "timezone": "",
        "created_by_id": None,
        "reminders_enabled": False,
        "reminder_offsets": [1440, 120],
        "quiet_hours": True,
        "anonymised_at": T_ALLOWED,
    }


def test_anonymise_leaves_no_old_name_or_address_in_the_members_table(discharged):
    robin = _anonymise(discharged)

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM members_member WHERE id = %s", [robin.pk])
        raw = " ".join(str(value) for value in cursor.fetchone())
    for old in ("Robin Quartermaine", "robin@example.org", "Sky", "900123", "Europe/Paris"):
        assert old not in raw
    assert "Robin " not in raw


def test_anonymise_clears_the_clinical_notes_and_keeps_the_findings(discharged):
    _anonymise(discharged)

    enrolment = Enrolment.objects.get(pk=discharged["enrolment"].pk)
    assert (enrolment.status, enrolment.leave_note, enrolment.screening_override_reason) == (
        EnrolmentStatus.DISCHARGED,
        "",
        "",
    )
    screening = Screening.objects.get(enrolment=enrolment)
    assert [getattr(screening, f"{area}_note") for area in Screening.AREAS] == ["", "", "", ""]
    assert (screening.support_plan, screening.acute_illness, screening.outcome) == (
        "",
        Finding.MANAGEABLE,
        ScreeningOutcome.SUITABLE_WITH_SUPPORT,
    )
    assert list(AttendanceChange.objects.values_list("reason", flat=True)) == [""]


def test_anonymise_keeps_attendance_counted_in_exports_and_summaries(discharged):
    admin, robin = discharged["admin"], discharged["robin"]

    def export():
        rows = attendance_export_rows(
            user=admin, first_day=dt.date(2026, 3, 1), last_day=dt.date(2026, 3, 31)
        )
        return [
            (r["member_id"], r["member_name"], r["member_legal_name"], r["attendance_status"])
            for r in rows
        ]

    before = export()
    _anonymise(discharged)

    label = f"Anonymised member #{robin.pk}"
    assert before == [
        (robin.pk, "Robin", "Robin Quartermaine", "present"),
        (robin.pk, "Robin", "Robin Quartermaine", "absent"),
    ]
    assert export() == [(robin.pk, label, "", "present"), (robin.pk, label, "", "absent")]
    summary = attendance_summary_build(
        group=discharged["group"], week_start=dt.date(2026, 3, 2), now=T_ALLOWED
    )
    line = AttendanceSummaryMember.objects.get(summary=summary)
    assert (line.member_id, line.sessions_expected, line.sessions_attended) == (robin.pk, 2, 1)


def test_anonymise_cancels_pending_messages_and_blanks_errors_of_sent_ones(discharged):
    _anonymise(discharged)

    assert list(Notification.objects.values_list("key", "status", "last_error")) == [
        ("sent", NotificationStatus.FAILED, "")
    ]


def test_anonymise_closes_a_login_that_served_only_this_record(discharged):
    user = discharged["user"]

    _anonymise(discharged)

    user.refresh_from_db()
    assert (user.is_active, user.has_usable_password(), user.email, user.full_name) == (
        False,
        False,
        f"anonymised-{user.pk}@anonymised.invalid",
        "",
    )
    assert authenticate(email="robin@example.org", password=TEST_PASSWORD) is None
    assert authenticate(email=user.email, password=TEST_PASSWORD) is None
    assert ApiToken.objects.get(pk=discharged["token"].pk).revoked_at == T_ALLOWED
    assert list(CalendarFeed.objects.values_list("revoked_at", flat=True)) == [T_ALLOWED]
    assert not Authenticator.objects.filter(user=user).exists()
    assert not ClinicRole.objects.filter(user=user).exists()
    # The address is free for a new account.
    assert user_get_or_create(email="robin@example.org")[1] is True


def test_anonymise_unlinks_but_keeps_a_login_used_elsewhere(discharged):
    user = discharged["user"]
    ClinicRoleFactory(user=user, clinic=ClinicFactory(), role=Role.FACILITATOR)

    _anonymise(discharged)

    user.refresh_from_db()
    assert (user.is_active, user.email, user.has_usable_password()) == (
        True,
        "robin@example.org",
        True,
    )
    assert ApiToken.objects.get(pk=discharged["token"].pk).revoked_at is None
    assert list(ClinicRole.objects.filter(user=user).values_list("role", flat=True)) == [
        Role.FACILITATOR
    ]
    assert not Member.objects.filter(user=user).exists()


def test_anonymise_writes_one_audit_entry_with_ids_only(discharged):
    robin, admin, user = discharged["robin"], discharged["admin"], discharged["user"]

    _anonymise(discharged)

    entry = AuditEntry.objects.get(action="members.member.anonymised")
    assert (entry.actor_id, entry.clinic_id, entry.object_type, entry.object_id, entry.data) == (
        admin.pk,
        robin.clinic_id,
        "members.member",
        str(robin.pk),
        {
            "member_id": robin.pk,
            "user_id": user.pk,
            "login_closed": True,
            "notifications_deleted": 1,
            "calendar_feeds_revoked": 1,
            "api_tokens_revoked": 1,
        },
    )


@pytest.mark.parametrize(
    "status",
    [
        EnrolmentStatus.REFERRED,
        EnrolmentStatus.SCREENING,
        EnrolmentStatus.WAITLISTED,
        EnrolmentStatus.ACTIVE,
    ],
)
def test_anonymise_refuses_a_member_with_an_open_enrolment(discharged, status):
    other = EnrolmentFactory(
        group=GroupFactory(clinic=discharged["clinic"]), member=discharged["robin"], status=status
    )

    with pytest.raises(MemberStillEnrolledError) as refusal:
        _anonymise(discharged)

    assert refusal.value.conflict_id == other.pk
    assert refusal.value.code == "member_still_enrolled"
    assert Member.objects.get(pk=discharged["robin"].pk).preferred_name == "Robin"


def test_anonymise_refuses_one_day_before_the_retention_period_ends(discharged):
    with pytest.raises(RetentionPeriodRunningError) as refusal:
        _anonymise(discharged, when=T_ALLOWED - dt.timedelta(days=1))

    assert str(refusal.value) == (
        "The clinic keeps a record for 30 days after the member's last enrolment ended. "
        "This record can be anonymised from 2026-04-09 11:00 (Europe/London)."
    )
    assert Member.objects.get(pk=discharged["robin"].pk).anonymised_at is None
    assert not AuditEntry.objects.filter(action="members.member.anonymised").exists()


def test_anonymise_counts_the_retention_from_a_declined_referral_too(discharged):
    with time_machine.travel(T_END + dt.timedelta(days=10), tick=False):
        EnrolmentFactory(
            group=GroupFactory(clinic=discharged["clinic"]),
            member=discharged["robin"],
            status=EnrolmentStatus.DECLINED,
        )

    with pytest.raises(RetentionPeriodRunningError):
        _anonymise(discharged)
    assert _anonymise(discharged, when=T_ALLOWED + dt.timedelta(days=10)).anonymised_at


def test_anonymise_of_a_member_never_enrolled_counts_from_the_record(discharged):
    with time_machine.travel(T_START, tick=False):
        never = MemberFactory(clinic=discharged["clinic"])
    admin = discharged["admin"]

    one_day_early = T_START + dt.timedelta(days=RETENTION_DAYS - 1)
    with time_machine.travel(one_day_early, tick=False), pytest.raises(RetentionPeriodRunningError):
        member_anonymise(member=never, by=admin)
    with time_machine.travel(T_START + dt.timedelta(days=RETENTION_DAYS), tick=False):
        assert member_anonymise(member=never, by=admin).anonymised_at is not None


def test_anonymise_twice_is_refused(discharged):
    _anonymise(discharged)

    with pytest.raises(AlreadyAnonymisedError):
        _anonymise(discharged)
    assert AuditEntry.objects.filter(action="members.member.anonymised").count() == 1


@pytest.mark.parametrize("who", ["lead", "member", "other_clinic_admin", "robin"])
def test_anonymise_is_for_an_admin_of_the_members_clinic_only(discharged, who):
    by = {
        "lead": discharged["lead"],
        "member": _member_login(discharged["clinic"], email="someone@example.org"),
        "other_clinic_admin": _staff(ClinicFactory(), Role.ADMIN, "Pat Hillside"),
        "robin": discharged["user"],
    }[who]

    with pytest.raises(AnonymiseNotAllowedError):
        _anonymise(discharged, by=by)
    assert Member.objects.get(pk=discharged["robin"].pk).anonymised_at is None


def test_an_anonymised_record_cannot_be_referred_or_changed_again(discharged):
    robin = _anonymise(discharged)
    # The copy a form opened before the anonymisation would hold.
    stale = Member.objects.get(pk=robin.pk)
    stale.anonymised_at, stale.legal_name = None, "Robin Quartermaine"

    with pytest.raises(MemberAnonymisedError):
        enrolment_refer(group=discharged["group"], member=robin, by=discharged["admin"])
    with pytest.raises(MemberAnonymisedError):
        member_update(member=stale, by=discharged["admin"], preferred_name="Robin")
    assert Member.objects.get(pk=robin.pk).preferred_name == f"Anonymised member #{robin.pk}"
    assert not Enrolment.objects.filter(member=robin, status=EnrolmentStatus.REFERRED).exists()
