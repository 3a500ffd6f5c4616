"""The demo clinic that `make run` loads: enough people and groups to look like a real clinic.

Everything goes through the same services the app uses, so the demo obeys every rule
(seats, screening, double booking, stages). Each piece is looked up by a natural key before
it is created, and a group that exists is left alone, so seeding twice changes nothing.

The groups are placed relative to today, one in each stage: some have been meeting for
weeks (attendance recorded), one starts later and spans the next daylight-saving change,
with a waitlist, and one is adjourning with its final session ahead.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from django.db import transaction
from django.utils import timezone

from members.enums import Role
from members.models import DEFAULT_REMINDER_OFFSETS, Clinic, Member, User
from members.services import clinic_role_grant, user_get_or_create
from sessions.enums import (
    AttendanceStatus,
    EnrolmentPolicy,
    EnrolmentStatus,
    Finding,
    ScreeningOutcome,
    SessionStatus,
    Stage,
)
from sessions.errors import DoubleBookingError, SessionChangeError
from sessions.models import Attendance, Group, GroupSession, Modality, Room
from sessions.selectors.attendance import session_expected_members
from sessions.selectors.calendar_feeds import calendar_feed_live, calendar_feed_url
from sessions.services.agreements import agreement_accept, agreement_publish
from sessions.services.attendance import AttendanceEntry, attendance_record
from sessions.services.calendar_feeds import calendar_feed_issue
from sessions.services.enrolment import (
    enrolment_activate,
    enrolment_decline,
    enrolment_refer,
    enrolment_withdraw,
    screening_record,
)
from sessions.services.groups import group_create, stage_change
from sessions.services.scheduling import group_session_add, rrule_build, schedule_set
from sessions.services.summaries import attendance_summary_build

DEMO_DOMAIN = "demo.groupcare.test"
DEMO_PASSWORD = "demo-password"  # noqa: S105 -- public on purpose; seed_demo refuses without DEBUG
DEMO_CLINIC_TZ = "America/New_York"
#: The demo staff's authenticator-app secret (base32), public like the password: staff must
#: use MFA, and `manage.py demo_code` prints the current code (or add it to an app).
DEMO_TOTP_SECRET = "GROUPCAREDEMOGROUPCAREDEMOGROUPC"  # noqa: S105
#: The demo login's reminders: the defaults and one an hour before.
DEMO_MEMBER_OFFSETS = (*DEFAULT_REMINDER_OFFSETS, 60)


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str


DEMO_LOGINS = (
    DemoLogin("Clinic admin", f"admin@{DEMO_DOMAIN}"),
    DemoLogin("Facilitator", f"facilitator@{DEMO_DOMAIN}"),
    DemoLogin("Member", f"member@{DEMO_DOMAIN}"),
)

_STAFF = (
    (f"admin@{DEMO_DOMAIN}", "Alex Morgan", Role.ADMIN),
    (f"facilitator@{DEMO_DOMAIN}", "Sam Rivera", Role.FACILITATOR),
    (f"facilitator2@{DEMO_DOMAIN}", "Jordan Lee", Role.FACILITATOR),
)

# (preferred name, legal name, has a login)
_MEMBERS = (
    ("Casey", "Casey Thompson", True),
    ("Robin", "Robin Okafor", False),
    ("Jamie", "James Whitfield", False),
    ("Priya", "Priya Natarajan", False),
    ("Mo", "Mohammed Haddad", False),
    ("Lena", "Lena Fischer", False),
    ("Tom", "Thomas Brennan", False),
    ("Ana", "Ana Sousa", False),
    ("Kit", "Christopher Young", False),
    ("Noor", "Noor Rahman", False),
)

_ROOMS = (("Room 1", 12), ("Room 2", 10), ("Garden Room", 8))
_WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

AGREEMENT_TEXT = (
    "Confidentiality: what is shared in the group stays in the group.\n"
    "Respectful sharing: one person speaks at a time; we listen without judging.\n"
    "Attendance: come to every session you can, on time, and tell us ahead if you cannot."
)

_SUITABLE = {
    "acute_illness": (Finding.NO_CONCERN, ""),
    "anxiety_or_trauma": (Finding.NO_CONCERN, ""),
    "disruptive_behaviour": (Finding.NO_CONCERN, ""),
    "individual_needs": (Finding.NO_CONCERN, ""),
}
_WITH_SUPPORT = {
    **_SUITABLE,
    "anxiety_or_trauma": (Finding.MANAGEABLE, "Social anxiety; agreed a seat near the door."),
}
_NOT_SUITABLE = {
    **_SUITABLE,
    "acute_illness": (Finding.SIGNIFICANT, "Needs more intensive care first."),
}

# A fixed pattern of attendance, so the demo looks lived-in and reseeding is predictable.
_ATTENDANCE_PATTERN = (
    AttendanceStatus.PRESENT,
    AttendanceStatus.PRESENT,
    AttendanceStatus.LATE,
    AttendanceStatus.PRESENT,
    AttendanceStatus.ABSENT,
    AttendanceStatus.PRESENT,
    AttendanceStatus.EXCUSED,
)


def _account(*, email: str, full_name: str, password: str) -> User:
    user, _ = user_get_or_create(email=email, full_name=full_name)
    # Only touch the row when something differs, so a second run writes nothing.
    if not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


def _weekday_on_or_after(day: dt.date, weekday: int) -> dt.date:
    return day + dt.timedelta(days=(weekday - day.weekday()) % 7)


def _next_offset_change(tz: zoneinfo.ZoneInfo, after: dt.date) -> dt.date | None:
    """The first local date after ``after`` whose UTC offset differs from the day before."""
    previous = dt.datetime.combine(after, dt.time(12), tzinfo=tz).utcoffset()
    for days in range(1, 400):
        day = after + dt.timedelta(days=days)
        offset = dt.datetime.combine(day, dt.time(12), tzinfo=tz).utcoffset()
        if offset != previous:
            return day
    return None


def _at(day: dt.date, tz: zoneinfo.ZoneInfo, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=tz)


@dataclass(frozen=True)
class _GroupPlan:
    name: str
    modality: str
    lead: str
    co: tuple[str, ...]
    room: str | None
    video_link: str
    policy: EnrolmentPolicy
    max_size: int
    weekday: int
    first_date: dt.date
    count: int
    stages: tuple[tuple[int, Stage], ...]  # (week of the series, stage reached)
    members: tuple[int, ...]  # indexes into _MEMBERS, in referral order


def _plans(today: dt.date, tz: zoneinfo.ZoneInfo) -> list[_GroupPlan]:
    change = _next_offset_change(tz, today)
    skills_start = _weekday_on_or_after(today + dt.timedelta(days=7), 3)
    if change is not None:
        # Start six weeks before the next daylight-saving change so the series spans it.
        skills_start = max(skills_start, _weekday_on_or_after(change - dt.timedelta(weeks=6), 3))
    return [
        _GroupPlan(
            name="Tuesday Evening Group",
            modality="cbt",
            lead=f"facilitator@{DEMO_DOMAIN}",
            co=(),
            room="Room 1",
            video_link="",
            policy=EnrolmentPolicy.CLOSED,
            max_size=8,
            weekday=1,
            first_date=_weekday_on_or_after(today - dt.timedelta(weeks=8), 1),
            count=14,
            stages=((2, Stage.STORMING), (4, Stage.NORMING), (6, Stage.PERFORMING)),
            members=(0, 1, 2, 3, 4, 5),
        ),
        _GroupPlan(
            name="Thursday Skills Group",
            modality="dbt-skills",
            lead=f"facilitator2@{DEMO_DOMAIN}",
            co=(),
            room="Room 2",
            video_link="",
            policy=EnrolmentPolicy.OPEN,
            max_size=4,
            weekday=3,
            first_date=skills_start,
            count=12,
            stages=(),
            # Four seats: the fifth and sixth wait in line; the seventh is not suitable.
            members=(6, 7, 8, 9, 1, 2, 3),
        ),
        _GroupPlan(
            name="Wednesday Group",
            modality="trauma-focused",
            lead=f"facilitator2@{DEMO_DOMAIN}",
            co=(),
            room="Garden Room",
            video_link="",
            policy=EnrolmentPolicy.CLOSED,
            max_size=6,
            weekday=2,
            first_date=_weekday_on_or_after(today - dt.timedelta(weeks=3), 2),
            count=12,
            stages=((2, Stage.STORMING),),
            members=(1, 3, 9),
        ),
        _GroupPlan(
            name="Friday Group",
            modality="psychoeducational",
            lead=f"facilitator@{DEMO_DOMAIN}",
            co=(),
            room="Room 2",
            video_link="",
            policy=EnrolmentPolicy.OPEN,
            max_size=10,
            weekday=4,
            first_date=_weekday_on_or_after(today - dt.timedelta(weeks=5), 4),
            count=10,
            stages=((1, Stage.STORMING), (3, Stage.NORMING)),
            members=(2, 4, 5, 7),
        ),
        _GroupPlan(
            name="Monday Support Group",
            modality="support",
            lead=f"facilitator@{DEMO_DOMAIN}",
            co=(f"facilitator2@{DEMO_DOMAIN}",),
            room=None,
            video_link="https://video.example.org/demo-monday",
            policy=EnrolmentPolicy.OPEN,
            max_size=10,
            weekday=0,
            first_date=_weekday_on_or_after(today - dt.timedelta(weeks=11), 0),
            count=16,
            stages=((1, Stage.STORMING), (3, Stage.NORMING), (5, Stage.PERFORMING)),
            members=(0, 5, 6, 7, 8),
        ),
    ]


def _seed_group(
    *,
    plan: _GroupPlan,
    clinic: Clinic,
    admin: User,
    staff: dict[str, User],
    members: Sequence[Member],
    rooms: dict[str, Room],
    now: dt.datetime,
) -> Group:
    tz = zoneinfo.ZoneInfo(clinic.timezone)
    lead = staff[plan.lead]
    group = group_create(
        clinic=clinic,
        by=admin,
        name=plan.name,
        modality=Modality.objects.get(clinic=None, slug=plan.modality),
        lead_facilitator=lead,
        co_facilitators=[staff[email] for email in plan.co],
        min_size=3,
        max_size=plan.max_size,
        enrolment_policy=plan.policy,
        room=rooms[plan.room] if plan.room else None,
        video_link=plan.video_link,
        planned_start=plan.first_date,
        planned_end=plan.first_date + dt.timedelta(weeks=plan.count - 1),
        description="A demo group: its members and sessions are made up.",
    )
    referral_day = plan.first_date - dt.timedelta(days=14)
    # Generate the whole series as it was planned before the first meeting.
    sessions = schedule_set(
        group=group,
        rrule=rrule_build(weekdays=[_WEEKDAY_CODES[plan.weekday]], count=plan.count),
        first_date=plan.first_date,
        start_time=dt.time(18, 0),
        duration_minutes=90,
        by=lead,
        now=_at(referral_day, tz),
    )
    agreement = agreement_publish(group=group, text=AGREEMENT_TEXT, by=lead)

    for position, index in enumerate(plan.members):
        member = members[index]
        enrolment = enrolment_refer(group=group, member=member, by=lead, now=_at(referral_day, tz))
        is_last_of_long_line = (
            len(plan.members) > plan.max_size + 2 and position == len(plan.members) - 1
        )
        findings, outcome, plan_text = _SUITABLE, ScreeningOutcome.SUITABLE, ""
        if position == 1:
            findings, outcome = _WITH_SUPPORT, ScreeningOutcome.SUITABLE_WITH_SUPPORT
            plan_text = "Check in with the facilitator before the first two sessions."
        if is_last_of_long_line:
            findings, outcome = _NOT_SUITABLE, ScreeningOutcome.NOT_SUITABLE
        screening_record(
            enrolment=enrolment,
            by=lead,
            findings=findings,
            outcome=outcome,
            support_plan=plan_text,
            now=_at(referral_day + dt.timedelta(days=2), tz),
        )
        if outcome == ScreeningOutcome.NOT_SUITABLE:
            enrolment_decline(enrolment=enrolment, by=lead)
            continue
        enrolment_activate(
            enrolment=enrolment, by=lead, today=min(plan.first_date, now.astimezone(tz).date())
        )
        # Members with a login accept online; the others signed the paper copy.
        agreement_accept(
            agreement=agreement,
            member=member,
            by=member.user if member.user is not None else lead,
            method="online" if member.user is not None else "paper",
            now=_at(referral_day + dt.timedelta(days=3), tz),
        )

    for week, stage in plan.stages:
        moment = _at(plan.first_date + dt.timedelta(weeks=week, days=-1), tz)
        if moment < now:
            stage_change(group=group, to=stage, by=lead, now=moment)

    _record_past_attendance(group=group, sessions=sessions, lead=lead, now=now)
    return group


def _record_past_attendance(
    *, group: Group, sessions: Sequence[GroupSession], lead: User, now: dt.datetime
) -> None:
    for number, session in enumerate(sessions):
        if session.end >= now:
            break
        entries = []
        for position, member in enumerate(session_expected_members(session=session)):
            status = _ATTENDANCE_PATTERN[(number + position) % len(_ATTENDANCE_PATTERN)]
            minutes = 75 if status == AttendanceStatus.LATE else None
            entries.append(
                AttendanceEntry(member_id=member.pk, status=status, minutes_attended=minutes)
            )
        if entries:
            attendance_record(
                session=session, by=lead, entries=entries, now=session.end + dt.timedelta(hours=1)
            )


def demo_totp_code(*, at: float) -> tuple[str, int]:
    """The demo staff's one-time code at the Unix time ``at``, and its seconds left."""
    period = 30
    return format_hotp_value(hotp_value(DEMO_TOTP_SECRET, int(at) // period)), period - int(
        at
    ) % period


def demo_seed(*, password: str = DEMO_PASSWORD) -> Clinic:
    """Create (or find) the demo clinic, its staff, members and groups. Idempotent."""
    now = timezone.now()
    with transaction.atomic():
        clinic, _ = Clinic.objects.get_or_create(
            slug="demo",
            defaults={"name": "Riverside Community Clinic", "timezone": DEMO_CLINIC_TZ},
        )
        staff: dict[str, User] = {}
        for email, full_name, role in _STAFF:
            staff[email] = _account(email=email, full_name=full_name, password=password)
            clinic_role_grant(user=staff[email], clinic=clinic, role=role)
            if not Authenticator.objects.filter(
                user=staff[email], type=Authenticator.Type.TOTP
            ).exists():
                TOTP.activate(staff[email], DEMO_TOTP_SECRET)
        admin = staff[f"admin@{DEMO_DOMAIN}"]

        rooms = {
            name: Room.objects.get_or_create(clinic=clinic, name=name, defaults={"capacity": cap})[
                0
            ]
            for name, cap in _ROOMS
        }

        members: list[Member] = []
        for index, (preferred, legal, has_login) in enumerate(_MEMBERS):
            email = f"member@{DEMO_DOMAIN}" if index == 0 else f"member{index + 1}@{DEMO_DOMAIN}"
            user = None
            if has_login:
                user = _account(email=email, full_name=legal, password=password)
                clinic_role_grant(user=user, clinic=clinic, role=Role.MEMBER)
            member, _ = Member.objects.get_or_create(
                clinic=clinic,
                legal_name=legal,
                defaults={
                    "preferred_name": preferred,
                    "email": email,
                    "phone": f"+1 555 010 {index:04d}",
                    "user": user,
                    # The demo login also wants a reminder an hour before (see _drop_in_soon).
                    "reminder_offsets": list(DEMO_MEMBER_OFFSETS)
                    if index == 0
                    else list(DEFAULT_REMINDER_OFFSETS),
                },
            )
            members.append(member)

        tz = zoneinfo.ZoneInfo(clinic.timezone)
        today = now.astimezone(tz).date()
        for plan in _plans(today, tz):
            if Group.objects.filter(clinic=clinic, name=plan.name).exists():
                continue
            group = _seed_group(
                plan=plan,
                clinic=clinic,
                admin=admin,
                staff=staff,
                members=members,
                rooms=rooms,
                now=now,
            )
            if plan.name == "Monday Support Group":
                _adjourn(group=group, lead=staff[plan.lead], now=now)
            if plan.name == "Thursday Skills Group":
                _free_a_seat(group=group, lead=staff[plan.lead])
            if plan.name == "Tuesday Evening Group":
                _correct_locked_attendance(group=group, admin=admin, now=now)
        _last_weeks_summaries(clinic=clinic, today=today, now=now)
    _drop_in_soon(member=members[0], by=admin, now=now)
    for user in (members[0].user, staff[f"facilitator@{DEMO_DOMAIN}"]):
        if user is not None and calendar_feed_live(user=user) is None:
            calendar_feed_issue(user=user, by=user)
    return clinic


def _last_weeks_summaries(*, clinic: Clinic, today: dt.date, now: dt.datetime) -> None:
    """Last week's attendance summaries (as Monday's job makes them, with the facilitators'
    e-mails), so the trend and the e-mail are there from the start. A week is summarised
    once, so seeding again adds nothing."""
    last_monday = today - dt.timedelta(days=today.weekday() + 7)
    for group in Group.objects.filter(clinic=clinic).order_by("pk"):
        attendance_summary_build(group=group, week_start=last_monday, now=now)


def _drop_in_soon(*, member: Member, by: User, now: dt.datetime) -> GroupSession | None:
    """An extra session of one of the demo member's groups starting an hour from now, so a
    reminder is due at once and reaches ``var/mail/`` through the worker within a minute or
    two of starting GroupCare. Nothing when one is already coming up within two hours."""
    start = (now + dt.timedelta(minutes=61)).replace(second=0, microsecond=0)
    groups = Group.objects.filter(
        enrolments__member=member, enrolments__status=EnrolmentStatus.ACTIVE
    ).order_by("pk")
    if GroupSession.objects.filter(
        group__in=groups,
        status=SessionStatus.SCHEDULED,
        start__gt=now,
        start__lte=now + dt.timedelta(hours=2),
    ).exists():
        return None
    for group in groups:
        try:
            return group_session_add(
                group=group, start=start, end=start + dt.timedelta(minutes=60), by=by, now=now
            )
        except (DoubleBookingError, SessionChangeError):
            continue  # that group's room or facilitator is busy then: try the next one
    return None


def _adjourn(*, group: Group, lead: User, now: dt.datetime) -> None:
    """Move the group to adjourning with its final session two meetings ahead."""
    upcoming = list(group.sessions.filter(start__gt=now).order_by("start")[:3])
    if not upcoming:
        return
    final = upcoming[min(1, len(upcoming) - 1)]
    tz = zoneinfo.ZoneInfo(group.clinic.timezone)
    stage_change(
        group=group,
        to=Stage.ADJOURNING,
        by=lead,
        note="Planned end of the programme.",
        final_session_date=final.start.astimezone(tz).date(),
        now=now,
    )


def _free_a_seat(*, group: Group, lead: User) -> None:
    """The last member to take a seat withdraws, so the first in line holds an offer."""
    leaving = group.enrolments.filter(status=EnrolmentStatus.ACTIVE).order_by("-pk").first()
    if leaving is not None:
        enrolment_withdraw(enrolment=leaving, by=lead, note="Moved out of the area.")


def _correct_locked_attendance(*, group: Group, admin: User, now: dt.datetime) -> None:
    """The clinic admin corrects an absence in the first session, after its lock period."""
    absence = (
        Attendance.objects.filter(session__group=group, status=AttendanceStatus.ABSENT)
        .select_related("session")
        .order_by("session__start", "pk")
        .first()
    )
    if absence is None:
        return
    attendance_record(
        session=absence.session,
        by=admin,
        entries=[AttendanceEntry(member_id=absence.member_id, status=AttendanceStatus.EXCUSED)],
        reason="The member had phoned reception beforehand; the message reached us late.",
        now=now,
    )


def demo_calendar_feeds() -> list[tuple[str, str]]:
    """The live calendar feed URL of each demo login that has one."""
    feeds = []
    for login in DEMO_LOGINS:
        user = User.objects.filter(email=login.email).first()
        feed = calendar_feed_live(user=user) if user is not None else None
        if feed is not None:
            feeds.append((login.email, calendar_feed_url(feed)))
    return feeds
