"""Writes about enrolment: referral, screening, taking a seat or a place in line, leaving.

Seats and locking as in :mod:`sessions.services._seats`; a seat freed here is offered to the
next in line by :func:`sessions.services.waitlist.waitlist_offer_next`, in the same
transaction. Waitlist offers themselves are in :mod:`sessions.services.waitlist`, agreements
in :mod:`sessions.services.agreements`.

Leaving. ``left_on`` is an exclusive local date: ``left_on = today`` means the member is
not expected at any session from today on (today's included). Pass ``today`` = tomorrow to
keep them on today's register. ``left_at`` is the instant of leaving, the start of a new
waitlist offer round when the member was active.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from members.models import Member, User
from members.permissions import is_clinic_admin
from members.services import (
    audit_log,
    member_create,
    member_data_viewed,
    member_lock_unless_anonymised,
)
from sessions.enums import (
    OPEN_ENROLMENT_STATUSES,
    EnrolmentStatus,
    Finding,
    ScreeningOutcome,
    WaitlistOfferStatus,
)
from sessions.errors import EnrolmentError, ScreeningRequiredError
from sessions.models import Enrolment, Group, Screening
from sessions.selectors.enrolment import (
    FINISHED_ENROLMENT_STATUSES,
    SUITABLE_OUTCOMES,
    open_enrolment_get,
    pending_offer_get,
    screening_latest,
)
from sessions.services._seats import (
    activate_or_waitlist,
    local_date,
    lock_group,
    refuse_if_group_not_taking_members,
)
from sessions.services.notifications import reminders_plan_group
from sessions.services.waitlist import waitlist_offer_next

# --------------------------------------------------------------------------- helpers


def _refuse_if_facilitator(group: Group, member: Member) -> None:
    # A facilitator is never a member of a group they run (a dual relationship).
    if member.user_id is None:
        return
    if (
        member.user_id == group.lead_facilitator_id
        or group.co_facilitators.filter(pk=member.user_id).exists()
    ):
        raise EnrolmentError("A facilitator of this group cannot be enrolled in it as a member.")


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


def _withdraw_pending_offer(
    enrolment: Enrolment, *, group: Group, by: User | None, now: dt.datetime
) -> bool:
    """Give back the seat reserved for an enrolment that is closing; True if there was one."""
    offer = pending_offer_get(enrolment=enrolment)
    if offer is None:
        return False
    offer.status = WaitlistOfferStatus.DECLINED
    offer.responded_at = now
    offer.save(update_fields=["status", "responded_at"])
    audit_log(
        action="sessions.waitlist.declined",
        actor=by,
        clinic_id=group.clinic_id,
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
    facilitates the group, an anonymised record (checked under the member's row lock), and
    a second open enrolment of the same member in the group (checked first; the partial
    unique constraint catches a concurrent duplicate). One transaction, with an audit entry.
    """
    now = now or timezone.now()
    with transaction.atomic():
        group = Group.objects.select_related("clinic").get(pk=group.pk)
        if member.clinic_id != group.clinic_id:
            raise EnrolmentError("This member is not a client of the group's clinic.")
        refuse_if_group_not_taking_members(group, joining=False)
        _refuse_if_facilitator(group, member)
        # Under the member's row lock, which anonymisation holds while it checks that no
        # enrolment is open: a referral cannot slip in beside it.
        member_lock_unless_anonymised(member=member)
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
            clinic_id=group.clinic_id,
            obj=enrolment,
            data={"group_id": group.pk, "member_id": member.pk},
        )
    return enrolment


def enrolment_refer_new_member(
    *, group: Group, by: User, now: dt.datetime | None = None, **member_fields: Any
) -> Enrolment:
    """Create a member record in the group's clinic and refer it to the group, together:
    one transaction, so a refused referral leaves no record behind. ``member_fields`` are
    those of :func:`members.services.member_create`."""
    with transaction.atomic():
        member = member_create(clinic=group.clinic, by=by, **member_fields)
        return enrolment_refer(group=group, member=member, by=by, now=now)


# --------------------------------------------------------------------------- screening


def screening_viewed(*, screening: Screening, enrolment: Enrolment, by: User) -> None:
    """Record that ``by`` read ``enrolment``'s screening (clinical findings): by id, never
    its contents."""
    member_data_viewed(
        by=by,
        action="sessions.screening.viewed",
        clinic_id=enrolment.group.clinic_id,
        member_ids=[enrolment.member_id],
        obj=screening,
        data={"enrolment_id": enrolment.pk},
    )


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
            clinic_id=enrolment.group.clinic_id,
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
        group = lock_group(enrolment.group_id)
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
        refuse_if_group_not_taking_members(group, joining=True)
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
                clinic_id=group.clinic_id,
                obj=enrolment,
                data={"group_id": group.pk, "member_id": enrolment.member_id},
            )
        return activate_or_waitlist(
            enrolment,
            group=group,
            by=by,
            now=now,
            today=today or local_date(group, now),
        )


def enrolment_waitlist(*, enrolment: Enrolment, by: User) -> Enrolment:
    """Put a referred or screened enrolment in line explicitly, even if a seat is free.

    The same rules as activation apply (screening or a recorded override; the group must
    take members). If a seat is free and the member is first eligible in line, the seat is
    offered to them at once, as for any freed seat. One transaction under the group lock.
    """
    now = timezone.now()
    with transaction.atomic():
        group = lock_group(enrolment.group_id)
        enrolment = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
        if enrolment.status == EnrolmentStatus.WAITLISTED:
            raise EnrolmentError("This member is already on the waitlist.")
        if enrolment.status not in (EnrolmentStatus.REFERRED, EnrolmentStatus.SCREENING):
            raise EnrolmentError(
                f"This enrolment is {enrolment.get_status_display().lower()}; "
                "only a referred or screened member can be waitlisted."
            )
        refuse_if_group_not_taking_members(group, joining=True)
        _refuse_if_facilitator(group, enrolment.member)
        _screening_override(enrolment, group=group, by=by, override_reason="")
        enrolment.status = EnrolmentStatus.WAITLISTED
        enrolment.waitlisted_at = now
        enrolment.save(update_fields=["status", "waitlisted_at", "updated_at"])
        audit_log(
            action="sessions.enrolment.waitlisted",
            actor=by,
            clinic_id=group.clinic_id,
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
    note: str = "",
) -> Enrolment:
    """Close the enrolment as ``to``; a leave (withdrawn, completed, discharged) records
    ``left_at`` and the note. One transaction under the group lock."""
    with transaction.atomic():
        group = lock_group(enrolment.group_id)
        # Read the clock under the lock: when an active member leaves, ``left_at`` starts a
        # new offer round, and every offer of the round before was made by an earlier
        # holder of this lock, so it cannot count as made in the new round.
        now = timezone.now()
        enrolment = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
        if enrolment.status not in allowed:
            raise EnrolmentError(
                f"This enrolment is {enrolment.get_status_display().lower()}; "
                f"it cannot be marked {to.label.lower()}."
            )
        today = today or local_date(group, now)
        frees_seat = enrolment.status == EnrolmentStatus.ACTIVE
        if enrolment.joined_on is not None:
            if today < enrolment.joined_on:
                raise EnrolmentError(
                    f"The member joined on {enrolment.joined_on:%Y-%m-%d}; "
                    "they cannot leave before that date."
                )
            enrolment.left_on = today
        enrolment.status = to
        fields = ["status", "left_on", "updated_at"]
        if to in FINISHED_ENROLMENT_STATUSES:
            enrolment.left_at = now
            # Clinical free text: it stays on the enrolment, never in the audit entry.
            enrolment.leave_note = note.strip()
            fields += ["left_at", "leave_note"]
        enrolment.save(update_fields=fields)
        frees_seat |= _withdraw_pending_offer(enrolment, group=group, by=by, now=now)
        if enrolment.left_on is not None:
            reminders_plan_group(group_id=group.pk, now=now)
        audit_log(
            action=action,
            actor=by,
            clinic_id=group.clinic_id,
            obj=enrolment,
            data={
                "group_id": group.pk,
                "member_id": enrolment.member_id,
                "left_on": enrolment.left_on.isoformat() if enrolment.left_on else None,
            },
        )
        if frees_seat:
            waitlist_offer_next(group=group, now=now)
    return enrolment


def enrolment_withdraw(
    *, enrolment: Enrolment, by: User, today: dt.date | None = None, note: str = ""
) -> Enrolment:
    """The member leaves of their own accord (from any open status).

    ``left_on = today`` if they had joined (not expected from today on); ``left_at`` = now,
    which starts a new waitlist offer round if they were active. ``note`` is kept on the
    enrolment (``leave_note``) and never goes into the audit log. A freed seat, or a seat
    that was reserved for them, is offered to the next in line in the same transaction.
    """
    return _enrolment_close(
        enrolment=enrolment,
        by=by,
        to=EnrolmentStatus.WITHDRAWN,
        allowed=OPEN_ENROLMENT_STATUSES,
        action="sessions.enrolment.withdrawn",
        today=today,
        note=note,
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
        note=note,
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
        note=note,
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
