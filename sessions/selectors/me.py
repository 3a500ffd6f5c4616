"""What a member's own pages read: their records, their groups, their agreements and their
past attendance. Everything starts from the member records linked to the viewer's login,
so nothing of another member can come back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple

from django.db.models import OuterRef, QuerySet, Subquery

from members.enums import Role
from members.models import ClinicRole, Member
from sessions.models import Agreement, AgreementAcceptance, Attendance, Enrolment, Group
from sessions.permissions import MEMBER_VISIBLE_STATUSES, AnyUser, attendance_queryset_for
from sessions.selectors.groups import group_list


def member_own_records(*, user: AnyUser) -> list[Member]:
    """The member records linked to ``user`` in clinics where they still hold the member
    role, by clinic name. One query."""
    member_clinics = ClinicRole.objects.filter(user_id=user.pk, role=Role.MEMBER).values(
        "clinic_id"
    )
    return list(
        Member.objects.filter(user_id=user.pk, clinic_id__in=member_clinics)
        .select_related("clinic")
        .order_by("clinic__name", "pk")
    )


def member_past_attendance(
    *, user: AnyUser, records: Sequence[Member], now: dt.datetime
) -> QuerySet[Attendance]:
    """The viewer's own attendance marks at sessions that have started, latest first."""
    return (
        attendance_queryset_for(user)
        .filter(member__in=records, session__start__lt=now)
        .select_related("session__group__clinic")
        .order_by("-session__start", "-pk")
    )


def member_group_list(*, user: AnyUser, records: Sequence[Member]) -> QuerySet[Group]:
    """The groups where one of ``records`` is (or was) a member, as :func:`group_list`
    shapes them: never the groups the viewer sees only as staff."""
    mine = Enrolment.objects.filter(member__in=records, status__in=MEMBER_VISIBLE_STATUSES)
    return group_list(user=user).filter(pk__in=mine.values("group_id"))


class MemberGroupStanding(NamedTuple):
    """Per group id: the member's own (latest) enrolment and the current agreement; per
    agreement id: the member's acceptance of it."""

    enrolments: dict[int, Enrolment]
    agreements: dict[int, Agreement]
    acceptances: dict[int, AgreementAcceptance]


def member_group_standing(
    *, group_ids: Sequence[int], records: Sequence[Member]
) -> MemberGroupStanding:
    """The member's enrolment, each group's current agreement and the member's acceptance,
    for a whole page of groups in three queries (the batch form of
    :func:`~sessions.selectors.groups.member_record_in_group` and
    :func:`~sessions.selectors.groups.agreement_current_with_acceptance`)."""
    enrolments: dict[int, Enrolment] = {}
    for enrolment in Enrolment.objects.filter(group_id__in=group_ids, member__in=records).order_by(
        "referred_at", "pk"
    ):
        enrolments[enrolment.group_id] = enrolment  # the latest wins, as in the selector
    latest_version = (
        Agreement.objects.filter(group_id=OuterRef("group_id"))
        .order_by("-version")
        .values("version")[:1]
    )
    agreements = {
        agreement.group_id: agreement
        for agreement in Agreement.objects.filter(
            group_id__in=group_ids, version=Subquery(latest_version)
        )
    }
    acceptances = {
        acceptance.agreement_id: acceptance
        for acceptance in AgreementAcceptance.objects.filter(
            agreement__in=list(agreements.values()), member__in=records
        )
    }
    return MemberGroupStanding(enrolments, agreements, acceptances)
