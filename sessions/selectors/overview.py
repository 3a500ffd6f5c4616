"""Reads of the groups overview: every group a member of staff runs, with its fill and how
its members have been coming lately, in a fixed number of queries however many groups.

The attendance figures are those of the stored weekly summaries
(:mod:`sessions.services.summaries`, made each Monday for the week before), so the overview
and the facilitators' e-mail never disagree:

- **attendance rate over the last weeks**: the members' attended sessions over their
  expected ones (excused and unrecorded left out), summed over the summaries of the last
  :data:`OVERVIEW_WEEKS` full weeks, as a whole percentage rounded half up; None when no
  session of the period counts (no summary, or every absence excused);
- **at risk**: the members marked at risk (two or more unexcused absences in a row) in the
  group's latest summary of that period; None when the period has no summary.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import (
    Case,
    Count,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, NullIf

from members.models import User
from sessions.enums import EnrolmentStatus
from sessions.models import AttendanceSummary, AttendanceSummaryMember, Enrolment, Group
from sessions.permissions import AnyUser, managed_group_queryset_for

#: How many full weeks (Monday to Sunday) the overview's attendance figures look back.
OVERVIEW_WEEKS = 8


def overview_period_start(*, today: dt.date, weeks: int = OVERVIEW_WEEKS) -> dt.date:
    """The Monday ``weeks`` full weeks before the week of ``today``."""
    this_monday = today - dt.timedelta(days=today.weekday())
    return this_monday - dt.timedelta(weeks=weeks)


def _count_of(queryset: QuerySet, *, by: str = "group_id") -> Coalesce:
    """The rows of ``queryset`` (filtered on an ``OuterRef``) counted in a subquery, 0 when
    there are none: one correlated subquery per figure, so no join multiplies another."""
    counted = queryset.order_by().values(by).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _summary_lines_sum(field: str, *, since: dt.date, before: dt.date) -> Subquery:
    lines = (
        AttendanceSummaryMember.objects.filter(
            summary__group_id=OuterRef("pk"),
            summary__week_start__gte=since,
            summary__week_start__lt=before,
        )
        .order_by()
        .values("summary__group_id")
        .annotate(total=Sum(field))
        .values("total")
    )
    return Subquery(lines, output_field=IntegerField())


def group_overview_list(
    *,
    user: AnyUser,
    today: dt.date,
    stage: str | None = None,
    facilitator: User | None = None,
) -> QuerySet[Group]:
    """The groups ``user`` runs (:func:`managed_group_queryset_for`: a clinic admin, every
    group of their clinics; a facilitator, the groups they lead or co-lead), by name, with
    their lead and co-facilitators loaded and these annotations:

    ``active_count`` and ``waitlist_count`` (enrolments in those statuses),
    ``attended_recent`` and ``expected_recent`` (the sums over the summary lines of the last
    :data:`OVERVIEW_WEEKS` full weeks before ``today``'s week, None without a summary),
    ``attendance_percent`` (whole percent, half up, None when nothing counts) and
    ``at_risk_count`` (members at risk in the latest summary of that period, None without
    one).

    Narrowed to ``stage`` and to the groups ``facilitator`` leads or co-leads when given.
    Two queries to evaluate (the groups, the co-facilitators), whatever their number; one
    more for a paginator's count.
    """
    since = overview_period_start(today=today)
    before = since + dt.timedelta(weeks=OVERVIEW_WEEKS)
    latest_summary = (
        AttendanceSummary.objects.filter(
            group_id=OuterRef("pk"), week_start__gte=since, week_start__lt=before
        )
        .order_by("-week_start")
        .values("pk")[:1]
    )
    at_risk = _count_of(
        AttendanceSummaryMember.objects.filter(
            summary_id=OuterRef("latest_summary_id"), at_risk=True
        ),
        by="summary_id",
    )
    groups = (
        managed_group_queryset_for(user)
        .annotate(
            active_count=_count_of(
                Enrolment.objects.filter(group_id=OuterRef("pk"), status=EnrolmentStatus.ACTIVE)
            ),
            waitlist_count=_count_of(
                Enrolment.objects.filter(group_id=OuterRef("pk"), status=EnrolmentStatus.WAITLISTED)
            ),
            attended_recent=_summary_lines_sum("sessions_attended", since=since, before=before),
            expected_recent=_summary_lines_sum("sessions_expected", since=since, before=before),
            latest_summary_id=Subquery(latest_summary),
        )
        .annotate(
            at_risk_count=Case(
                When(latest_summary_id__isnull=True, then=Value(None)),
                default=at_risk,
                output_field=IntegerField(null=True),
            ),
            # A whole percent rounded half up in integer arithmetic, the same on every
            # database: floor((200a + e) / 2e) = floor(100a/e + 1/2).
            attendance_percent=ExpressionWrapper(
                (F("attended_recent") * 200 + F("expected_recent"))
                / NullIf(F("expected_recent") * 2, Value(0)),
                output_field=IntegerField(null=True),
            ),
        )
        .select_related("lead_facilitator")
        .prefetch_related("co_facilitators")
        .order_by("name", "pk")
    )
    if stage:
        groups = groups.filter(stage=stage)
    if facilitator is not None:
        groups = groups.filter(
            pk__in=Group.objects.filter(
                Q(lead_facilitator=facilitator) | Q(co_facilitators=facilitator)
            ).values("pk")
        )
    return groups


def overview_facilitator_choices(*, user: AnyUser) -> QuerySet[User]:
    """Who leads or co-leads a group ``user`` runs: the overview's facilitator filter. One
    query."""
    groups = managed_group_queryset_for(user).values("pk")
    return (
        User.objects.filter(
            Q(pk__in=Group.objects.filter(pk__in=groups).values("lead_facilitator_id"))
            | Q(co_led_groups__in=groups)
        )
        .distinct()
        .order_by("full_name", "email", "pk")
    )
