"""The secret calendar feed (``/calendar/<token>.ics``): what it lists, how calendar apps
read it, and that a rotated or revoked link is gone.

Feeds are read back with vobject, a parser independent of the icalendar package that writes
them: it builds its own time zone from the feed's VTIMEZONE, so an event's local time and
UTC instant here are what a calendar app would show.
"""

import datetime as dt
import re
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import time_machine
import vobject
from django.db import connection
from django.test import Client
from django.urls import reverse

from members.enums import Role
from members.models import AuditEntry, ClinicRole
from sessions.enums import EnrolmentStatus, SessionStatus
from sessions.errors import MemberHasLoginError
from sessions.ics import session_uid
from sessions.models import CalendarFeed
from sessions.services.calendar_feeds import (
    calendar_feed_issue,
    calendar_feed_revoke,
)
from sessions.services.scheduling import group_session_cancel, group_session_move, schedule_set
from tests.factories.members import ClinicFactory, ClinicRoleFactory, UserFactory
from tests.factories.sessions import (
    EnrolmentFactory,
    GroupFactory,
    GroupSessionFactory,
    ModalityFactory,
    RoomFactory,
)

pytestmark = pytest.mark.django_db

NEW_YORK = "America/New_York"
UTC = dt.UTC
#: When the schedule is set, and when the feed is fetched: both before the first session.
SCHEDULED_AT = dt.datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
FETCHED_AT = dt.datetime(2026, 10, 15, 12, 0, tzinfo=UTC)
VIDEO_LINK = "https://meet.example.org/group-7f3a"


# --------------------------------------------------------------------------- helpers


def _fetch(client, feed, at=FETCHED_AT):
    with time_machine.travel(at, tick=False):
        return client.get(f"/calendar/{feed.token}.ics")


def _calendar(response):
    assert response.status_code == 200, response.content[:300]
    return vobject.readOne(response.content.decode())


def _events(response):
    calendar = _calendar(response)
    return sorted(calendar.contents.get("vevent", []), key=lambda event: event.dtstart.value)


def _unfolded(response) -> bytes:
    # A long line is folded at 75 octets (CRLF and a space); unfold it so a search for a
    # word cannot miss one split across two lines.
    return response.content.replace(b"\r\n ", b"")


def _event_lines(response, name: str) -> list[str]:
    """The ``name`` property lines of the VEVENTs, as written."""
    lines: list[str] = []
    in_event = False
    for line in _unfolded(response).decode().split("\r\n"):
        in_event = line == "BEGIN:VEVENT" or (in_event and line != "END:VEVENT")
        if in_event and line.split(":")[0].split(";")[0] == name:
            lines.append(line)
    return lines


def _utc(*args):
    return dt.datetime(*args, tzinfo=UTC)


def _member_of(group, *, joined_on=dt.date(2026, 1, 1), status=EnrolmentStatus.ACTIVE, **names):
    return EnrolmentFactory(
        group=group,
        status=status,
        joined_on=joined_on,
        **{f"member__{key}": value for key, value in names.items()},
    ).member


# --------------------------------------------------------------------------- a weekly group


@pytest.fixture
def group():
    """A Tuesday evening group in New York, whose name, modality and description say what it
    is for: none of that may reach a calendar."""
    clinic = ClinicFactory(timezone=NEW_YORK)
    return GroupFactory(
        clinic=clinic,
        name="Trauma recovery, Tuesdays",
        description="For survivors of violence.",
        modality=ModalityFactory(name="Trauma-focused"),
        room=RoomFactory(clinic=clinic, name="Room 2"),
        planned_end=None,
    )


@pytest.fixture
def sessions(group):
    """Four Tuesdays at 18:00 local around the end of daylight saving time (Sunday 1
    November 2026, 02:00 EDT → 01:00 EST): two in EDT (UTC-4), two in EST (UTC-5)."""
    return schedule_set(
        group=group,
        rrule="FREQ=WEEKLY;BYDAY=TU;COUNT=4",
        first_date=dt.date(2026, 10, 20),
        start_time=dt.time(18, 0),
        duration_minutes=90,
        by=group.lead_facilitator,
        now=SCHEDULED_AT,
    )


@pytest.fixture
def member(group):
    return _member_of(group, preferred_name="Alex", legal_name="Alexandra Stone")


@pytest.fixture
def classmate(group):
    return _member_of(group, preferred_name="Zed", legal_name="Zedekiah Quill")


@pytest.fixture
def feed(member):
    return calendar_feed_issue(member=member, by=member.enrolments.get().group.lead_facilitator)


def test_a_weekly_1800_group_stays_at_1800_local_across_the_november_change(client, sessions, feed):
    response = _fetch(client, feed)

    events = _events(response)
    assert [
        (f"{event.dtstart.value:%Y-%m-%d %H:%M}", event.dtstart.value.astimezone(UTC))
        for event in events
    ] == [
        ("2026-10-20 18:00", _utc(2026, 10, 20, 22, 0)),
        ("2026-10-27 18:00", _utc(2026, 10, 27, 22, 0)),
        ("2026-11-03 18:00", _utc(2026, 11, 3, 23, 0)),
        ("2026-11-10 18:00", _utc(2026, 11, 10, 23, 0)),
    ]
    assert [event.dtend.value.astimezone(UTC) for event in events] == [
        _utc(2026, 10, 20, 23, 30),
        _utc(2026, 10, 27, 23, 30),
        _utc(2026, 11, 4, 0, 30),
        _utc(2026, 11, 11, 0, 30),
    ]


def test_times_carry_the_clinics_tzid_with_its_vtimezone(client, sessions, feed):
    response = _fetch(client, feed)

    assert _event_lines(response, "DTSTART") == [
        "DTSTART;TZID=America/New_York:20261020T180000",
        "DTSTART;TZID=America/New_York:20261027T180000",
        "DTSTART;TZID=America/New_York:20261103T180000",
        "DTSTART;TZID=America/New_York:20261110T180000",
    ]
    assert [zone.tzid.value for zone in _calendar(response).vtimezone_list] == [NEW_YORK]


def test_dtstamp_is_utc(client, sessions, feed):
    response = _fetch(client, feed)

    stamps = _event_lines(response, "DTSTAMP")
    assert len(stamps) == 4
    assert [line for line in stamps if not re.fullmatch(r"DTSTAMP:\d{8}T\d{6}Z", line)] == []
    assert {event.dtstamp.value.utcoffset() for event in _events(response)} == {dt.timedelta(0)}


def test_every_event_has_the_minimal_title_and_the_room(client, sessions, feed):
    events = _events(_fetch(client, feed))

    assert [(event.summary.value, event.location.value) for event in events] == [
        ("Group session", "Room 2")
    ] * 4
    assert [event.contents.get("url") for event in events] == [None] * 4


def test_the_feed_names_no_group_modality_description_or_member(
    client, group, sessions, member, classmate, feed
):
    body = _unfolded(_fetch(client, feed))

    words = [
        group.name,
        group.modality.name,
        group.description,
        "Trauma",
        member.preferred_name,
        member.legal_name,
        member.email,
        classmate.preferred_name,
        classmate.legal_name,
        classmate.email,
        group.lead_facilitator.full_name,
        group.lead_facilitator.email,
    ]
    assert [word for word in words if word.encode() in body] == []


def test_a_cancelled_session_stays_marked_cancelled_with_its_uid(client, group, sessions, feed):
    before = _events(_fetch(client, feed))
    with time_machine.travel(FETCHED_AT, tick=False):
        group_session_cancel(session=sessions[2], by=group.lead_facilitator, reason="Room flooded")

    after = _events(_fetch(client, feed))

    assert [event.uid.value for event in after] == [event.uid.value for event in before]
    assert [(event.status.value, int(event.sequence.value)) for event in after] == [
        ("CONFIRMED", 0),
        ("CONFIRMED", 0),
        ("CANCELLED", 1),
        ("CONFIRMED", 0),
    ]
    assert after[2].transp.value == "TRANSPARENT"
    assert b"Room flooded" not in _unfolded(_fetch(client, feed))


def test_a_moved_session_keeps_its_uid_and_raises_its_sequence(client, group, sessions, feed):
    before = {event.uid.value: event for event in _events(_fetch(client, feed))}
    moved = sessions[1]
    with time_machine.travel(FETCHED_AT, tick=False):
        group_session_move(
            session=moved, by=group.lead_facilitator, start=moved.start + dt.timedelta(hours=1)
        )

    after = {event.uid.value: event for event in _events(_fetch(client, feed))}

    assert sorted(after) == sorted(before)
    changed = {
        uid: (int(before[uid].sequence.value), int(event.sequence.value))
        for uid, event in after.items()
        if event.sequence.value != before[uid].sequence.value
    }
    moved_uid = next(uid for uid, event in after.items() if event.dtstart.value.hour == 19)
    assert changed == {moved_uid: (0, 1)}
    assert after[moved_uid].dtstart.value.astimezone(UTC) == _utc(2026, 10, 27, 23, 0)
    assert moved_uid == session_uid(moved)


# --------------------------------------------------------------------------- what is listed


def _feed_starts(client, feed, at):
    return [event.dtstart.value.astimezone(UTC) for event in _events(_fetch(client, feed, at))]


def test_the_feed_reaches_back_30_days_and_forward_to_the_last_session(client):
    group = GroupFactory()
    now = _utc(2026, 6, 1, 12, 0)
    thirty_days_back = now - dt.timedelta(days=30)
    for start in (
        thirty_days_back - dt.timedelta(minutes=1),
        thirty_days_back,
        now + dt.timedelta(days=300),
    ):
        # A minute long, so the first two do not overlap (PostgreSQL would refuse it).
        GroupSessionFactory(group=group, start=start, end=start + dt.timedelta(minutes=1))
    member = _member_of(group, joined_on=dt.date(2026, 1, 1))
    feed = calendar_feed_issue(member=member, by=group.lead_facilitator)

    assert _feed_starts(client, feed, now) == [thirty_days_back, now + dt.timedelta(days=300)]


def test_a_member_has_the_sessions_of_the_local_days_they_were_enrolled_only(client):
    # New York is UTC-4 in June; joined on Tuesday 2 June, left on Tuesday 16 June
    # (exclusive): a local date decides, not the UTC one.
    group = GroupFactory(clinic=ClinicFactory(timezone=NEW_YORK))
    starts = {
        "Mon 1 Jun 23:30 (before joining)": _utc(2026, 6, 2, 3, 30),
        "Tue 2 Jun 00:30 (the day they joined)": _utc(2026, 6, 2, 4, 30),
        "Tue 9 Jun 18:00": _utc(2026, 6, 9, 22, 0),
        "Mon 15 Jun 23:30 (the last day)": _utc(2026, 6, 16, 3, 30),
        "Tue 16 Jun 18:00 (the day they left)": _utc(2026, 6, 16, 22, 0),
    }
    for start in starts.values():
        GroupSessionFactory(group=group, start=start, end=start + dt.timedelta(minutes=45))
    member = EnrolmentFactory(
        group=group,
        status=EnrolmentStatus.COMPLETED,
        joined_on=dt.date(2026, 6, 2),
        left_on=dt.date(2026, 6, 16),
    ).member
    feed = calendar_feed_issue(member=member, by=group.lead_facilitator)

    assert _feed_starts(client, feed, _utc(2026, 6, 1)) == [
        starts["Tue 2 Jun 00:30 (the day they joined)"],
        starts["Tue 9 Jun 18:00"],
        starts["Mon 15 Jun 23:30 (the last day)"],
    ]


@pytest.mark.parametrize(
    "status",
    [
        EnrolmentStatus.REFERRED,
        EnrolmentStatus.SCREENING,
        EnrolmentStatus.WAITLISTED,
        EnrolmentStatus.DECLINED,
    ],
)
def test_a_member_who_never_took_a_seat_has_no_sessions(client, status):
    group = GroupFactory()
    GroupSessionFactory(group=group, start=_utc(2026, 6, 2, 17, 0))
    # A stray join date on an enrolment that never became active does not count.
    member = _member_of(group, joined_on=dt.date(2026, 1, 1), status=status)
    feed = calendar_feed_issue(member=member, by=group.lead_facilitator)

    assert _feed_starts(client, feed, _utc(2026, 6, 1)) == []


def test_another_groups_sessions_are_not_in_a_members_feed(client):
    group = GroupFactory()
    other_group = GroupFactory(clinic=group.clinic)
    mine = GroupSessionFactory(group=group, start=_utc(2026, 6, 2, 17, 0))
    GroupSessionFactory(group=other_group, start=_utc(2026, 6, 3, 17, 0))
    member = _member_of(group)
    _member_of(other_group)
    feed = calendar_feed_issue(member=member, by=group.lead_facilitator)

    assert _feed_starts(client, feed, _utc(2026, 6, 1)) == [mine.start]


@pytest.fixture
def facilitator_with_member_record():
    """A facilitator of a video group in one clinic, with a member record of their own (and
    the member role) in another clinic."""
    clinic = ClinicFactory()
    facilitator = UserFactory()
    ClinicRoleFactory(user=facilitator, clinic=clinic, role=Role.FACILITATOR)
    video_group = GroupFactory(
        clinic=clinic, lead_facilitator=facilitator, room=None, video_link=VIDEO_LINK
    )
    other_clinic = ClinicFactory(timezone=NEW_YORK)
    ClinicRoleFactory(user=facilitator, clinic=other_clinic, role=Role.MEMBER)
    attended_group = GroupFactory(clinic=other_clinic)
    _member_of(attended_group, user=facilitator, clinic=other_clinic)
    return facilitator, video_group, attended_group


def test_a_login_feed_has_the_sessions_they_facilitate_and_those_they_attend(
    client, facilitator_with_member_record
):
    facilitator, video_group, attended_group = facilitator_with_member_record
    runs = GroupSessionFactory(
        group=video_group, start=_utc(2026, 6, 2, 17, 0), video_link=VIDEO_LINK
    )
    substitute = UserFactory()
    ClinicRoleFactory(user=substitute, clinic=video_group.clinic, role=Role.FACILITATOR)
    # The same group, covered by a substitute: not theirs that day.
    GroupSessionFactory(
        group=video_group,
        start=_utc(2026, 6, 9, 17, 0),
        video_link=VIDEO_LINK,
        facilitators=[substitute],
    )
    attends = GroupSessionFactory(group=attended_group, start=_utc(2026, 6, 4, 22, 0))
    feed = calendar_feed_issue(user=facilitator, by=facilitator)

    events = _events(_fetch(client, feed, _utc(2026, 6, 1)))

    assert [
        (event.uid.value, event.location.value, event.contents.get("url") and event.url.value)
        for event in events
    ] == [
        (session_uid(runs), VIDEO_LINK, VIDEO_LINK),
        (session_uid(attends), attends.room.name, None),
    ]
    assert [event.dtstart.params["X-VOBJ-ORIGINAL-TZID"] for event in events] == [
        ["Europe/London"],
        [NEW_YORK],
    ]


def test_a_login_without_the_role_any_more_loses_those_sessions(
    client, facilitator_with_member_record
):
    facilitator, video_group, attended_group = facilitator_with_member_record
    GroupSessionFactory(group=video_group, start=_utc(2026, 6, 2, 17, 0), video_link=VIDEO_LINK)
    GroupSessionFactory(group=attended_group, start=_utc(2026, 6, 4, 22, 0))
    feed = calendar_feed_issue(user=facilitator, by=facilitator)
    ClinicRole.objects.filter(user=facilitator).delete()

    assert _feed_starts(client, feed, _utc(2026, 6, 1)) == []


def test_the_video_link_is_never_on_a_cancelled_session(client):
    group = GroupFactory(room=None, video_link=VIDEO_LINK)
    GroupSessionFactory(group=group, start=_utc(2026, 6, 2, 17, 0), video_link=VIDEO_LINK)
    cancelled = GroupSessionFactory(
        group=group,
        start=_utc(2026, 6, 9, 17, 0),
        video_link=VIDEO_LINK,
        status=SessionStatus.CANCELLED,
    )
    feed = calendar_feed_issue(member=_member_of(group), by=group.lead_facilitator)

    response = _fetch(client, feed, _utc(2026, 6, 1))

    assert [
        (event.status.value, event.location.value, event.contents.get("url") and event.url.value)
        for event in _events(response)
    ] == [("CONFIRMED", VIDEO_LINK, VIDEO_LINK), ("CANCELLED", "Online", None)]
    blocks = _unfolded(response).split(b"BEGIN:VEVENT")
    uid = f"UID:{session_uid(cancelled)}".encode()
    assert [VIDEO_LINK.encode() in block for block in blocks if uid in block] == [False]


@pytest.mark.parametrize("size", [1, 5])
def test_the_feed_takes_three_queries_whatever_the_number_of_sessions(
    client, django_assert_num_queries, facilitator_with_member_record, size
):
    facilitator, video_group, attended_group = facilitator_with_member_record
    for week in range(size):
        GroupSessionFactory(
            group=video_group,
            start=_utc(2026, 6, 2, 17, 0) + dt.timedelta(weeks=week),
            video_link=VIDEO_LINK,
        )
        GroupSessionFactory(
            group=attended_group, start=_utc(2026, 6, 4, 22, 0) + dt.timedelta(weeks=week)
        )
    feed = calendar_feed_issue(user=facilitator, by=facilitator)

    with django_assert_num_queries(3):  # the feed, the enrolments, the sessions
        response = _fetch(client, feed, _utc(2026, 6, 1))

    assert len(_events(response)) == 2 * size


# --------------------------------------------------------------------------- the response


def test_the_feed_is_a_private_inline_calendar_named_groupcare(client, sessions, feed):
    response = _fetch(client, feed)

    assert response.status_code == 200
    assert {
        name: response[name]
        for name in ("Content-Type", "Content-Disposition", "Cache-Control", "X-Robots-Tag")
    } == {
        "Content-Type": "text/calendar; charset=utf-8",
        "Content-Disposition": 'inline; filename="groupcare.ics"',
        "Cache-Control": "private, no-store",
        "X-Robots-Tag": "noindex",
    }
    calendar = _calendar(response)
    assert (calendar.x_wr_calname.value, calendar.contents.get("method")) == ("GroupCare", None)
    assert reverse("calendar-feed", args=[feed.token]) == f"/calendar/{feed.token}.ics"


def test_an_empty_feed_is_still_a_valid_calendar(client, feed):
    response = _fetch(client, feed)

    assert _calendar(response).contents.get("vevent") is None


def test_head_answers_like_get_without_a_body(client, sessions, feed):
    with time_machine.travel(FETCHED_AT, tick=False):
        response = client.head(f"/calendar/{feed.token}.ics")

    assert (response.status_code, response["Content-Type"], response.content) == (
        200,
        "text/calendar; charset=utf-8",
        b"",
    )


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
def test_only_get_and_head_are_allowed(feed, method):
    client = Client(enforce_csrf_checks=True)

    response = getattr(client, method)(f"/calendar/{feed.token}.ics")

    assert (response.status_code, response["Allow"]) == (405, "GET, HEAD")
    assert CalendarFeed.objects.get(pk=feed.pk).revoked_at is None


def _revoked_token(member):
    feed = calendar_feed_issue(member=member, by=UserFactory())
    calendar_feed_revoke(feed=feed, by=UserFactory())
    return feed.token


@pytest.mark.parametrize(
    "token",
    [
        lambda member: secrets.token_urlsafe(32),
        _revoked_token,
        lambda member: "short",
        lambda member: "a" * 65,
        lambda member: "not a token!",
    ],
    ids=["unknown", "revoked", "too-short", "too-long", "wrong-characters"],
)
def test_a_token_that_opens_nothing_gets_the_same_plain_404(client, member, token):
    response = client.get(f"/calendar/{token(member)}.ics")

    assert (response.status_code, response["Content-Type"], response.content) == (
        404,
        "text/plain; charset=utf-8",
        b"Not found.\n",
    )
    assert (response["Cache-Control"], response["X-Robots-Tag"]) == ("private, no-store", "noindex")


def test_a_deactivated_logins_feed_is_gone(client):
    user = UserFactory()
    feed = calendar_feed_issue(user=user, by=user)
    user.is_active = False
    user.save()

    assert client.get(f"/calendar/{feed.token}.ics").status_code == 404


# --------------------------------------------------------------------------- issuing, revoking


def test_rotating_ends_the_old_url_at_once_and_the_new_one_works(client, sessions, member, feed):
    new = calendar_feed_issue(member=member, by=member.enrolments.get().group.lead_facilitator)

    assert new.token != feed.token
    assert _fetch(client, feed).status_code == 404
    assert len(_events(_fetch(client, new))) == 4


def test_issuing_revokes_the_live_feed_and_audits_ids_only(member):
    by = UserFactory()
    first = calendar_feed_issue(member=member, by=by)

    second = calendar_feed_issue(member=member, by=by)

    feeds = CalendarFeed.objects.filter(member=member).order_by("pk")
    assert [(feed.pk, feed.revoked_at is None) for feed in feeds] == [
        (first.pk, False),
        (second.pk, True),
    ]
    entries = AuditEntry.objects.filter(action="sessions.calendar_feed.issued").order_by("pk")
    assert [
        (entry.actor_id, entry.clinic_id, entry.object_type, entry.object_id, entry.data)
        for entry in entries
    ] == [
        (
            by.pk,
            member.clinic_id,
            "group_sessions.calendarfeed",
            str(feed.pk),
            {"user_id": None, "member_id": member.pk, "revoked_feed_ids": revoked},
        )
        for feed, revoked in ((first, []), (second, [first.pk]))
    ]


def test_a_login_feed_is_audited_without_a_clinic(make_user):
    user = make_user()

    feed = calendar_feed_issue(user=user, by=user)

    entry = AuditEntry.objects.get(action="sessions.calendar_feed.issued")
    assert (entry.clinic_id, entry.data) == (
        None,
        {"user_id": user.pk, "member_id": None, "revoked_feed_ids": []},
    )
    assert feed.token not in str(entry.data)


def test_revoking_twice_revokes_and_audits_once(member):
    by = UserFactory()
    feed = calendar_feed_issue(member=member, by=by)

    calendar_feed_revoke(feed=feed, by=by)
    revoked_at = feed.revoked_at
    calendar_feed_revoke(feed=feed, by=by)

    assert revoked_at is not None
    assert feed.revoked_at == revoked_at
    assert [
        (entry.actor_id, entry.clinic_id, entry.data)
        for entry in AuditEntry.objects.filter(action="sessions.calendar_feed.revoked")
    ] == [(by.pk, member.clinic_id, {"user_id": None, "member_id": member.pk})]


def test_a_member_record_with_a_login_gets_no_feed_of_its_own(group):
    member = _member_of(group, user=UserFactory())

    with pytest.raises(MemberHasLoginError) as refused:
        calendar_feed_issue(member=member, by=group.lead_facilitator)

    assert (refused.value.code, refused.value.status) == ("member_has_login", 409)
    assert not CalendarFeed.objects.exists()


def test_a_login_linked_since_the_record_was_read_counts(member):
    type(member).objects.filter(pk=member.pk).update(user=UserFactory())

    with pytest.raises(MemberHasLoginError):
        calendar_feed_issue(member=member, by=UserFactory())

    assert not CalendarFeed.objects.exists()


def test_a_feed_has_exactly_one_owner(member):
    user = UserFactory()

    with pytest.raises(ValueError, match="a login or to a member record"):
        calendar_feed_issue(user=user, member=member, by=user)
    with pytest.raises(ValueError, match="a login or to a member record"):
        calendar_feed_issue(by=user)


WORKERS = 8


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_rotations_at_the_same_time_leave_exactly_one_live_feed():
    user = UserFactory()
    calendar_feed_issue(user=user, by=user)
    barrier = threading.Barrier(WORKERS)

    def rotate(_):
        try:
            barrier.wait(timeout=30)
            return calendar_feed_issue(user=user, by=user).pk
        except Exception as exc:  # asserted on below
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(rotate, range(WORKERS)))

    assert [result for result in results if not isinstance(result, int)] == []
    live = CalendarFeed.objects.filter(user=user, revoked_at__isnull=True)
    assert live.count() == 1
    assert CalendarFeed.objects.filter(user=user).count() == WORKERS + 1
    # The last rotation to commit is the live one: every other was revoked by a later one.
    assert live.get().pk in results
