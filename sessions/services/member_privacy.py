"""A member's own data and the end of a record: the download of everything GroupCare holds
about a member (audited here, gathered by :mod:`sessions.selectors.member_data`) and the
anonymisation of a discharged member's record after the clinic's retention period.

Anonymising keeps the rows that the clinic's counts stand on (enrolments, agreement
acceptances, attendance, sent notifications, the audit log) and takes away who they were
about: the record's names and contact details, the free-text clinical notes written about
them, their login when it serves nothing else, and every link or token that still reaches
them.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from importlib import import_module

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.db.models.functions import Coalesce
from django.utils import timezone

from members.enums import STAFF_ROLES, Role
from members.models import ApiToken, ClinicRole, Member, User
from members.services import audit_log
from sessions.enums import OPEN_ENROLMENT_STATUSES, NotificationStatus
from sessions.errors import (
    AlreadyAnonymisedError,
    AnonymiseError,
    AnonymiseNotAllowedError,
    MemberStillEnrolledError,
    RetentionPeriodRunningError,
)
from sessions.models import (
    AttendanceChange,
    CalendarFeed,
    Enrolment,
    Notification,
    Screening,
)
from sessions.permissions import can_anonymise_member

#: What an anonymised record is called from then on. Names are not unique, so the record's
#: id keeps two anonymised members apart in a roster or an export (the id is in every
#: export already and says nothing about the person).
ANONYMISED_NAME = "Anonymised member #{pk}"

#: The e-mail address a deactivated login gets, so that the person's real address is free
#: for a new account. ``.invalid`` is reserved (RFC 2606): it can never be delivered to, and
#: it still passes Django's e-mail validation, so the row can be saved in the admin site.
ANONYMISED_EMAIL = "anonymised-{pk}@anonymised.invalid"


# --------------------------------------------------------------------------- download


def member_data_exported(*, members: Sequence[Member], by: User) -> None:
    """Record that ``by`` downloaded everything GroupCare holds about ``members`` (their
    own records): one ``members.member.data_exported`` entry per clinic, ids only, so each
    clinic's audit log shows it."""
    by_clinic: dict[int, list[int]] = {}
    for member in members:
        by_clinic.setdefault(member.clinic_id, []).append(member.pk)
    with transaction.atomic():
        for clinic_id, member_ids in sorted(by_clinic.items()):
            audit_log(
                action="members.member.data_exported",
                actor=by,
                clinic_id=clinic_id,
                obj=by,
                data={"member_ids": member_ids},
            )


# --------------------------------------------------------------------------- anonymise


def member_anonymise_available_at(*, member: Member) -> dt.datetime:
    """The instant from which ``member`` may be anonymised once every enrolment has ended:
    the latest end of an enrolment (when it was left or, for a declined referral, last
    changed), or the record's creation when it never had one, plus the retention period."""
    latest_end = Enrolment.objects.filter(member_id=member.pk).aggregate(
        end=Max(Coalesce("left_at", "updated_at"))
    )["end"]
    start = latest_end or member.created_at
    return start + dt.timedelta(days=settings.GROUPCARE_RETENTION_DAYS)


def member_anonymise_refusal(
    *, member: Member, now: dt.datetime | None = None
) -> AnonymiseError | None:
    """Why ``member`` may not be anonymised now (the error the service would raise), or
    None when it may. Read-only: the confirmation page shows it before anyone presses a
    button; the service asks again under the row lock."""
    now = now or timezone.now()
    if member.anonymised_at is not None:
        return AlreadyAnonymisedError("This member record is already anonymised.")
    open_enrolment = (
        Enrolment.objects.filter(member_id=member.pk, status__in=OPEN_ENROLMENT_STATUSES)
        .order_by("pk")
        .first()
    )
    if open_enrolment is not None:
        return MemberStillEnrolledError(
            f"This member still has an enrolment that is "
            f"{open_enrolment.get_status_display().lower()}. Every enrolment must have "
            "ended (completed, withdrawn, discharged or declined) before the record can be "
            "anonymised.",
            conflict_id=open_enrolment.pk,
        )
    available_at = member_anonymise_available_at(member=member)
    if now < available_at:
        tz = zoneinfo.ZoneInfo(member.clinic.timezone)
        return RetentionPeriodRunningError(
            f"The clinic keeps a record for {settings.GROUPCARE_RETENTION_DAYS} days after "
            "the member's last enrolment ended. This record can be anonymised from "
            f"{available_at.astimezone(tz):%Y-%m-%d %H:%M} ({member.clinic.timezone})."
        )
    return None


def _login_close(*, user: User, now: dt.datetime) -> dict[str, int]:
    """Switch off a login that served only the anonymised record: no sign-in, no password,
    no address, no second factor, no token, no calendar link, no open session."""
    user.is_active = False
    user.set_unusable_password()
    user.email = ANONYMISED_EMAIL.format(pk=user.pk)
    user.full_name = ""
    user.save(update_fields=["is_active", "password", "email", "full_name"])
    EmailAddress.objects.filter(user=user).delete()
    Authenticator.objects.filter(user=user).delete()
    tokens = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
    feeds = CalendarFeed.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
    # The session list holds the person's addresses and browsers; the sessions themselves
    # end once the transaction has committed (a cache-backed store is not transactional).
    session_keys = list(UserSession.objects.filter(user=user).values_list("session_key", flat=True))
    UserSession.objects.filter(user=user).delete()

    def end_sessions() -> None:
        store = import_module(settings.SESSION_ENGINE).SessionStore
        for key in session_keys:
            store().delete(key)

    transaction.on_commit(end_sessions)
    return {"api_tokens_revoked": tokens, "calendar_feeds_revoked": feeds}


def member_anonymise(*, member: Member, by: User, now: dt.datetime | None = None) -> Member:
    """Take the identity out of a discharged member's record after the retention period.

    Refused (an :class:`AnonymiseError` naming the rule) unless ``by`` is an admin of the
    member's clinic, every enrolment of the member has ended, the latest end (or the
    record's creation, without enrolments) is at least ``GROUPCARE_RETENTION_DAYS`` ago,
    and the record is not anonymised already.

    Clears the names (the record is called :data:`ANONYMISED_NAME`), contact details,
    emergency contact, time zone and reminders; the free-text notes on the member's
    enrolments, screenings and attendance changes; revokes the record's own calendar link;
    deletes the notifications still to send and blanks the error text (which may quote the
    address) of the others. The login is unlinked and loses its member role in this clinic;
    when it has no other member record and no staff role it is closed as well (see
    :func:`_login_close`). Enrolments, screenings' findings and outcomes, agreement
    acceptances, attendance and the audit log stay, so every count stays the same.

    One transaction under the member's row lock (a referral takes the same lock, so no new
    enrolment can slip in between the check and the change), then the login's. One audit
    entry ``members.member.anonymised`` with ids and counts only.
    """
    now = now or timezone.now()
    if not can_anonymise_member(by, member):
        raise AnonymiseNotAllowedError("Only an admin of the member's clinic may anonymise it.")
    with transaction.atomic():
        member = Member.objects.select_for_update().select_related("clinic").get(pk=member.pk)
        refusal = member_anonymise_refusal(member=member, now=now)
        if refusal is not None:
            raise refusal

        user_id = member.user_id
        member.preferred_name = ANONYMISED_NAME.format(pk=member.pk)
        for field in (
            "legal_name",
            "email",
            "phone",
            "emergency_contact_name",
            "emergency_contact_phone",
            "timezone",
        ):
            setattr(member, field, "")
        member.reminders_enabled = False
        member.user = None
        member.anonymised_at = now
        member.save()

        enrolments = Enrolment.objects.filter(member=member)
        enrolments.update(leave_note="", screening_override_reason="")
        Screening.objects.filter(enrolment__in=enrolments).update(
            acute_illness_note="",
            anxiety_or_trauma_note="",
            disruptive_behaviour_note="",
            individual_needs_note="",
            support_plan="",
        )
        AttendanceChange.objects.filter(attendance__member=member).update(reason="")
        member_feeds = CalendarFeed.objects.filter(member=member, revoked_at__isnull=True).update(
            revoked_at=now
        )
        notifications = Notification.objects.filter(member=member)
        pending_deleted, _ = notifications.filter(status=NotificationStatus.PENDING).delete()
        notifications.exclude(last_error="").update(last_error="")

        data: dict[str, object] = {
            "member_id": member.pk,
            "user_id": user_id,
            "login_closed": False,
            "notifications_deleted": pending_deleted,
            "calendar_feeds_revoked": member_feeds,
            "api_tokens_revoked": 0,
        }
        if user_id is not None:
            user = User.objects.select_for_update().get(pk=user_id)
            ClinicRole.objects.filter(
                user=user, clinic_id=member.clinic_id, role=Role.MEMBER
            ).delete()
            still_needed = (
                Member.objects.filter(user=user).exists()
                or ClinicRole.objects.filter(user=user, role__in=STAFF_ROLES).exists()
            )
            if not still_needed:
                closed = _login_close(user=user, now=now)
                data["login_closed"] = True
                data["api_tokens_revoked"] = closed["api_tokens_revoked"]
                data["calendar_feeds_revoked"] = member_feeds + closed["calendar_feeds_revoked"]
        audit_log(
            action="members.member.anonymised",
            actor=by,
            clinic_id=member.clinic_id,
            obj=member,
            data=data,
        )
    return member
