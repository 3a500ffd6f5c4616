"""Reads about enrolment: the roster, screenings, seats, the waitlist and agreements."""

from __future__ import annotations

import datetime as dt

from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from members.models import Member
from sessions.enums import (
    OPEN_ENROLMENT_STATUSES,
    EnrolmentStatus,
    ScreeningOutcome,
    WaitlistOfferStatus,
)
from sessions.models import (
    Agreement,
    AgreementAcceptance,
    Enrolment,
    Group,
    Screening,
    WaitlistOffer,
)
from sessions.permissions import (
    AnyUser,
    enrolment_queryset_for,
    group_queryset_for,
    managed_group_queryset_for,
    managed_member_queryset_for,
    member_queryset_for,
)

#: Screening outcomes that let a member take a seat without an admin's override.
SUITABLE_OUTCOMES = (ScreeningOutcome.SUITABLE, ScreeningOutcome.SUITABLE_WITH_SUPPORT)

#: Statuses of an enrolment that has ended: ``left_at`` is always set, ``left_on`` only when
#: the member had joined.
FINISHED_ENROLMENT_STATUSES = (
    EnrolmentStatus.COMPLETED,
    EnrolmentStatus.WITHDRAWN,
    EnrolmentStatus.DISCHARGED,
)


def enrolment_list(*, group: Group, statuses: tuple[str, ...] | None = None) -> QuerySet[Enrolment]:
    """The group's roster (every enrolment, or those in ``statuses``), in one query with
    the member and the group joined in."""
    enrolments = Enrolment.objects.filter(group=group).select_related(
        "member", "group", "group__clinic"
    )
    if statuses is not None:
        enrolments = enrolments.filter(status__in=statuses)
    return enrolments.order_by("status", "referred_at", "pk")


def screening_latest(*, enrolment: Enrolment) -> Screening | None:
    """The screening that counts: the most recent one of the enrolment, if any."""
    return Screening.objects.filter(enrolment=enrolment).order_by("-screened_at", "-pk").first()


def open_enrolment_get(*, group: Group, member: Member) -> Enrolment | None:
    """The member's enrolment in ``group`` that is still under way, if any."""
    return Enrolment.objects.filter(
        group=group, member=member, status__in=OPEN_ENROLMENT_STATUSES
    ).first()


def seats_taken(*, group: Group, excluding_offer: WaitlistOffer | None = None) -> int:
    """Active enrolments plus pending waitlist offers (a seat offered to the first in line
    is reserved for them until they answer or the offer expires), not counting
    ``excluding_offer`` (the seat its holder is about to take up).

    Exact only under the group's row lock; without it, it is a snapshot for display.
    """
    active = Enrolment.objects.filter(group=group, status=EnrolmentStatus.ACTIVE).count()
    offers = pending_offers(group=group)
    if excluding_offer is not None:
        offers = offers.exclude(pk=excluding_offer.pk)
    return active + offers.count()


def pending_offers(*, group: Group) -> QuerySet[WaitlistOffer]:
    return WaitlistOffer.objects.filter(
        enrolment__group=group, status=WaitlistOfferStatus.PENDING
    ).select_related("enrolment")


def pending_offer_get(*, enrolment: Enrolment) -> WaitlistOffer | None:
    """The enrolment's open waitlist offer (the seat reserved for it), if any."""
    return WaitlistOffer.objects.filter(
        enrolment=enrolment, status=WaitlistOfferStatus.PENDING
    ).first()


def waitlist(*, group: Group) -> QuerySet[Enrolment]:
    """The group's waitlisted enrolments in line order: first waitlisted first (then by id,
    for ties)."""
    return (
        Enrolment.objects.filter(group=group, status=EnrolmentStatus.WAITLISTED)
        .select_related("member")
        .order_by("waitlisted_at", "pk")
    )


def waitlist_round_start(*, group: Group) -> dt.datetime | None:
    """When the group's current offer round began: the last time an active member left
    (``left_at`` of the latest finished enrolment that had joined); None if no one has."""
    return Enrolment.objects.filter(
        group=group, status__in=FINISHED_ENROLMENT_STATUSES, joined_on__isnull=False
    ).aggregate(at=Max("left_at"))["at"]


def waitlist_next_in_line(*, group: Group) -> Enrolment | None:
    """The first waitlisted enrolment that has no pending offer and has not passed on a seat
    (declined it or let the offer expire) in the current round."""
    passed = WaitlistOffer.objects.filter(
        enrolment__group=group,
        status__in=(WaitlistOfferStatus.DECLINED, WaitlistOfferStatus.EXPIRED),
    )
    round_start = waitlist_round_start(group=group)
    if round_start is not None:
        passed = passed.filter(offered_at__gte=round_start)
    return (
        waitlist(group=group)
        .exclude(offers__status=WaitlistOfferStatus.PENDING)
        .exclude(pk__in=passed.values("enrolment_id"))
        .first()
    )


def waitlist_position(*, enrolment: Enrolment) -> int | None:
    """The enrolment's place in its group's line, counted from 1; None when not waitlisted."""
    enrolment = Enrolment.objects.only("status", "group_id", "waitlisted_at").get(pk=enrolment.pk)
    if enrolment.status != EnrolmentStatus.WAITLISTED or enrolment.waitlisted_at is None:
        return None
    ahead = (
        Enrolment.objects.filter(group_id=enrolment.group_id, status=EnrolmentStatus.WAITLISTED)
        .filter(
            Q(waitlisted_at__lt=enrolment.waitlisted_at)
            | Q(waitlisted_at=enrolment.waitlisted_at, pk__lt=enrolment.pk)
        )
        .count()
    )
    return ahead + 1


def agreement_current(*, group: Group) -> Agreement | None:
    """The latest published version of the group's agreement, if any."""
    return Agreement.objects.filter(group=group).order_by("-version").first()


def agreement_is_accepted(*, group: Group, member: Member) -> bool:
    """Whether the member accepted the group's CURRENT agreement version.

    False when the group has published no agreement: there is nothing accepted yet. An
    acceptance of an earlier version does not count once a new version is published.
    """
    current = agreement_current(group=group)
    if current is None:
        return False
    return AgreementAcceptance.objects.filter(agreement=current, member=member).exists()


# --------------------------------------------------------------------------- for the API


def _can_manage_member(user: AnyUser) -> Exists | Value:
    if not user.is_authenticated:
        return Value(False, output_field=BooleanField())
    return Exists(managed_member_queryset_for(user).filter(pk=OuterRef("pk")))


def member_list(
    *, user: AnyUser, q: str | None = None, group_id: int | None = None
) -> QuerySet[Member]:
    """The member records ``user`` may manage (:func:`managed_member_queryset_for`: staff
    only), optionally those whose preferred or legal name or e-mail contains ``q`` and those
    ever enrolled in the group ``group_id`` when ``user`` manages that group (another
    group's enrolments say nothing: the list is empty); in one query with the clinic joined
    in."""
    members = managed_member_queryset_for(user).select_related("clinic")
    if q:
        members = members.filter(
            Q(preferred_name__icontains=q) | Q(legal_name__icontains=q) | Q(email__icontains=q)
        )
    if group_id is not None:
        members = members.filter(
            pk__in=Enrolment.objects.filter(
                group_id=group_id, group__in=managed_group_queryset_for(user)
            ).values("member_id")
        )
    return members.annotate(can_manage=Value(True, output_field=BooleanField())).order_by(
        "preferred_name", "pk"
    )


def member_visible_list(*, user: AnyUser) -> QuerySet[Member]:
    """The member records ``user`` may read (:func:`member_queryset_for`: a member reads
    their own), each with ``can_manage``: whether ``user`` may change it."""
    return (
        member_queryset_for(user)
        .select_related("clinic")
        .annotate(can_manage=_can_manage_member(user))
        .order_by("preferred_name", "pk")
    )


def _waitlist_position() -> Case:
    # The same rule as :func:`waitlist_position`, as a subquery so a list needs no query
    # per row: the waitlisted enrolments of the group ahead in line, plus one.
    ahead = (
        Enrolment.objects.filter(group_id=OuterRef("group_id"), status=EnrolmentStatus.WAITLISTED)
        .filter(
            Q(waitlisted_at__lt=OuterRef("waitlisted_at"))
            | Q(waitlisted_at=OuterRef("waitlisted_at"), pk__lt=OuterRef("pk"))
        )
        .order_by()
        .values("group_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Case(
        When(
            status=EnrolmentStatus.WAITLISTED,
            waitlisted_at__isnull=False,
            then=Coalesce(Subquery(ahead, output_field=IntegerField()), 0) + 1,
        ),
        default=None,
        output_field=IntegerField(),
    )


def enrolment_scoped_list(
    *,
    user: AnyUser,
    group_id: int | None = None,
    member_id: int | None = None,
    status: str | None = None,
) -> QuerySet[Enrolment]:
    """The enrolments ``user`` may see (:func:`enrolment_queryset_for`), in one query with
    the group and member joined in and annotated with ``can_manage`` (``user`` runs the
    group: the staff view), ``waitlist_position`` (from 1, None unless waitlisted) and
    ``screening_outcome`` and ``screened_at`` of the latest screening (None if none; for
    the staff view only).
    """
    if user.is_authenticated:
        can_manage: Exists | Value = Exists(
            managed_group_queryset_for(user).filter(pk=OuterRef("group_id"))
        )
    else:
        can_manage = Value(False, output_field=BooleanField())
    latest = Screening.objects.filter(enrolment=OuterRef("pk")).order_by("-screened_at", "-pk")
    enrolments = (
        enrolment_queryset_for(user)
        .select_related("group", "member")
        .annotate(
            can_manage=can_manage,
            waitlist_position=_waitlist_position(),
            screening_outcome=Subquery(latest.values("outcome")[:1]),
            screened_at=Subquery(latest.values("screened_at")[:1]),
        )
    )
    if group_id is not None:
        enrolments = enrolments.filter(group_id=group_id)
    if member_id is not None:
        enrolments = enrolments.filter(member_id=member_id)
    if status:
        enrolments = enrolments.filter(status=status)
    return enrolments.order_by("referred_at", "pk")


def enrolment_group_choices(*, user: AnyUser) -> QuerySet[Group]:
    """The groups ``user`` may see, each with ``can_manage``: whether they may refer members
    to it (the rest are a 403, the groups they cannot see a "does not exist")."""
    if not user.is_authenticated:
        return Group.objects.none()
    return group_queryset_for(user).annotate(
        can_manage=Exists(managed_group_queryset_for(user).filter(pk=OuterRef("pk")))
    )


def screening_latest_detail(*, enrolment: Enrolment) -> Screening | None:
    """:func:`screening_latest` with who screened joined in, for display."""
    return (
        Screening.objects.filter(enrolment=enrolment)
        .select_related("screened_by")
        .order_by("-screened_at", "-pk")
        .first()
    )
