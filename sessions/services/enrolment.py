"""Writes about enrolment: referral, screening, seats and the waitlist, leaving, agreements.

Seats. ``active`` enrolments plus pending waitlist offers never exceed ``Group.max_size``:
every service that can take or free a seat locks the group row first
(``Group.objects.select_for_update().get(pk=…)``), then counts, then writes, in one
transaction. The group lock is always taken before any enrolment or offer lock, so the
services cannot deadlock one another.

Waitlist. The line is ordered by ``waitlisted_at``, then id. A freed seat is offered to the
first waitlisted enrolment that has no pending offer and has not passed on a seat in the
current round; the offer reserves the seat until it is accepted, declined or expires
(``Clinic.waitlist_offer_days``). A member who declines or lets an offer expire stays
waitlisted and keeps their place, but is not offered again in the same round: a round
starts each time an active member leaves the group (their enrolment is closed), so the
next freed seat is offered from the front of the line again.

Leaving. ``left_on`` is an exclusive local date: ``left_on = today`` means the member is
not expected at any session from today on (today's included). Pass ``today`` = tomorrow to
keep them on today's register.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from members.models import Member, User
from members.permissions import is_clinic_admin
from members.services import audit_log
from sessions.enums import (
    OPEN_ENROLMENT_STATUSES,
    AcceptanceMethod,
    EnrolmentPolicy,
    EnrolmentStatus,
    Finding,
    GroupStatus,
    ScreeningOutcome,
    Stage,
    WaitlistOfferStatus,
)
from sessions.errors import (
    AgreementError,
    EnrolmentError,
    GroupClosedError,
    ScreeningRequiredError,
)
from sessions.models import (
    Agreement,
    AgreementAcceptance,
    Enrolment,
    Group,
    Screening,
    WaitlistOffer,
)
from sessions.permissions import can_manage_group
from sessions.selectors.enrolment import (
    FINISHED_ENROLMENT_STATUSES,
    SUITABLE_OUTCOMES,
    agreement_current,
    open_enrolment_get,
    screening_latest,
    waitlist,
)

# --------------------------------------------------------------------------- helpers


def _lock_group(group_id: int) -> Group:
    """Lock the group row for the rest of the transaction; every seat change starts here."""
    return Group.objects.select_for_update().get(pk=group_id)


def _local_date(group: Group, now: dt.datetime) -> dt.date:
    return timezone.localdate(now, zoneinfo.ZoneInfo(group.clinic.timezone))


def _refuse_if_group_not_taking_members(group: Group, *, joining: bool) -> None:
    """Archived and adjourned groups take no one; a closed group seats new members only
    while forming (``joining``: the member would take a seat or wait for one)."""
    if group.status == GroupStatus.ARCHIVED:
        raise GroupClosedError("This group is archived and cannot take new members.")
    if group.stage == Stage.ADJOURNING:
        raise GroupClosedError("An adjourned group cannot take new members.")
    if (
        joining
        and group.enrolment_policy == EnrolmentPolicy.CLOSED
        and group.stage != Stage.FORMING
    ):
        raise GroupClosedError(
            "This is a closed group: it takes new members only while forming "
            f"(it is now {Stage(group.stage).label.lower()})."
        )


def _group_takes_members(group: Group) -> bool:
    try:
        _refuse_if_group_not_taking_members(group, joining=True)
    except GroupClosedError:
        return False
    return True


def _refuse_if_facilitator(group: Group, member: Member) -> None:
    # A facilitator is never a member of a group they run (a dual relationship).
    if member.user_id is None:
        return
    if (
        member.user_id == group.lead_facilitator_id
        or group.co_facilitators.filter(pk=member.user_id).exists()
    ):
        raise EnrolmentError("A facilitator of this group cannot be enrolled in it as a member.")


def _seats_taken(group: Group, *, excluding_offer: WaitlistOffer | None = None) -> int:
    """Active enrolments plus pending offers (reserved seats). Call under the group lock."""
    active = Enrolment.objects.filter(group=group, status=EnrolmentStatus.ACTIVE).count()
    offers = WaitlistOffer.objects.filter(
        enrolment__group=group, status=WaitlistOfferStatus.PENDING
    )
    if excluding_offer is not None:
        offers = offers.exclude(pk=excluding_offer.pk)
    return active + offers.count()


def _pending_offer(enrolment: Enrolment) -> WaitlistOffer | None:
    return WaitlistOffer.objects.filter(
        enrolment=enrolment, status=WaitlistOfferStatus.PENDING
    ).first()


def _screening_override(
    enrolment: Enrolment, *, group: Group, by: User, override_reason: str
) -> bool:
    """Check the screening rule; return True when an admin's override is being used now.

    The latest screening must be suitable (with or without a support plan), or an admin's
    override must be on record or given now with a reason.
    """
    latest = screening_latest(enrolment=enrolment)
    if latest is not None and latest.outcome in SUITABLE_OUTCOMES:
        return False
    if enrolment.screening_override_reason and not override_reason:
        return False
    if override_reason:
        if not is_clinic_admin(by, group.clinic):
            raise ScreeningRequiredError("Only a clinic admin may override the screening.")
        return True
    if latest is None:
        raise ScreeningRequiredError(
            "This member has no screening yet; record a screening before they join."
        )
    raise ScreeningRequiredError(
        "This member was screened not suitable; a clinic admin may override with a reason."
    )


def _activate_or_waitlist(
    enrolment: Enrolment, *, group: Group, by: User, now: dt.datetime, today: dt.date
) -> Enrolment:
    """Seat the (locked) enrolment if a seat is free, else put it in line. Under the lock."""
    own_offer = _pending_offer(enrolment)
    if _seats_taken(group, excluding_offer=own_offer) < group.max_size:
        enrolment.status = EnrolmentStatus.ACTIVE
        enrolment.joined_on = today
        enrolment.left_on = None
        enrolment.save(update_fields=["status", "joined_on", "left_on", "updated_at"])
        if own_offer is not None:
            own_offer.status = WaitlistOfferStatus.ACCEPTED
            own_offer.responded_at = now
            own_offer.save(update_fields=["status", "responded_at"])
        audit_log(
            action="sessions.enrolment.activated",
            actor=by,
            clinic=group.clinic,
            obj=enrolment,
            data={"group_id": group.pk, "member_id": enrolment.member_id},
        )
    elif enrolment.status != EnrolmentStatus.WAITLISTED:
        enrolment.status = EnrolmentStatus.WAITLISTED
        enrolment.waitlisted_at = now
        enrolment.save(update_fields=["status", "waitlisted_at", "updated_at"])
        audit_log(
            action="sessions.enrolment.waitlisted",
            actor=by,
            clinic=group.clinic,
            obj=enrolment,
            data={"group_id": group.pk, "member_id": enrolment.member_id, "reason": "full"},
        )
    return enrolment


def _withdraw_pending_offer(
    enrolment: Enrolment, *, group: Group, by: User | None, now: dt.datetime
) -> bool:
    """Give back the seat reserved for an enrolment that is closing; True if there was one."""
    offer = _pending_offer(enrolment)
    if offer is None:
        return False
    offer.status = WaitlistOfferStatus.DECLINED
    offer.responded_at = now
    offer.save(update_fields=["status", "responded_at"])
    audit_log(
        action="sessions.waitlist.declined",
        actor=by,
        clinic=group.clinic,
        obj=offer,
        data={"enrolment_id": enrolment.pk, "reason": "enrolment_closed"},
    )
    return True


# --------------------------------------------------------------------------- referral


def enrolment_refer(
    *, group: Group, member: Member, by: User, now: dt.datetime | None = None
) -> Enrolment:
    """Refer a member of the group's clinic to the group (status ``referred``).

    Refuses a member of another clinic, an archived or adjourned group, a member who
    facilitates the group, and a second open enrolment of the same member in the group
    (checked first; the partial unique constraint catches a concurrent duplicate). One
    transaction, with an audit entry.
    """
    now = now or timezone.now()
    with transaction.atomic():
        group = Group.objects.select_related("clinic").get(pk=group.pk)
        if member.clinic_id != group.clinic_id:
            raise EnrolmentError("This member is not a client of the group's clinic.")
        _refuse_if_group_not_taking_members(group, joining=False)
        _refuse_if_facilitator(group, member)
        duplicate = "This member already has an open enrolment in this group."
        existing = open_enrolment_get(group=group, member=member)
        if existing is not None:
            raise EnrolmentError(duplicate, conflict_id=existing.pk)
        try:
            with transaction.atomic():
                enrolment = Enrolment.objects.create(
                    group=group, member=member, status=EnrolmentStatus.REFERRED, referred_at=now
                )
        except IntegrityError as exc:
            # A concurrent referral won the race; the constraint refused ours.
            existing = open_enrolment_get(group=group, member=member)
            if existing is None:
                raise
            raise EnrolmentError(duplicate, conflict_id=existing.pk) from exc
        audit_log(
            action="sessions.enrolment.referred",
            actor=by,
            clinic=group.clinic,
            obj=enrolment,
            data={"group_id": group.pk, "member_id": member.pk},
        )
    return enrolment


# --------------------------------------------------------------------------- screening


def screening_record(
    *,
    enrolment: Enrolment,
    by: User,
    findings: Mapping[str, tuple[str, str]],
    outcome: str,
    support_plan: str = "",
    now: dt.datetime | None = None,
) -> Screening:
    """Record a suitability screening of an open enrolment.

    ``findings`` maps each of ``Screening.AREAS`` to ``(finding, note)``. "Suitable with
    support" needs a support plan. A referred enrolment moves to ``screening``; a "not
    suitable" outcome changes no status by itself (activation then needs an admin's
    override). The latest screening is the one that counts. One transaction; the audit
    entry holds the outcome code only, never the clinical notes or findings.
    """
    now = now or timezone.now()
    unknown = sorted(set(findings) - set(Screening.AREAS))
    if unknown:
        raise EnrolmentError(f"Unknown screening area: {', '.join(unknown)}.")
    missing = [area for area in Screening.AREAS if area not in findings]
    if missing:
        raise EnrolmentError(f"A screening records all four areas; missing: {', '.join(missing)}.")
    for area, (finding, _note) in findings.items():
        if finding not in Finding.values:
            raise EnrolmentError(
                f"'{finding}' is not a finding for {area} "
                f"(use one of: {', '.join(Finding.values)})."
            )
    if outcome not in ScreeningOutcome.values:
        raise EnrolmentError(
            f"'{outcome}' is not a screening outcome "
            f"(use one of: {', '.join(ScreeningOutcome.values)})."
        )
    support_plan = support_plan.strip()
    if outcome == ScreeningOutcome.SUITABLE_WITH_SUPPORT and not support_plan:
        raise EnrolmentError("Describe the support plan for a member found suitable with support.")

    fields: dict[str, str] = {}
    for area, (finding, note) in findings.items():
        fields[area] = finding
        fields[f"{area}_note"] = note.strip()

    with transaction.atomic():
        enrolment = (
            Enrolment.objects.select_for_update()
            .select_related("group__clinic")
            .get(pk=enrolment.pk)
        )
        if enrolment.status not in OPEN_ENROLMENT_STATUSES:
            raise EnrolmentError(
                f"This enrolment is {enrolment.get_status_display().lower()}; "
                "it can no longer be screened."
            )
        screening = Screening.objects.create(
            enrolment=enrolment,
            outcome=outcome,
            support_plan=support_plan,
            screened_by=by,
            screened_at=now,
            **fields,
        )
        if enrolment.status == EnrolmentStatus.REFERRED:
            enrolment.status = EnrolmentStatus.SCREENING
            enrolment.save(update_fields=["status", "updated_at"])
        audit_log(
            action="sessions.screening.recorded",
            actor=by,
            clinic=enrolment.group.clinic,
            obj=screening,
            data={"enrolment_id": enrolment.pk, "outcome": outcome},
        )
    return screening


# --------------------------------------------------------------------------- seats


def enrolment_activate(
    *,
    enrolment: Enrolment,
    by: User,
    override_reason: str = "",
    today: dt.date | None = None,
) -> Enrolment:
    """Give the member a seat, or put them in line when the group is full.

    Needs the latest screening to be suitable (with or without support), or a clinic admin's
    override with a reason (recorded on the enrolment; a recorded override keeps counting).
    Refuses an archived or adjourned group, and a closed group past forming.

    In one transaction: lock the group row, count active enrolments plus pending offers; if
    a seat is free the enrolment becomes active with ``joined_on = today`` (the clinic's local
    date unless given), otherwise it is waitlisted with ``waitlisted_at = now`` and returned
    as such (a full group is not an error). A waitlisted enrolment with a pending offer uses
    its reserved seat (the offer is marked accepted). Audit entries:
    ``sessions.enrolment.activated`` / ``.waitlisted`` / ``.screening_overridden``.
    """
    override_reason = override_reason.strip()
    now = timezone.now()
    with transaction.atomic():
        group = _lock_group(enrolment.group_id)
        enrolment = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
        if enrolment.status == EnrolmentStatus.ACTIVE:
            raise EnrolmentError("This member is already active in the group.")
        if enrolment.status not in (
            EnrolmentStatus.REFERRED,
            EnrolmentStatus.SCREENING,
            EnrolmentStatus.WAITLISTED,
        ):
            raise EnrolmentError(
                f"This enrolment is {enrolment.get_status_display().lower()}; "
                "refer the member again to enrol them."
            )
        _refuse_if_group_not_taking_members(group, joining=True)
        _refuse_if_facilitator(group, enrolment.member)
        overriding = _screening_override(
            enrolment, group=group, by=by, override_reason=override_reason
        )
        if overriding:
            enrolment.screening_override_reason = override_reason
            enrolment.screening_override_by = by
            enrolment.save(
                update_fields=["screening_override_reason", "screening_override_by", "updated_at"]
            )
            # The reason is free text and may be clinical: it stays on the enrolment only.
            audit_log(
                action="sessions.enrolment.screening_overridden",
                actor=by,
                clinic=group.clinic,
                obj=enrolment,
                data={"group_id": group.pk, "member_id": enrolment.member_id},
            )
        return _activate_or_waitlist(
            enrolment,
            group=group,
            by=by,
            now=now,
            today=today or _local_date(group, now),
        )


def enrolment_waitlist(*, enrolment: Enrolment, by: User) -> Enrolment:
    """Put a referred or screened enrolment in line explicitly, even if a seat is free.

    The same rules as activation apply (screening or a recorded override; the group must
    take members). If a seat is free and the member is first eligible in line, the seat is
    offered to them at once, as for any freed seat. One transaction under the group lock.
    """
    now = timezone.now()
    with transaction.atomic():
        group = _lock_group(enrolment.group_id)
        enrolment = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
        if enrolment.status == EnrolmentStatus.WAITLISTED:
            raise EnrolmentError("This member is already on the waitlist.")
        if enrolment.status not in (EnrolmentStatus.REFERRED, EnrolmentStatus.SCREENING):
            raise EnrolmentError(
                f"This enrolment is {enrolment.get_status_display().lower()}; "
                "only a referred or screened member can be waitlisted."
            )
        _refuse_if_group_not_taking_members(group, joining=True)
        _refuse_if_facilitator(group, enrolment.member)
        _screening_override(enrolment, group=group, by=by, override_reason="")
        enrolment.status = EnrolmentStatus.WAITLISTED
        enrolment.waitlisted_at = now
        enrolment.save(update_fields=["status", "waitlisted_at", "updated_at"])
        audit_log(
            action="sessions.enrolment.waitlisted",
            actor=by,
            clinic=group.clinic,
            obj=enrolment,
            data={"group_id": group.pk, "member_id": enrolment.member_id, "reason": "explicit"},
        )
        waitlist_offer_next(group=group, now=now)
    return enrolment


# --------------------------------------------------------------------------- leaving


def _enrolment_close(
    *,
    enrolment: Enrolment,
    by: User,
    to: EnrolmentStatus,
    allowed: tuple[EnrolmentStatus, ...],
    action: str,
    today: dt.date | None,
) -> Enrolment:
    now = timezone.now()
    with transaction.atomic():
        group = _lock_group(enrolment.group_id)
        enrolment = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
        if enrolment.status not in allowed:
            raise EnrolmentError(
                f"This enrolment is {enrolment.get_status_display().lower()}; "
                f"it cannot be marked {to.label.lower()}."
            )
        today = today or _local_date(group, now)
        frees_seat = enrolment.status == EnrolmentStatus.ACTIVE
        if enrolment.joined_on is not None:
            if today < enrolment.joined_on:
                raise EnrolmentError(
                    f"The member joined on {enrolment.joined_on:%Y-%m-%d}; "
                    "they cannot leave before that date."
                )
            enrolment.left_on = today
        enrolment.status = to
        enrolment.save(update_fields=["status", "left_on", "updated_at"])
        frees_seat |= _withdraw_pending_offer(enrolment, group=group, by=by, now=now)
        audit_log(
            action=action,
            actor=by,
            clinic=group.clinic,
            obj=enrolment,
            data={
                "group_id": group.pk,
                "member_id": enrolment.member_id,
                "left_on": enrolment.left_on.isoformat() if enrolment.left_on else None,
            },
        )
        if frees_seat:
            # A fresh clock, not ``now``: the offer must not predate this enrolment's
            # ``updated_at``, which marks the start of a new offer round.
            waitlist_offer_next(group=group)
    return enrolment


def enrolment_withdraw(
    *, enrolment: Enrolment, by: User, today: dt.date | None = None, note: str = ""
) -> Enrolment:
    """The member leaves of their own accord (from any open status).

    ``left_on = today`` if they had joined (not expected from today on). A freed seat, or a
    seat that was reserved for them, is offered to the next in line in the same transaction.
    ``note`` is not stored yet: the enrolment has no field for it, and notes never go into
    the audit log.
    """
    return _enrolment_close(
        enrolment=enrolment,
        by=by,
        to=EnrolmentStatus.WITHDRAWN,
        allowed=OPEN_ENROLMENT_STATUSES,
        action="sessions.enrolment.withdrawn",
        today=today,
    )


def enrolment_complete(
    *, enrolment: Enrolment, by: User, today: dt.date | None = None, note: str = ""
) -> Enrolment:
    """An active member completes the group; as :func:`enrolment_withdraw` otherwise."""
    return _enrolment_close(
        enrolment=enrolment,
        by=by,
        to=EnrolmentStatus.COMPLETED,
        allowed=(EnrolmentStatus.ACTIVE,),
        action="sessions.enrolment.completed",
        today=today,
    )


def enrolment_discharge(
    *, enrolment: Enrolment, by: User, today: dt.date | None = None, note: str = ""
) -> Enrolment:
    """The clinic ends the member's place (from any open status); as
    :func:`enrolment_withdraw` otherwise."""
    return _enrolment_close(
        enrolment=enrolment,
        by=by,
        to=EnrolmentStatus.DISCHARGED,
        allowed=OPEN_ENROLMENT_STATUSES,
        action="sessions.enrolment.discharged",
        today=today,
    )


def enrolment_decline(*, enrolment: Enrolment, by: User) -> Enrolment:
    """The referral is declined (by the member or the clinic) before the member joined.

    Only a referred, screening or waitlisted enrolment; a seat reserved for it is offered to
    the next in line. One transaction under the group lock.
    """
    return _enrolment_close(
        enrolment=enrolment,
        by=by,
        to=EnrolmentStatus.DECLINED,
        allowed=(
            EnrolmentStatus.REFERRED,
            EnrolmentStatus.SCREENING,
            EnrolmentStatus.WAITLISTED,
        ),
        action="sessions.enrolment.declined",
        today=None,
    )


# --------------------------------------------------------------------------- waitlist offers


def _next_in_line(group: Group) -> Enrolment | None:
    """The first waitlisted enrolment with no pending offer that has not passed on a seat in
    the current round (since the last time an active member left)."""
    round_start = Enrolment.objects.filter(
        group=group, status__in=FINISHED_ENROLMENT_STATUSES, joined_on__isnull=False
    ).aggregate(at=Max("updated_at"))["at"]
    passed = WaitlistOffer.objects.filter(
        enrolment__group=group,
        status__in=(WaitlistOfferStatus.DECLINED, WaitlistOfferStatus.EXPIRED),
    )
    if round_start is not None:
        passed = passed.filter(offered_at__gte=round_start)
    return (
        waitlist(group=group)
        .exclude(offers__status=WaitlistOfferStatus.PENDING)
        .exclude(pk__in=passed.values("enrolment_id"))
        .first()
    )


def waitlist_offer_next(*, group: Group, now: dt.datetime | None = None) -> WaitlistOffer | None:
    """Offer one free seat to the first eligible member in line, if there is both.

    A seat is free when active enrolments plus pending offers are below the maximum, so a
    seat already offered is never offered twice. Nothing is offered by an archived or
    adjourned group, nor by a closed group past forming. The offer expires after the
    clinic's ``waitlist_offer_days``. Runs inside the caller's transaction (as a savepoint)
    or its own, under the group lock; audit ``sessions.waitlist.offered``.
    """
    now = now or timezone.now()
    with transaction.atomic():
        group = _lock_group(group.pk)
        if not _group_takes_members(group):
            return None
        if _seats_taken(group) >= group.max_size:
            return None
        enrolment = _next_in_line(group)
        if enrolment is None:
            return None
        offer = WaitlistOffer.objects.create(
            enrolment=enrolment,
            offered_at=now,
            expires_at=now + dt.timedelta(days=group.clinic.waitlist_offer_days),
        )
        audit_log(
            action="sessions.waitlist.offered",
            actor=None,
            clinic=group.clinic,
            obj=offer,
            data={"enrolment_id": enrolment.pk, "group_id": group.pk},
        )
    return offer


def _offer_expire(offer: WaitlistOffer, *, group: Group) -> None:
    offer.status = WaitlistOfferStatus.EXPIRED
    offer.save(update_fields=["status"])
    audit_log(
        action="sessions.waitlist.expired",
        actor=None,
        clinic=group.clinic,
        obj=offer,
        data={"enrolment_id": offer.enrolment_id, "group_id": group.pk},
    )


def _locked_pending_offer(offer: WaitlistOffer) -> tuple[Group, WaitlistOffer]:
    group_id = Enrolment.objects.values_list("group_id", flat=True).get(pk=offer.enrolment_id)
    group = _lock_group(group_id)
    offer = WaitlistOffer.objects.select_for_update().get(pk=offer.pk)
    if offer.status != WaitlistOfferStatus.PENDING:
        raise EnrolmentError(
            f"This offer is no longer open (it was {offer.get_status_display().lower()})."
        )
    return group, offer


def waitlist_offer_accept(
    *, offer: WaitlistOffer, by: User, now: dt.datetime | None = None
) -> Enrolment:
    """Take up the offered seat: the enrolment becomes active from the clinic's local date.

    Refuses an offer that is no longer pending, and a group that no longer takes members.
    An offer past its expiry is marked expired, the seat is offered to the next in line
    (that much is committed) and then the acceptance is refused. One transaction under the
    group lock; audit ``sessions.waitlist.accepted`` and ``sessions.enrolment.activated``.
    """
    now = now or timezone.now()
    expired_at: dt.datetime | None = None
    with transaction.atomic():
        group, offer = _locked_pending_offer(offer)
        if offer.expires_at <= now:
            _offer_expire(offer, group=group)
            waitlist_offer_next(group=group, now=now)
            expired_at = offer.expires_at
        else:
            _refuse_if_group_not_taking_members(group, joining=True)
            enrolment = Enrolment.objects.select_for_update().get(pk=offer.enrolment_id)
            if _seats_taken(group, excluding_offer=offer) >= group.max_size:
                # Only when the group's maximum was lowered after the offer was made.
                raise EnrolmentError("The group is full; this member stays on the waitlist.")
            audit_log(
                action="sessions.waitlist.accepted",
                actor=by,
                clinic=group.clinic,
                obj=offer,
                data={"enrolment_id": enrolment.pk, "group_id": group.pk},
            )
            return _activate_or_waitlist(
                enrolment, group=group, by=by, now=now, today=_local_date(group, now)
            )
    local_expiry = timezone.localtime(expired_at, zoneinfo.ZoneInfo(group.clinic.timezone))
    raise EnrolmentError(
        f"This offer expired on {local_expiry:%Y-%m-%d at %H:%M}; "
        "the seat has moved on to the next in line."
    )


def waitlist_offer_decline(
    *, offer: WaitlistOffer, by: User, now: dt.datetime | None = None
) -> WaitlistOffer:
    """Turn down the offered seat. The member stays waitlisted in their place but is not
    offered again in this round; the seat goes to the next in line. One transaction under
    the group lock; audit ``sessions.waitlist.declined``."""
    now = now or timezone.now()
    with transaction.atomic():
        group, offer = _locked_pending_offer(offer)
        offer.status = WaitlistOfferStatus.DECLINED
        offer.responded_at = now
        offer.save(update_fields=["status", "responded_at"])
        audit_log(
            action="sessions.waitlist.declined",
            actor=by,
            clinic=group.clinic,
            obj=offer,
            data={"enrolment_id": offer.enrolment_id, "group_id": group.pk},
        )
        waitlist_offer_next(group=group, now=now)
    return offer


def waitlist_offers_expire(*, now: dt.datetime | None = None) -> int:
    """Mark every pending offer past its expiry as expired and offer each seat to the next
    in line; return how many offers expired.

    For the periodic job. One transaction per group, under its lock; the status is claimed
    by a conditional update, so a second run (or a concurrent accept) never expires an offer
    twice. Audit ``sessions.waitlist.expired`` per offer.
    """
    now = now or timezone.now()
    group_ids = (
        WaitlistOffer.objects.filter(status=WaitlistOfferStatus.PENDING, expires_at__lte=now)
        .order_by()
        .values_list("enrolment__group_id", flat=True)
        .distinct()
    )
    expired = 0
    for group_id in sorted(set(group_ids)):
        with transaction.atomic():
            group = _lock_group(group_id)
            offers = list(
                WaitlistOffer.objects.filter(
                    enrolment__group=group,
                    status=WaitlistOfferStatus.PENDING,
                    expires_at__lte=now,
                )
            )
            for offer in offers:
                _offer_expire(offer, group=group)
            for _seat in offers:
                waitlist_offer_next(group=group, now=now)
            expired += len(offers)
    return expired


# --------------------------------------------------------------------------- agreements


def agreement_publish(*, group: Group, text: str, by: User) -> Agreement:
    """Publish a new version of the group's agreement (the previous version + 1).

    Members must accept the new version: earlier acceptances stay on record but no longer
    count. One transaction under the group lock, so two publications never race for a
    version number; audit ``sessions.agreement.published``.
    """
    text = text.strip()
    if not text:
        raise AgreementError("An agreement needs its text.")
    with transaction.atomic():
        group = _lock_group(group.pk)
        if group.status == GroupStatus.ARCHIVED:
            raise AgreementError("This group is archived; its agreement can no longer change.")
        latest = Agreement.objects.filter(group=group).aggregate(v=Max("version"))["v"] or 0
        agreement = Agreement.objects.create(
            group=group, version=latest + 1, text=text, created_by=by
        )
        audit_log(
            action="sessions.agreement.published",
            actor=by,
            clinic=group.clinic,
            obj=agreement,
            data={"group_id": group.pk, "version": agreement.version},
        )
    return agreement


def agreement_accept(
    *,
    agreement: Agreement,
    member: Member,
    by: User,
    method: str = AcceptanceMethod.ONLINE,
    now: dt.datetime | None = None,
) -> AgreementAcceptance:
    """Record the member's acceptance of the group's current agreement.

    Only the latest version can be accepted, by a member with an open enrolment in the
    group. "online" is the member's own act (``by`` is the member's login); "paper" records
    a signature on paper and must be entered by the group's facilitator or a clinic admin.
    Accepting again returns the existing acceptance (idempotent, also under a race). One
    transaction under the group lock; audit ``sessions.agreement.accepted``.
    """
    now = now or timezone.now()
    if method not in AcceptanceMethod.values:
        raise AgreementError(
            f"'{method}' is not a way to accept (use one of: {', '.join(AcceptanceMethod.values)})."
        )
    with transaction.atomic():
        group = _lock_group(agreement.group_id)
        agreement = Agreement.objects.get(pk=agreement.pk)
        current = agreement_current(group=group)
        if current is not None and current.pk != agreement.pk:
            raise AgreementError(
                f"Only the current version (v{current.version}) of this agreement can be "
                f"accepted, not v{agreement.version}."
            )
        if open_enrolment_get(group=group, member=member) is None:
            raise AgreementError("This member has no open enrolment in this group.")
        if method == AcceptanceMethod.ONLINE and (
            member.user_id is None or member.user_id != by.pk
        ):
            raise AgreementError(
                "An online acceptance must be made by the member themselves; "
                "staff record a paper signature instead."
            )
        if method == AcceptanceMethod.PAPER and not can_manage_group(by, group):
            raise AgreementError(
                "A paper signature must be recorded by the group's facilitator or a clinic admin."
            )
        existing = AgreementAcceptance.objects.filter(agreement=agreement, member=member).first()
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                acceptance = AgreementAcceptance.objects.create(
                    agreement=agreement,
                    member=member,
                    accepted_at=now,
                    method=method,
                    recorded_by=by,
                )
        except IntegrityError:
            # Accepted twice at once: the other request's row is the acceptance.
            return AgreementAcceptance.objects.get(agreement=agreement, member=member)
        audit_log(
            action="sessions.agreement.accepted",
            actor=by,
            clinic=group.clinic,
            obj=acceptance,
            data={
                "group_id": group.pk,
                "member_id": member.pk,
                "version": agreement.version,
                "method": method,
            },
        )
    return acceptance
