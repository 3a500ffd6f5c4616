"""Reads about people and clinics, scoped to the user asking."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from members.audit_chain import CHAINED_FIELDS, GENESIS, entry_digest
from members.enums import STAFF_ROLES, Role
from members.models import (
    ApiToken,
    AuditChainHead,
    AuditEntry,
    Clinic,
    ClinicRole,
    Member,
    User,
)


def clinic_role_list(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[ClinicRole]:
    """The user's own roles, with their clinics, in a stable order; none for anonymous."""
    if not user.is_authenticated:
        return ClinicRole.objects.none()
    return (
        ClinicRole.objects.filter(user=user)
        .select_related("clinic")
        .order_by("clinic__name", "role")
    )


def api_token_list(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[ApiToken]:
    """The user's own API tokens, newest first, revoked ones included."""
    if not user.is_authenticated:
        return ApiToken.objects.none()
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-pk")


def admin_clinic_list(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Clinic]:
    """The clinics ``user`` administers (none for anonymous or a deactivated account)."""
    if not user.is_authenticated or not user.is_active:
        return Clinic.objects.none()
    return Clinic.objects.filter(
        pk__in=ClinicRole.objects.filter(user=user, role=Role.ADMIN).values("clinic_id")
    ).order_by("name", "pk")


def clinic_staff_list(
    *, clinic: Clinic, role: Role | None = None, name: str = ""
) -> QuerySet[User]:
    """The clinic's staff (admins and facilitators), by name, each with ``staff_roles``
    (their roles in this clinic, prefetched), optionally of one ``role`` and with
    ``name`` in their name or e-mail."""
    roles = [role] if role is not None else sorted(STAFF_ROLES)
    in_clinic = ClinicRole.objects.filter(clinic=clinic, role__in=roles)
    users = User.objects.filter(pk__in=in_clinic.values("user_id"))
    if name:
        users = users.filter(Q(full_name__icontains=name) | Q(email__icontains=name))
    return users.order_by("full_name", "email", "pk").prefetch_related(
        Prefetch(
            "clinic_roles",
            queryset=ClinicRole.objects.filter(clinic=clinic, role__in=STAFF_ROLES).order_by(
                "role"
            ),
            to_attr="staff_roles",
        )
    )


def clinic_member_list(*, clinic: Clinic, name: str = "") -> QuerySet[Member]:
    """The clinic's member records by preferred name, with their login (if any), optionally
    with ``name`` in the preferred or legal name or e-mail. Showing them is a read of the
    records: the caller audits it with ``member_records_listed``."""
    members = Member.objects.filter(clinic=clinic).select_related("user")
    if name:
        members = members.filter(
            Q(preferred_name__icontains=name)
            | Q(legal_name__icontains=name)
            | Q(email__icontains=name)
        )
    return members.order_by("preferred_name", "pk")


def clinic_person(*, clinic: Clinic, user_id: int) -> User | None:
    """The account ``user_id`` if it holds any role in ``clinic`` (None otherwise)."""
    return User.objects.filter(
        pk=user_id, pk__in=ClinicRole.objects.filter(clinic=clinic).values("user_id")
    ).first()


def invitable_member_list(*, clinics: QuerySet[Clinic]) -> QuerySet[Member]:
    """Member records of ``clinics`` without a login, which an invitation may link (an
    anonymised record never gets one again)."""
    return (
        Member.objects.filter(clinic__in=clinics, user__isnull=True, anonymised_at__isnull=True)
        .select_related("clinic")
        .order_by("clinic__name", "preferred_name", "pk")
    )


def audit_actor_choices(*, clinics: QuerySet[Clinic]) -> QuerySet[User]:
    """Accounts holding a role in ``clinics``: whom the audit log may be filtered by."""
    return User.objects.filter(
        pk__in=ClinicRole.objects.filter(clinic__in=clinics).values("user_id")
    ).order_by("full_name", "email", "pk")


def _member_entries(member_id: int) -> Q:
    """Entries about one member record: the record itself, or naming it in ``data`` (as
    ``member_id``, or among a list's ``member_ids``)."""
    about = Q(object_type="members.member", object_id=str(member_id)) | Q(data__member_id=member_id)
    if connection.features.supports_json_field_contains:
        return about | Q(data__member_ids__contains=[member_id])
    # SQLite has no JSON containment; the list's JSON text, delimited on both sides, does.
    return about | Q(data__member_ids__regex=rf"[\[, ]{member_id}[,\]]")


def _entries_about_any(member_ids: Collection[int]) -> Q:
    """Entries about any of ``member_ids``; none for an empty collection."""
    about = Q(pk__in=[])
    for member_id in member_ids:
        about |= _member_entries(member_id)
    return about


def audit_entries_about_members(*, member_ids: list[int]) -> QuerySet[AuditEntry]:
    """Every audit entry about one of ``member_ids`` (as :func:`audit_entry_list` filters
    by member), oldest first, with the actor and clinic joined in. One query."""
    return (
        AuditEntry.objects.filter(_entries_about_any(member_ids))
        .select_related("actor", "clinic")
        .order_by("at", "pk")
    )


def audit_entry_list(
    *,
    clinics: QuerySet[Clinic],
    actor_id: int | None = None,
    action: str = "",
    member_ids: Collection[int] | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> QuerySet[AuditEntry]:
    """Audit entries of ``clinics``, newest first, with their actor and clinic; filtered
    by actor, a dotted action prefix (``sessions.enrolment`` matches
    ``sessions.enrolment.activated``), member records (entries about any of
    ``member_ids``; an empty collection matches nothing), and ``start <= at < end``."""
    entries = AuditEntry.objects.filter(clinic__in=clinics).select_related("actor", "clinic")
    if actor_id is not None:
        entries = entries.filter(actor_id=actor_id)
    if action:
        prefix = action.rstrip(".")
        entries = entries.filter(Q(action=prefix) | Q(action__startswith=f"{prefix}."))
    if member_ids is not None:
        entries = entries.filter(_entries_about_any(member_ids))
    if start is not None:
        entries = entries.filter(at__gte=start)
    if end is not None:
        entries = entries.filter(at__lt=end)
    return entries.order_by("-at", "-pk")


def clinic_staff_roles(*, user: User, clinic: Clinic) -> set[str]:
    """``user``'s staff roles in ``clinic`` (admin, facilitator)."""
    return set(
        ClinicRole.objects.filter(user=user, clinic=clinic, role__in=STAFF_ROLES).values_list(
            "role", flat=True
        )
    )


def clinic_member_choices(*, clinics: QuerySet[Clinic]) -> QuerySet[Member]:
    """Every member record of ``clinics``, by preferred name: whom a filter may name."""
    return Member.objects.filter(clinic__in=clinics).order_by("preferred_name", "pk")


#: At most this many member records answer a search by name.
MEMBER_SEARCH_LIMIT = 20


def clinic_member_search(
    *, clinics: QuerySet[Clinic], text: str, limit: int = MEMBER_SEARCH_LIMIT
) -> list[Member]:
    """Member records of ``clinics`` whose preferred or legal name contains ``text`` (any
    case), or whose record number it is (``12`` or ``#12``); by preferred name, at most
    ``limit``. One query."""
    text = text.strip()
    if not text:
        return []
    match = Q(preferred_name__icontains=text) | Q(legal_name__icontains=text)
    number = text.removeprefix("#")
    if number.isdigit() and len(number) < 19:
        match |= Q(pk=int(number))
    return list(
        Member.objects.filter(match, clinic__in=clinics)
        .select_related("clinic")
        .order_by("preferred_name", "pk")[:limit]
    )


def staff_role_exists(user_ref: str = "pk") -> Exists:
    """True where the row's user (``user_ref``, an outer field) holds an admin or
    facilitator role in any clinic: the role half of :func:`user_is_staff`, to annotate."""
    return Exists(ClinicRole.objects.filter(user_id=OuterRef(user_ref), role__in=STAFF_ROLES))


def user_is_staff(*, user: AbstractBaseUser) -> bool:
    """Whether ``user`` counts as staff anywhere: an admin or facilitator role in any clinic,
    or access to the Django admin. One query at most."""
    if getattr(user, "is_staff", False) or getattr(user, "is_superuser", False):
        return True
    return ClinicRole.objects.filter(user_id=user.pk, role__in=STAFF_ROLES).exists()


@dataclass(frozen=True)
class AuditChainCheck:
    """The outcome of ``audit_chain_verify``: how many entries were found intact and, if
    the chain breaks, the first entry that breaks it (``None`` when there is none, e.g. a
    head claiming entries that are all gone), why (``reason``) and how (``detail``)."""

    entries: int
    head_seq: int
    head_hash: str
    broken_at: int | None = None
    reason: str = ""
    detail: str = ""

    @property
    def intact(self) -> bool:
        return not self.reason


def _audit_chain_head() -> tuple[int, str] | None:
    return (
        AuditChainHead.objects.filter(pk=AuditChainHead.PK).values_list("seq", "last_hash").first()
    )


def audit_chain_verify(*, chunk_size: int = 5000) -> AuditChainCheck:
    """Walk the whole audit log in chain order and report the first break, if any.

    Each entry's hash is recomputed, its ``seq`` must follow the one before it and its
    ``prev_hash`` must be that entry's hash; the chain head must match the last entry.
    Reads with one streamed query (constant memory) and two small ones, no query per
    entry. Safe while entries are being appended: the head is read before and after the
    walk, and entries committed in between count as neither missing nor extra.
    """
    head = _audit_chain_head()
    head_seq, head_hash = head if head is not None else (0, GENESIS)
    head_reached = head_seq == 0 and head_hash == GENESIS
    count, prev_seq, prev_hash, last_pk = 0, 0, GENESIS, None
    rows = (
        AuditEntry.objects.order_by("seq")
        .values_list("pk", "entry_hash", *CHAINED_FIELDS)
        .iterator(chunk_size=chunk_size)
    )

    def broken(pk: int | None, reason: str, detail: str) -> AuditChainCheck:
        return AuditChainCheck(count, head_seq, head_hash, pk, reason, detail)

    for pk, entry_hash, *chained in rows:
        values = dict(zip(CHAINED_FIELDS, chained, strict=True))
        seq = values["seq"]
        if seq != prev_seq + 1:
            return broken(pk, "missing before", f"its seq is {seq}, the one before is {prev_seq}")
        if entry_digest(values) != entry_hash:
            return broken(pk, "altered", "its contents do not match its hash")
        if values["prev_hash"] != prev_hash:
            return broken(pk, "altered before", "it does not link to the hash of the entry before")
        if seq == head_seq:
            head_reached = entry_hash == head_hash
        count, prev_seq, prev_hash, last_pk = count + 1, seq, entry_hash, pk

    if not head_reached:
        return broken(
            last_pk,
            "head mismatch",
            f"the chain head is at seq {head_seq}, the last entry at seq {prev_seq}"
            if prev_seq < head_seq
            else f"the chain head's hash is not that of the entry at seq {head_seq}",
        )
    head_after = _audit_chain_head()
    if head_after is None and count:
        return broken(last_pk, "head mismatch", "the chain head is missing")
    if head_after is not None and head_after[0] < prev_seq:
        return broken(
            last_pk,
            "head mismatch",
            f"the chain head is at seq {head_after[0]}, the last entry at seq {prev_seq}",
        )
    return AuditChainCheck(count, head_seq, head_hash)
