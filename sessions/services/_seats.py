"""Shared by the enrolment, waitlist and agreement services: the group lock and taking a seat.

Seats. ``active`` enrolments plus pending waitlist offers never exceed ``Group.max_size``:
every service that can take or free a seat locks the group row first (:func:`lock_group`),
then counts, then writes, in one transaction. The group lock is always taken before any
enrolment or offer lock, so the services cannot deadlock one another.

This module imports no other service module, so :mod:`sessions.services.enrolment` and
:mod:`sessions.services.waitlist` can both build on it without importing each other in a
circle.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.utils import timezone

from members.models import User
from members.services import audit_log
from sessions.enums import EnrolmentPolicy, EnrolmentStatus, GroupStatus, Stage, WaitlistOfferStatus
from sessions.errors import GroupClosedError
from sessions.models import Enrolment, Group
from sessions.selectors.enrolment import pending_offer_get, seats_taken
from sessions.services.notifications import reminders_plan_group


def lock_group(group_id: int) -> Group:
    """Lock the group row for the rest of the transaction; every seat change starts here."""
    return Group.objects.select_for_update().get(pk=group_id)


def local_date(group: Group, now: dt.datetime) -> dt.date:
    return timezone.localdate(now, zoneinfo.ZoneInfo(group.clinic.timezone))


def refuse_if_group_not_taking_members(group: Group, *, joining: bool) -> None:
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


def group_takes_members(group: Group) -> bool:
    try:
        refuse_if_group_not_taking_members(group, joining=True)
    except GroupClosedError:
        return False
    return True


def activate_or_waitlist(
    enrolment: Enrolment, *, group: Group, by: User, now: dt.datetime, today: dt.date
) -> Enrolment:
    """Seat the (locked) enrolment if a seat is free, else put it in line. Under the lock."""
    own_offer = pending_offer_get(enrolment=enrolment)
    if seats_taken(group=group, excluding_offer=own_offer) < group.max_size:
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
            clinic_id=group.clinic_id,
            obj=enrolment,
            data={"group_id": group.pk, "member_id": enrolment.member_id},
        )
        reminders_plan_group(group_id=group.pk, now=now)
    elif enrolment.status != EnrolmentStatus.WAITLISTED:
        enrolment.status = EnrolmentStatus.WAITLISTED
        enrolment.waitlisted_at = now
        enrolment.save(update_fields=["status", "waitlisted_at", "updated_at"])
        audit_log(
            action="sessions.enrolment.waitlisted",
            actor=by,
            clinic_id=group.clinic_id,
            obj=enrolment,
            data={"group_id": group.pk, "member_id": enrolment.member_id, "reason": "full"},
        )
    return enrolment
