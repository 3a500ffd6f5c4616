"""Writes about people and clinics. Each function owns its transaction."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from members.audit_context import current_request_meta
from members.enums import Role
from members.models import ApiToken, AuditEntry, Clinic, ClinicRole, Member, User, UserManager


def audit_log(
    *,
    action: str,
    actor: User | None,
    clinic: Clinic | None = None,
    obj: models.Model | None = None,
    data: dict[str, Any] | None = None,
    clinic_id: int | None = None,
) -> AuditEntry:
    """Append one audit entry, with the current request's address and agent if any.

    Call it inside the service's own transaction, so the entry exists exactly when the
    change it records does. ``data`` must hold ids and codes, never names or notes. Give
    ``clinic_id`` instead of ``clinic`` when only the id is at hand.
    """
    meta = current_request_meta.get()
    return AuditEntry.objects.create(
        action=action,
        actor=actor,
        clinic_id=clinic.pk if clinic is not None else clinic_id,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        data=data or {},
        ip_address=meta.ip_address if meta else None,
        user_agent=meta.user_agent if meta else "",
    )


def member_record_viewed(*, member: Member, by: User) -> None:
    """Record that ``by`` read ``member``'s record (contact details included): the audit
    entry names the record by id, never its contents."""
    audit_log(
        action="members.member.viewed",
        actor=by,
        clinic_id=member.clinic_id,
        obj=member,
    )


def member_records_listed(
    *, members: Sequence[Member], by: User, obj: models.Model | None = None
) -> None:
    """Record that ``by`` was shown ``members``' records in a list (a page of the member
    list, a group's roster): one entry per clinic, naming the records by id only."""
    by_clinic: dict[int, list[int]] = {}
    for member in members:
        by_clinic.setdefault(member.clinic_id, []).append(member.pk)
    for clinic_id, member_ids in by_clinic.items():
        audit_log(
            action="members.member.listed",
            actor=by,
            clinic_id=clinic_id,
            obj=obj,
            data={"member_ids": member_ids},
        )


def user_get_or_create(*, email: str, full_name: str = "") -> tuple[User, bool]:
    """Find the account for ``email`` (any case) or create one without a usable password."""
    email = UserManager.normalize_email(email)
    with transaction.atomic():
        user = User.objects.filter(email__iexact=email).first()
        if user is not None:
            return user, False
        user = User.objects.create_user(email=email, password=None, full_name=full_name)
        return user, True


def clinic_role_grant(
    *, user: User, clinic: Clinic, role: Role, by: User | None = None
) -> ClinicRole:
    """Give ``user`` the ``role`` in ``clinic``; granting a role they hold changes nothing."""
    with transaction.atomic():
        clinic_role, created = ClinicRole.objects.get_or_create(user=user, clinic=clinic, role=role)
        if created:
            audit_log(
                action="members.role.granted",
                actor=by,
                clinic=clinic,
                obj=clinic_role,
                data={"user_id": user.pk, "role": str(role)},
            )
    return clinic_role


def api_token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_issue(*, user: User, name: str, by: User | None = None) -> tuple[ApiToken, str]:
    """Issue a personal API token for ``user``; returns the row and the clear token, which
    is never stored and cannot be shown again."""
    name = name.strip()
    if not name:
        raise ValueError("A token needs a name, so that you can tell your tokens apart.")
    raw = ApiToken.PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name[:100], prefix=raw[:10], digest=api_token_digest(raw)
        )
        audit_log(
            action="members.api_token.issued",
            actor=by or user,
            clinic=None,
            obj=token,
            data={"user_id": user.pk},
        )
    return token, raw


def api_token_revoke(*, token: ApiToken, by: User) -> ApiToken:
    """Revoke the token at once; revoking a revoked token changes nothing."""
    with transaction.atomic():
        changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        token.refresh_from_db(fields=["revoked_at"])
        if changed:
            audit_log(
                action="members.api_token.revoked",
                actor=by,
                clinic=None,
                obj=token,
                data={"user_id": token.user_id},
            )
    return token


#: The fields of a member record that its clinic's staff set and change. ``clinic``,
#: ``user`` and ``created_by`` are not among them: the clinic and author come from the
#: caller, and a login is linked by its own flow.
MEMBER_EDITABLE_FIELDS = (
    "preferred_name",
    "legal_name",
    "email",
    "phone",
    "emergency_contact_name",
    "emergency_contact_phone",
    "timezone",
    "reminders_enabled",
    "reminder_offsets",
    "quiet_hours",
)


#: Not validated by ``full_clean`` here: the services set them from objects the caller
#: already holds (or never change them), so checking that they exist would only cost queries.
_MEMBER_FIELDS_NOT_CLEANED = ("clinic", "user", "created_by")


def _refuse_unknown_member_fields(fields: dict[str, Any]) -> None:
    unknown = sorted(set(fields) - set(MEMBER_EDITABLE_FIELDS))
    if unknown:
        raise TypeError(f"Not editable on a member record: {', '.join(unknown)}.")


def member_create(*, clinic: Clinic, by: User, **fields: Any) -> Member:
    """Add a client record to ``clinic``, written by ``by`` (kept as ``created_by``).

    ``fields`` are among :data:`MEMBER_EDITABLE_FIELDS` (anything else is a TypeError, a
    programming error); the record is validated with ``full_clean`` (a Django
    ValidationError names the field). One transaction, with an audit entry holding ids only.
    """
    _refuse_unknown_member_fields(fields)
    member = Member(clinic=clinic, created_by=by, **fields)
    member.full_clean(exclude=_MEMBER_FIELDS_NOT_CLEANED)
    with transaction.atomic():
        member.save()
        audit_log(
            action="members.member.created",
            actor=by,
            clinic=clinic,
            obj=member,
            data={"member_id": member.pk},
        )
    return member


def member_update(*, member: Member, by: User, **fields: Any) -> Member:
    """Change the given fields of a client record (among :data:`MEMBER_EDITABLE_FIELDS`).

    Validated with ``full_clean``; a value equal to the stored one is not a change. Nothing
    changed → nothing is written. One transaction; the audit entry names the changed fields,
    never their values (contact details stay out of the log).
    """
    _refuse_unknown_member_fields(fields)
    changed = sorted(name for name, value in fields.items() if getattr(member, name) != value)
    if not changed:
        return member
    for name in changed:
        setattr(member, name, fields[name])
    member.full_clean(exclude=_MEMBER_FIELDS_NOT_CLEANED)
    with transaction.atomic():
        member.save(update_fields=[*changed, "updated_at"])
        audit_log(
            action="members.member.updated",
            actor=by,
            clinic_id=member.clinic_id,
            obj=member,
            data={"member_id": member.pk, "fields": changed},
        )
    return member
