"""Reads about attendance: who is expected at a session, whether they accepted the group's
agreement, and the attendance sheet.

"Expected" follows the roster as it was on the session's local date (the clinic's time
zone), so a member who joins in week 5 is not expected in week 3 and one who left is not
expected afterwards. Nothing is stored per session: the dates on the enrolment decide.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Collection
from dataclasses import dataclass
from typing import NamedTuple

from django.db.models import (
    BooleanField,
    Exists,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)

from members.models import Member
from sessions.enums import EnrolmentStatus
from sessions.models import Agreement, AgreementAcceptance, Attendance, Enrolment, GroupSession

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
    as a subquery (no query runs until it is evaluated). The session's group and clinic
    must be loaded already (the services hold them under lock)."""
    return (
        Enrolment.objects.filter(group_id=session.group_id, status__in=ATTENDING_ENROLMENT_STATUSES)
        .active_on(session_local_date(session=session))
        .values("member_id")
    )


def _current_agreement_pk(group_ref: OuterRef | int) -> QuerySet[Agreement]:
    """The id of the group's latest published agreement version, for a subquery."""
    return Agreement.objects.filter(group_id=group_ref).order_by("-version").values("pk")[:1]


def _session_load(session: GroupSession) -> GroupSession:
    """The session again, with its group and clinic and the id of the group's current
    agreement (``current_agreement_id``, None when none is published). One query."""
    return (
        GroupSession.objects.select_related("group__clinic")
        .annotate(current_agreement_id=Subquery(_current_agreement_pk(OuterRef("group_id"))))
        .get(pk=session.pk)
    )


def session_expected_members(*, session: GroupSession) -> list[Member]:
    """Members expected at ``session``, by preferred name. Two queries (the session is
    loaded again with its group and clinic, so no caller's instance is lazily loaded)."""
    session = _session_load(session)
    return list(Member.objects.filter(pk__in=session_expected_member_ids(session=session)))


@dataclass(frozen=True)
class AgreementStanding:
    """The group's current agreement version and who, of the members asked about, accepted
    that version."""

    version: int
    accepted_member_ids: frozenset[int]


def agreement_standing(*, group_id: int, member_ids: Collection[int]) -> AgreementStanding | None:
    """Whether ``member_ids`` accepted the group's CURRENT agreement version; None when the
    group has published no agreement (then there is nothing to accept). An acceptance of an
    earlier version does not count. One query, whatever the number of members."""
    rows = list(
        Agreement.objects.filter(
            group_id=group_id,
            pk=Subquery(_current_agreement_pk(group_id)),
        )
        .annotate(
            accepted=FilteredRelation(
                "acceptances", condition=Q(acceptances__member_id__in=list(member_ids))
            )
        )
        .values_list("version", "accepted__member_id")
    )
    if not rows:
        return None
    return AgreementStanding(
        version=rows[0][0],
        accepted_member_ids=frozenset(member_id for _, member_id in rows if member_id is not None),
    )


class AttendanceSheetRow(NamedTuple):
    """One line of the attendance sheet. ``agreement_accepted`` is whether the member
    accepted the group's current agreement version, None when the group has none (then
    nothing needs accepting before they attend)."""

    member: Member
    attendance: Attendance | None
    agreement_accepted: bool | None


def session_attendance_sheet(*, session: GroupSession) -> list[AttendanceSheetRow]:
    """Each expected member with their attendance row (None when nothing is recorded yet)
    and whether they accepted the group's current agreement, by preferred name.

    A member with a recorded row who is no longer expected (their enrolment dates were
    corrected afterwards) is still listed, so recorded attendance is never hidden. Three
    queries, whatever the size of the group: the session (with its group, clinic and
    current agreement), the expected members, the recorded rows.
    """
    return _attendance_sheet(session, user_id=None)


def session_attendance_own(*, session: GroupSession, user_id: int) -> list[AttendanceSheetRow]:
    """The lines of :func:`session_attendance_sheet` of the member records that belong to
    the login ``user_id`` (a member reads their own attendance, nobody else's): nothing of
    another member is read. Three queries."""
    return _attendance_sheet(session, user_id=user_id)


def _attendance_sheet(session: GroupSession, *, user_id: int | None) -> list[AttendanceSheetRow]:
    session = _session_load(session)
    agreement_id = session.current_agreement_id  # type: ignore[attr-defined]

    def accepted(member_ref: str) -> Exists | Value:
        if agreement_id is None:
            return Value(None, output_field=BooleanField(null=True))
        return Exists(
            AgreementAcceptance.objects.filter(
                agreement_id=agreement_id, member_id=OuterRef(member_ref)
            )
        )

    expected = Member.objects.filter(pk__in=session_expected_member_ids(session=session))
    recorded = Attendance.objects.filter(session_id=session.pk)
    if user_id is not None:
        expected = expected.filter(user_id=user_id)
        recorded = recorded.filter(member__user_id=user_id)
    members = {member.pk: member for member in expected.annotate(agreement_accepted=accepted("pk"))}
    rows = {
        row.member_id: row
        for row in recorded.select_related("member", "recorded_by").annotate(
            member_agreement_accepted=accepted("member_id")
        )
    }
    for member_id, row in rows.items():
        if member_id not in members:
            row.member.agreement_accepted = row.member_agreement_accepted  # type: ignore[attr-defined]
            members[member_id] = row.member
    ordered = sorted(members.values(), key=lambda member: (member.preferred_name, member.pk))
    return [
        AttendanceSheetRow(
            member=member,
            attendance=rows.get(member.pk),
            agreement_accepted=member.agreement_accepted,  # type: ignore[attr-defined]
        )
        for member in ordered
    ]
