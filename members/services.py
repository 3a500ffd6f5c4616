"""Writes about people and clinics. Each function owns its transaction."""

from __future__ import annotations

import hashlib
import secrets
import smtplib
from collections.abc import Collection, Iterable
from typing import Any

from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.core.mail import BadHeaderError, EmailMultiAlternatives
from django.db import IntegrityError, models, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from groupcare.errors import DomainError
from members.audit_chain import CHAINED_FIELDS, GENESIS, entry_digest
from members.audit_context import current_request_meta
from members.enums import STAFF_ROLES, Role
from members.models import (
    ApiToken,
    AuditChainHead,
    AuditEntry,
    Clinic,
    ClinicRole,
    Member,
    User,
    UserManager,
)
from members.selectors import user_is_staff

_IP_FIELD = AuditEntry._meta.get_field("ip_address")


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

    The entry is chained to the one before it (``members.audit_chain``): the chain head is
    locked, the entry inserted with its hash, the head moved on. That is 3 queries on
    every database (lock the head, insert, update the head); the caller's transaction is
    joined without a savepoint, so a failed audit write fails the caller's change too. The
    head stays locked until that transaction ends, so concurrent writers queue there
    instead of forking the chain: audit last, after the service's other locks.
    """
    meta = current_request_meta.get()
    ip_address = meta.ip_address if meta else None
    with transaction.atomic(savepoint=False):
        head = _audit_chain_head_locked()
        entry = AuditEntry(
            seq=head.seq + 1,
            at=timezone.now(),
            action=action,
            actor=actor,
            clinic_id=clinic.pk if clinic is not None else clinic_id,
            object_type=obj._meta.label_lower if obj is not None else "",
            object_id=str(obj.pk) if obj is not None else "",
            data=data or {},
            # As stored (IPv6 compressed), so that the hash matches what is read back.
            ip_address=_IP_FIELD.get_prep_value(ip_address),
            user_agent=meta.user_agent if meta else "",
            prev_hash=head.last_hash,
        )
        entry.entry_hash = entry_digest({name: getattr(entry, name) for name in CHAINED_FIELDS})
        entry.save(force_insert=True)
        head.seq, head.last_hash = entry.seq, entry.entry_hash
        head.save(update_fields=["seq", "last_hash"])
    return entry


def _audit_chain_head_locked() -> AuditChainHead:
    """The chain head, locked until the transaction ends.

    The migration creates it; it is only missing after the tables were flushed (a test
    database), and then the log is empty too and the chain starts again. A missing head
    with entries left is tampering (someone removed the head to hide removed entries):
    refused, so that ``audit_verify`` still reports it.

    Two writers may both find the head missing. Each tries to insert it in a savepoint;
    the second insert waits for the first writer's transaction, fails on the primary key
    once it commits, and the second writer then locks the head the first one created. Only
    the writer whose insert succeeded checks for orphaned entries, so a head created by a
    concurrent writer (with its first entry) is never mistaken for tampering.
    """
    try:
        return AuditChainHead.objects.select_for_update().get(pk=AuditChainHead.PK)
    except AuditChainHead.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            head = AuditChainHead.objects.create(pk=AuditChainHead.PK, seq=0, last_hash=GENESIS)
            if AuditEntry.objects.exists():
                # Raised inside the savepoint, so the new head is rolled back with it.
                raise AuditChainBrokenError(
                    "The audit log's chain head is missing while entries exist; run "
                    "`manage.py audit_verify`. Nothing more is written until it is restored."
                )
    except IntegrityError:
        return AuditChainHead.objects.select_for_update().get(pk=AuditChainHead.PK)
    return head


class AuditChainBrokenError(RuntimeError):
    """The audit chain cannot be continued safely: an operator must look."""


def member_data_viewed(
    *,
    by: User,
    action: str,
    clinic_id: int | None,
    member_ids: Iterable[int],
    obj: models.Model | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEntry | None:
    """Record that ``by`` was shown member data of one clinic: one audit entry ``action``
    (``members.member.viewed``, ``sessions.roster.viewed``…) naming the members by id in
    ``data["member_ids"]`` (sorted, never names), with the request's address and agent.

    Called by a view after it authorised the request and loaded what it shows, and only
    for a response that shows the data; ``member_ids`` come from the rows already loaded
    (no query of its own: one INSERT). A response that shows no member writes nothing.
    ``data`` adds ids and codes (never names or notes). No transaction of its own: a read
    changes nothing else for the entry to agree with.
    """
    ids = sorted(set(member_ids))
    if not ids:
        return None
    return audit_log(
        action=action,
        actor=by,
        clinic_id=clinic_id,
        obj=obj,
        data={**(data or {}), "member_ids": ids},
    )


def member_data_listed(
    *,
    by: User,
    action: str,
    members: Iterable[tuple[int, int]],
    obj: models.Model | None = None,
    data: dict[str, Any] | None = None,
) -> list[AuditEntry]:
    """:func:`member_data_viewed` for rows that may come from several clinics, as
    ``(clinic_id, member_id)`` pairs: one entry per clinic, so each clinic's audit log
    names its own members only (nothing crosses clinics). A request of one clinic, the
    norm, writes exactly one entry; a list showing nobody writes none."""
    by_clinic: dict[int, set[int]] = {}
    for clinic_id, member_id in members:
        by_clinic.setdefault(clinic_id, set()).add(member_id)
    entries = []
    for clinic_id in sorted(by_clinic):
        entry = member_data_viewed(
            by=by,
            action=action,
            clinic_id=clinic_id,
            member_ids=by_clinic[clinic_id],
            obj=obj,
            data=data,
        )
        if entry is not None:
            entries.append(entry)
    return entries


def member_record_viewed(
    *, member: Member, by: User, action: str = "members.member.viewed"
) -> None:
    """Record that ``by`` read ``member``'s record (contact details included): the audit
    entry names the record by id, never its contents."""
    member_data_viewed(
        by=by, action=action, clinic_id=member.clinic_id, member_ids=[member.pk], obj=member
    )


def member_records_listed(
    *,
    members: Iterable[Member],
    by: User,
    obj: models.Model | None = None,
    action: str = "members.member.listed",
) -> None:
    """Record that ``by`` was shown ``members``' records in a list (a page of the member
    list, the invitation form's choice of records): one entry per clinic (one for a page
    of one clinic), naming the records by id only."""
    member_data_listed(
        by=by,
        action=action,
        members=((member.clinic_id, member.pk) for member in members),
        obj=obj,
    )


def audit_log_viewed(*, by: User, clinic_ids: Iterable[int], members: Iterable[Member]) -> None:
    """Record that ``by`` read the audit log of ``clinic_ids`` (who did what to whom) with
    ``members`` named in its filter: ``members.audit.viewed``, one entry per clinic whose
    log or members were shown, naming its members by id (none when it has none)."""
    by_clinic: dict[int, set[int]] = {clinic_id: set() for clinic_id in clinic_ids}
    for member in members:
        by_clinic.setdefault(member.clinic_id, set()).add(member.pk)
    for clinic_id in sorted(by_clinic):
        audit_log(
            action="members.audit.viewed",
            actor=by,
            clinic_id=clinic_id,
            data={"member_ids": sorted(by_clinic[clinic_id])},
        )


def user_sessions_end_all(
    *, user: User, except_session_key: str | None = None, reason: str = "signed_out"
) -> int:
    """End every recorded signed-in session of ``user`` (allauth's user sessions) except
    ``except_session_key``, and return how many were ended.

    Each one's session data is deleted, so its next request is anonymous. Audited as
    ``members.user.signed_out_everywhere`` with the count and the ``reason``. Own
    transaction; idempotent (a second call ends nothing and records a count of 0).
    """
    with transaction.atomic():
        sessions = UserSession.objects.filter(user_id=user.pk)
        if except_session_key:
            sessions = sessions.exclude(session_key=except_session_key)
        ended = 0
        for user_session in list(sessions):
            user_session.end()
            ended += 1
        audit_log(
            action="members.user.signed_out_everywhere",
            actor=user,
            obj=user,
            data={"count": ended, "reason": reason},
        )
    return ended


def _sessions_end_if_any(*, user: User, reason: str) -> None:
    if UserSession.objects.filter(user_id=user.pk).exists():
        user_sessions_end_all(user=user, reason=reason)


def user_sessions_end_if_became_staff(*, user: User, was_staff: bool) -> bool:
    """After ``user``'s roles or Django-admin access changed other than through
    ``clinic_role_grant`` (the Django admin's user page): if they are staff now and were not,
    end their sessions once the change commits, as ``clinic_role_grant`` does, because
    whether a session needs MFA, and its logoff limits, were decided at its sign-in.
    Returns whether they became staff."""
    if was_staff or not user_is_staff(user=user):
        return False
    transaction.on_commit(lambda: _sessions_end_if_any(user=user, reason="became_staff"))
    return True


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
    """Give ``user`` the ``role`` in ``clinic``; granting a role they hold changes nothing.

    A person who becomes staff is signed out everywhere (after commit): whether a session
    must use MFA, and its logoff limits, were decided when it signed in as a member."""
    with transaction.atomic():
        became_staff = (
            role in STAFF_ROLES
            and not (user.is_staff or user.is_superuser)
            and not ClinicRole.objects.filter(user=user, role__in=STAFF_ROLES).exists()
        )
        clinic_role, created = ClinicRole.objects.get_or_create(user=user, clinic=clinic, role=role)
        if created and became_staff:
            transaction.on_commit(lambda: _sessions_end_if_any(user=user, reason="became_staff"))
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


class MFARequiredError(DomainError):
    """Only an account with two-factor authentication may hold API tokens: a token must
    not be a way around the second factor."""

    code = "mfa_required"
    status = 403


def api_token_issue(*, user: User, name: str, by: User | None = None) -> tuple[ApiToken, str]:
    """Issue a personal API token for ``user``; returns the row and the clear token, which
    is never stored and cannot be shown again.

    Refused (:class:`MFARequiredError`) unless ``user`` has a second factor; tokens stop
    working if it is removed (see ``BearerTokenAuthentication``)."""
    from members.mfa import user_has_mfa

    name = name.strip()
    if not name:
        raise ValueError("A token needs a name, so that you can tell your tokens apart.")
    if not user_has_mfa(user):
        raise MFARequiredError(
            "Set up two-factor authentication before creating API tokens: a token is "
            "only issued to an account that signs in with a second factor."
        )
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


def api_tokens_revoke_all(*, user: User, by: User, reason: str) -> int:
    """Revoke every active token of ``user`` at once (one audit entry); returns how many."""
    with transaction.atomic():
        token_ids = list(
            ApiToken.objects.select_for_update()
            .filter(user=user, revoked_at__isnull=True)
            .values_list("pk", flat=True)
        )
        if not token_ids:
            return 0
        ApiToken.objects.filter(pk__in=token_ids).update(revoked_at=timezone.now())
        audit_log(
            action="members.api_token.revoked_all",
            actor=by,
            obj=user,
            data={"user_id": user.pk, "token_ids": token_ids, "reason": reason},
        )
    return len(token_ids)


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


class MemberAnonymisedError(DomainError):
    """The record was anonymised: it stays, for the counts, but nobody changes it again."""

    code = "member_anonymised"


ANONYMISED_REFUSAL = "This member record is anonymised; it can no longer be changed or used."


def member_lock_unless_anonymised(*, member: Member) -> None:
    """Lock ``member``'s row for the caller's transaction and refuse an anonymised record.

    Anonymisation holds the same lock, so a change that waited for it sees the record as
    anonymised and is refused, rather than writing a name back into a cleared row."""
    anonymised_at = (
        Member.objects.select_for_update()
        .filter(pk=member.pk)
        .values_list("anonymised_at", flat=True)
        .first()
    )
    if anonymised_at is not None:
        raise MemberAnonymisedError(ANONYMISED_REFUSAL)


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
    changed → nothing is written. An anonymised record is refused
    (:class:`MemberAnonymisedError`). One transaction; the audit entry names the changed
    fields, never their values (contact details stay out of the log).
    """
    _refuse_unknown_member_fields(fields)
    changed = sorted(name for name, value in fields.items() if getattr(member, name) != value)
    if not changed:
        return member
    for name in changed:
        setattr(member, name, fields[name])
    member.full_clean(exclude=_MEMBER_FIELDS_NOT_CLEANED)
    member.updated_at = timezone.now()
    with transaction.atomic():
        # One statement that writes only a record not anonymised: it waits for an
        # anonymisation holding the row and then finds the record anonymised, so a form
        # opened before never writes a name back into a cleared record.
        written = Member.objects.filter(pk=member.pk, anonymised_at__isnull=True).update(
            **{name: getattr(member, name) for name in changed}, updated_at=member.updated_at
        )
        if not written:
            raise MemberAnonymisedError(ANONYMISED_REFUSAL)
        audit_log(
            action="members.member.updated",
            actor=by,
            clinic_id=member.clinic_id,
            obj=member,
            data={"member_id": member.pk, "fields": changed},
        )
    return member


# --- Staff and members: invitations, roles, deactivation ------------------------------


class PeopleError(DomainError):
    """A change to who may sign in, or with which role, that the clinic's rules refuse."""

    code = "people_refused"


class InvitationError(PeopleError):
    code = "invitation_refused"


class InvitationMailError(InvitationError):
    """The account and role were saved, but the e-mail could not be handed to the mail
    server; re-sending the invitation tries again."""

    code = "invitation_not_sent"
    status = 503


def invitation_url(*, user: User) -> str:
    """An absolute link to allauth's "set a new password" page for ``user``.

    The key comes from allauth's own password-reset token generator: it holds the user's
    password hash and last login, so it stops working once used (the password changes and
    the invitee is signed in), and after ``PASSWORD_RESET_TIMEOUT``.
    """
    key = default_token_generator.make_token(user)
    path = reverse(
        "account_reset_password_from_key",
        kwargs={"uidb36": user_pk_to_url_str(user), "key": key},
    )
    return f"{settings.GROUPCARE_BASE_URL.rstrip('/')}{path}"


def _invitation_mail_send(*, clinic: Clinic, user: User) -> None:
    """E-mail ``user`` a fresh invitation link. The wording names the clinic only: no group,
    no role, nothing about care."""
    timeout_days = max(1, round(settings.PASSWORD_RESET_TIMEOUT / 86400))
    context = {
        "clinic_name": clinic.name,
        "recipient_name": user.get_short_name() if user.full_name else "",
        "invitation_url": invitation_url(user=user),
        "valid_days": timeout_days,
        "base_url": settings.GROUPCARE_BASE_URL,
    }
    subject = " ".join(render_to_string("emails/invitation_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("emails/invitation.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        # The address alone: a display name adds nothing the body lacks and is one more
        # header to keep clean.
        to=[user.email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(render_to_string("emails/invitation.html", context), "text/html")
    try:
        message.send()
    except (smtplib.SMTPException, OSError, BadHeaderError, ValueError) as exc:
        raise InvitationMailError(
            "The account is ready, but the invitation e-mail could not be sent. "
            "Try “Re-send invitation” on the people page in a few minutes."
        ) from exc


def _link_member(*, member: Member, user: User, clinic: Clinic, by: User) -> None:
    if member.clinic_id != clinic.pk:
        raise InvitationError("Choose a member record of this clinic.")
    try:
        member_lock_unless_anonymised(member=member)
    except MemberAnonymisedError as exc:
        raise InvitationError(exc.message) from exc
    if member.user_id == user.pk:
        return
    if member.user_id is not None:
        raise InvitationError("This member record already has a login of someone else.")
    if Member.objects.filter(clinic=clinic, user=user).exclude(pk=member.pk).exists():
        raise InvitationError("This person already has a member record in this clinic.")
    Member.objects.filter(pk=member.pk).update(user=user, updated_at=timezone.now())
    member.user = user
    audit_log(
        action="members.member.login_linked",
        actor=by,
        clinic=clinic,
        obj=member,
        data={"member_id": member.pk, "user_id": user.pk},
    )


def invitation_send(
    *,
    clinic: Clinic,
    email: str,
    full_name: str,
    role: Role,
    by: User,
    member: Member | None = None,
    preferred_name: str = "",
    legal_name: str = "",
) -> User:
    """Invite ``email`` to ``clinic`` with ``role`` and e-mail them a single-use link that
    sets their password and signs them in.

    Finds the account (any case) or creates one without a usable password, grants the role
    and, for a member, links ``member`` (a record of this clinic without a login) or, when
    None, creates a record (``preferred_name``/``legal_name``, defaulting to the full name)
    or keeps the person's existing record. One transaction for the writes, with audit
    entries holding ids only; the e-mail goes out after it, so a mail failure
    (:class:`InvitationMailError`) leaves a complete account that a re-send reaches.
    Re-inviting someone re-sends a fresh link. A deactivated account is refused: reactivate
    it first.
    """
    role = Role(role)
    full_name = full_name.strip()
    with transaction.atomic():
        user, created = user_get_or_create(email=email, full_name=full_name)
        if not user.is_active:
            raise InvitationError(
                "This account is deactivated. Reactivate it on the people page first."
            )
        if not created and not user.full_name and full_name:
            User.objects.filter(pk=user.pk).update(full_name=full_name)
            user.full_name = full_name
        clinic_role_grant(user=user, clinic=clinic, role=role, by=by)
        if role == Role.MEMBER:
            if member is not None:
                _link_member(member=member, user=user, clinic=clinic, by=by)
            elif not Member.objects.filter(clinic=clinic, user=user).exists():
                name = full_name or user.full_name or user.email.split("@")[0]
                new = member_create(
                    clinic=clinic,
                    by=by,
                    preferred_name=(preferred_name.strip() or name.split(" ")[0])[:100],
                    legal_name=(legal_name.strip() or name)[:200],
                    email=user.email,
                )
                Member.objects.filter(pk=new.pk).update(user=user)
        audit_log(
            action="members.invitation.sent",
            actor=by,
            clinic=clinic,
            obj=user,
            data={"user_id": user.pk, "role": str(role), "new_account": created},
        )
    _invitation_mail_send(clinic=clinic, user=user)
    return user


def invitation_resend(*, clinic: Clinic, user: User, by: User) -> None:
    """E-mail ``user`` (who holds a role in ``clinic``) a fresh invitation link; earlier
    links keep working until one is used or they expire. Audited as
    ``members.invitation.resent``."""
    if not user.is_active:
        raise InvitationError("This account is deactivated. Reactivate it first.")
    if not ClinicRole.objects.filter(user=user, clinic=clinic).exists():
        raise InvitationError("This person has no role in this clinic.")
    with transaction.atomic():
        audit_log(
            action="members.invitation.resent",
            actor=by,
            clinic=clinic,
            obj=user,
            data={"user_id": user.pk},
        )
    _invitation_mail_send(clinic=clinic, user=user)


def _refuse_outside_admin_reach(*, user: User, by: User) -> None:
    """An account is global: only someone who administers every clinic where it holds a
    role may switch it off or on, so one clinic cannot lock a person out of another."""
    outside = ClinicRole.objects.filter(user=user).exclude(
        clinic_id__in=ClinicRole.objects.filter(user=by, role=Role.ADMIN).values("clinic_id")
    )
    if outside.exists():
        raise PeopleError(
            "This account is also used outside the clinics you administer, so it cannot be "
            "switched off from here. Remove their roles in your clinic instead."
        )


def _refuse_last_admin(*, user: User, clinic_ids: Collection[int]) -> None:
    """Refuse when ``user`` is the only active admin of one of ``clinic_ids``. The admin
    rows are locked so that two admins cannot remove each other at the same time."""
    for clinic_id in sorted(clinic_ids):
        admins = list(
            ClinicRole.objects.select_for_update()
            .filter(clinic_id=clinic_id, role=Role.ADMIN, user__is_active=True)
            .values_list("user_id", flat=True)
        )
        if admins == [user.pk]:
            raise PeopleError(
                "This is the clinic's only admin. Make someone else admin first, so that "
                "the clinic is never left without one."
            )


def user_deactivate(*, user: User, clinic: Clinic, by: User) -> User:
    """Switch ``user``'s account off: every page and API token refuses them from their
    next request (the authentication backends reject inactive accounts), and they cannot
    sign in. Records and history stay. Refused for oneself, for the clinic's only admin,
    and for an account that also works in a clinic ``by`` does not administer.
    Deactivating an inactive account changes nothing."""
    if user.pk == by.pk:
        raise PeopleError("You cannot deactivate your own account. Ask another admin.")
    _refuse_outside_admin_reach(user=user, by=by)
    with transaction.atomic():
        admin_of = set(
            ClinicRole.objects.filter(user=user, role=Role.ADMIN).values_list(
                "clinic_id", flat=True
            )
        )
        _refuse_last_admin(user=user, clinic_ids=admin_of)
        changed = User.objects.filter(pk=user.pk, is_active=True).update(is_active=False)
        user.is_active = False
        if changed:
            audit_log(
                action="members.user.deactivated",
                actor=by,
                clinic=clinic,
                obj=user,
                data={"user_id": user.pk},
            )
    return user


def user_reactivate(*, user: User, clinic: Clinic, by: User) -> User:
    """Let ``user`` sign in again with their password. Same reach rule as
    :func:`user_deactivate`; reactivating an active account changes nothing."""
    _refuse_outside_admin_reach(user=user, by=by)
    with transaction.atomic():
        changed = User.objects.filter(pk=user.pk, is_active=False).update(is_active=True)
        user.is_active = True
        if changed:
            audit_log(
                action="members.user.reactivated",
                actor=by,
                clinic=clinic,
                obj=user,
                data={"user_id": user.pk},
            )
    return user


def clinic_role_set(*, user: User, clinic: Clinic, roles: Collection[Role], by: User) -> set[Role]:
    """Make ``user``'s staff roles in ``clinic`` exactly ``roles`` (admin, facilitator or
    both; none removes them from the clinic's staff). A member role is not touched here.

    Refused: a member role among ``roles``, removing one's own admin role, and removing
    the admin role of the clinic's only active admin. One transaction; each role granted
    or revoked is audited (``members.role.granted`` / ``members.role.revoked``).
    """
    wanted = {Role(role) for role in roles}
    if not wanted <= STAFF_ROLES:
        raise PeopleError("Only the staff roles are set here: clinic admin and facilitator.")
    with transaction.atomic():
        held = {
            Role(role)
            for role in ClinicRole.objects.filter(
                user=user, clinic=clinic, role__in=STAFF_ROLES
            ).values_list("role", flat=True)
        }
        if Role.ADMIN in held - wanted:
            if user.pk == by.pk:
                raise PeopleError("You cannot remove your own admin role. Ask another admin.")
            _refuse_last_admin(user=user, clinic_ids=[clinic.pk])
        for role in sorted(held - wanted):
            clinic_role = ClinicRole.objects.get(user=user, clinic=clinic, role=role)
            audit_log(
                action="members.role.revoked",
                actor=by,
                clinic=clinic,
                obj=clinic_role,
                data={"user_id": user.pk, "role": str(role)},
            )
            clinic_role.delete()
        for role in sorted(wanted - held):
            clinic_role_grant(user=user, clinic=clinic, role=role, by=by)
    return wanted
