"""Reads about sessions: the sessions a user sees, and a user's own upcoming sessions.

Both start from :func:`sessions.permissions.group_session_queryset_for`, so a list, a detail
page and an action agree on what exists for the caller. Each row carries what its
representation needs, in the same query: the group and its clinic, the room, and

- ``can_manage``: the caller runs the group (its facilitators, the clinic's admins) and may
  move or cancel the session;
- ``can_run``: the caller may record the session's attendance (those who manage the group,
  and a substitute facilitator of this session);
- ``own_attendance``: the status of the caller's own attendance row, when they are a member
  with one (None otherwise), and ``own_attendance_member_id``, the member record it is of
  (for the audit entry of whoever is shown it).

The facilitators come with one more query for the whole page (``facilitator_rows``).
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from members.enums import Role
from members.models import ClinicRole
from sessions.enums import EnrolmentStatus
from sessions.models import Attendance, Group, GroupSession, SessionFacilitator
from sessions.permissions import (
    AnyUser,
    group_session_queryset_for,
    managed_group_queryset_for,
    managed_group_session_queryset_for,
)
from sessions.selectors.groups import seat_holder_exists


def _with_representation(sessions: QuerySet[GroupSession], user: AnyUser) -> QuerySet[GroupSession]:
    own_attendance = Attendance.objects.filter(
        session_id=OuterRef("pk"),
        member__user=user,
        member__clinic_id=OuterRef("group__clinic_id"),
    )
    facilitations = SessionFacilitator.objects.select_related("facilitator").order_by(
        "facilitator__full_name", "facilitator_id"
    )
    return (
        sessions.annotate(
            can_manage=Exists(managed_group_queryset_for(user).filter(pk=OuterRef("group_id"))),
            can_run=Exists(managed_group_session_queryset_for(user).filter(pk=OuterRef("pk"))),
            own_attendance=Subquery(own_attendance.values("status")[:1]),
            own_attendance_member_id=Subquery(own_attendance.values("member_id")[:1]),
            has_seat=seat_holder_exists(user, group_ref=OuterRef("group_id")),
        )
        .select_related("group__clinic", "room")
        .prefetch_related(Prefetch("facilitations", facilitations, to_attr="facilitator_rows"))
        .order_by("start", "pk")
    )


def group_session_list(*, user: AnyUser) -> QuerySet[GroupSession]:
    """Every session ``user`` may see (:func:`group_session_queryset_for`), earliest first,
    with ``can_manage``, ``can_run``, ``own_attendance``, ``has_seat`` and
    ``facilitator_rows``. Callers narrow it further (group, room, time range…) before it is
    evaluated."""
    if not user.is_authenticated or not user.is_active:
        return GroupSession.objects.none()
    return _with_representation(group_session_queryset_for(user), user)


def me_session_list(*, user: AnyUser, now: dt.datetime | None = None) -> QuerySet[GroupSession]:
    """The sessions ``user`` takes part in that have not ended and are not cancelled,
    earliest first, shaped as :func:`group_session_list`.

    Taking part means: as a member, a session of a group where their enrolment is active;
    as a facilitator, a session of a group they lead or co-facilitate, or one they
    facilitate as a substitute (each in a clinic where they still hold that role). A clinic
    admin's oversight of every group is not "their" sessions. Always within what
    :func:`group_session_queryset_for` lets them see.
    """
    if not user.is_authenticated or not user.is_active:
        return GroupSession.objects.none()
    facilitator_clinics = ClinicRole.objects.filter(user=user, role=Role.FACILITATOR).values(
        "clinic_id"
    )
    member_clinics = ClinicRole.objects.filter(user=user, role=Role.MEMBER).values("clinic_id")
    facilitated_groups = Group.objects.filter(
        Q(lead_facilitator=user) | Q(co_facilitators=user), clinic_id__in=facilitator_clinics
    ).values("pk")
    enrolled_groups = Group.objects.filter(
        enrolments__member__user=user,
        enrolments__member__clinic_id__in=member_clinics,
        enrolments__status=EnrolmentStatus.ACTIVE,
    ).values("pk")
    substitute = SessionFacilitator.objects.filter(
        session_id=OuterRef("pk"),
        facilitator=user,
        session__group__clinic_id__in=facilitator_clinics,
    )
    taking_part = (
        Q(group_id__in=facilitated_groups) | Q(group_id__in=enrolled_groups) | Exists(substitute)
    )
    sessions = group_session_queryset_for(user).filter(taking_part).upcoming(now or timezone.now())
    return _with_representation(sessions, user)
