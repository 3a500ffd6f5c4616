"""Writes about a group's agreement: publishing a new version and a member's acceptance.

Both run under the group lock (:func:`sessions.services._seats.lock_group`), which orders
version numbers and acceptances against enrolments leaving the group.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from members.models import Member, User
from members.services import audit_log
from sessions.enums import AcceptanceMethod, GroupStatus
from sessions.errors import AgreementError
from sessions.models import Agreement, AgreementAcceptance, Group
from sessions.permissions import can_manage_group
from sessions.selectors.enrolment import agreement_current, open_enrolment_get
from sessions.services._seats import lock_group


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
        group = lock_group(group.pk)
        if group.status == GroupStatus.ARCHIVED:
            raise AgreementError("This group is archived; its agreement can no longer change.")
        latest = Agreement.objects.filter(group=group).aggregate(v=Max("version"))["v"] or 0
        agreement = Agreement.objects.create(
            group=group, version=latest + 1, text=text, created_by=by
        )
        audit_log(
            action="sessions.agreement.published",
            actor=by,
            clinic_id=group.clinic_id,
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
        group = lock_group(agreement.group_id)
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
            clinic_id=group.clinic_id,
            obj=acceptance,
            data={
                "group_id": group.pk,
                "member_id": member.pk,
                "version": agreement.version,
                "method": method,
            },
        )
    return acceptance
