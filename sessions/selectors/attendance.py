"""Reads about attendance: who is expected at a session, and the attendance sheet.

"Expected" follows the roster as it was on the session's local date (the clinic's time
zone), so a member who joins in week 5 is not expected in week 3 and one who left is not
expected afterwards. Nothing is stored per session: the dates on the enrolment decide.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.db.models import QuerySet

from members.models import Member
from sessions.enums import EnrolmentStatus
from sessions.models import Attendance, Enrolment, GroupSession

#: Enrolment statuses of a member who is, or once was, taking part in the group. An
#: enrolment that never became active has no ``joined_on``; the status filter also keeps
#: a stray date on a declined or waitlisted enrolment from counting.
ATTENDING_ENROLMENT_STATUSES = (
    EnrolmentStatus.ACTIVE,
    EnrolmentStatus.COMPLETED,
    EnrolmentStatus.WITHDRAWN,
    EnrolmentStatus.DISCHARGED,
)


def session_local_date(*, session: GroupSession) -> dt.date:
    """The date of the session's start in its clinic's time zone."""
    tz = zoneinfo.ZoneInfo(session.group.clinic.timezone)
    return session.start.astimezone(tz).date()


def session_expected_member_ids(*, session: GroupSession) -> QuerySet[Enrolment]:
    """A ``values("member_id")`` queryset of the members expected at ``session``, for use
    as a subquery (no query runs until it is evaluated)."""
    return (
        Enrolment.objects.filter(group_id=session.group_id, status__in=ATTENDING_ENROLMENT_STATUSES)
        .active_on(session_local_date(session=session))
        .values("member_id")
    )


def session_expected_members(*, session: GroupSession) -> list[Member]:
    """Members expected at ``session``, by preferred name. One query."""
    return list(Member.objects.filter(pk__in=session_expected_member_ids(session=session)))


def session_attendance_sheet(*, session: GroupSession) -> list[tuple[Member, Attendance | None]]:
    """Each expected member with their attendance row (None when nothing is recorded yet).

    A member with a recorded row who is no longer expected (their enrolment dates were
    corrected afterwards) is still listed, so recorded attendance is never hidden. Two
    queries, whatever the size of the group.
    """
    members = {member.pk: member for member in session_expected_members(session=session)}
    rows = {
        row.member_id: row
        for row in Attendance.objects.filter(session_id=session.pk).select_related(
            "member", "recorded_by"
        )
    }
    for member_id, row in rows.items():
        members.setdefault(member_id, row.member)
    ordered = sorted(members.values(), key=lambda member: (member.preferred_name, member.pk))
    return [(member, rows.get(member.pk)) for member in ordered]
