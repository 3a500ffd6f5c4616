"""Writes about waitlist offers: offering a freed seat, and accepting, declining or expiring
the offer.

The line is ordered by ``waitlisted_at``, then id. A freed seat is offered to the first
waitlisted enrolment that has no pending offer and has not passed on a seat in the current
round; the offer reserves the seat until it is accepted, declined or expires
(``Clinic.waitlist_offer_days``). A member who declines or lets an offer expire stays
waitlisted and keeps their place, but is not offered again in the same round: a round starts
each time an active member leaves the group (at the enrolment's ``left_at``), so the next
freed seat is offered from the front of the line again.

Seats and locking as in :mod:`sessions.services._seats`.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.db import transaction
from django.utils import timezone

from members.models import User
from members.services import audit_log
from sessions.enums import WaitlistOfferStatus
from sessions.errors import EnrolmentError
from sessions.models import Enrolment, Group, WaitlistOffer
from sessions.selectors.enrolment import seats_taken, waitlist_next_in_line
from sessions.services._seats import (
    activate_or_waitlist,
    group_takes_members,
    local_date,
    lock_group,
    refuse_if_group_not_taking_members,
)
from sessions.services.notifications import waitlist_offer_notice_queue


def waitlist_offer_next(
    *, group: Group, by: User | None = None, now: dt.datetime | None = None
) -> WaitlistOffer | None:
    """Offer one free seat to the first eligible member in line, if there is both.

    ``by`` is the person who asked for it (None when a freed seat offers itself).

    A seat is free when active enrolments plus pending offers are below the maximum, so a
    seat already offered is never offered twice. Nothing is offered by an archived or
    adjourned group, nor by a closed group past forming. The offer expires after the
    clinic's ``waitlist_offer_days``. Runs inside the caller's transaction (as a savepoint)
    or its own, under the group lock; audit ``sessions.waitlist.offered``.
    """
    now = now or timezone.now()
    with transaction.atomic():
        group = lock_group(group.pk)
        if not group_takes_members(group):
            return None
        if seats_taken(group=group) >= group.max_size:
            return None
        enrolment = waitlist_next_in_line(group=group)
        if enrolment is None:
            return None
        offer = WaitlistOffer.objects.create(
            enrolment=enrolment,
            offered_at=now,
            expires_at=now + dt.timedelta(days=group.clinic.waitlist_offer_days),
        )
        waitlist_offer_notice_queue(offer=offer, now=now)
        audit_log(
            action="sessions.waitlist.offered",
            actor=by,
            clinic_id=group.clinic_id,
            obj=offer,
            data={
                "enrolment_id": enrolment.pk,
                "group_id": group.pk,
                "member_id": enrolment.member_id,
            },
        )
    return offer


def _offer_expire(offer: WaitlistOffer, *, group: Group) -> None:
    offer.status = WaitlistOfferStatus.EXPIRED
    offer.save(update_fields=["status"])
    audit_log(
        action="sessions.waitlist.expired",
        actor=None,
        clinic_id=group.clinic_id,
        obj=offer,
        data={"enrolment_id": offer.enrolment_id, "group_id": group.pk},
    )


def _locked_pending_offer(offer: WaitlistOffer) -> tuple[Group, WaitlistOffer]:
    group_id = Enrolment.objects.values_list("group_id", flat=True).get(pk=offer.enrolment_id)
    group = lock_group(group_id)
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
            refuse_if_group_not_taking_members(group, joining=True)
            enrolment = Enrolment.objects.select_for_update().get(pk=offer.enrolment_id)
            if seats_taken(group=group, excluding_offer=offer) >= group.max_size:
                # Only when the group's maximum was lowered after the offer was made.
                raise EnrolmentError("The group is full; this member stays on the waitlist.")
            audit_log(
                action="sessions.waitlist.accepted",
                actor=by,
                clinic_id=group.clinic_id,
                obj=offer,
                data={"enrolment_id": enrolment.pk, "group_id": group.pk},
            )
            return activate_or_waitlist(
                enrolment, group=group, by=by, now=now, today=local_date(group, now)
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
            clinic_id=group.clinic_id,
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
            group = lock_group(group_id)
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
