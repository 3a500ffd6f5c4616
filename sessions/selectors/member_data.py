"""Everything GroupCare holds about a signed-in member, as one JSON-ready document: the
right of access (HIPAA §164.524, GDPR art. 15) as a download from their settings page.

It starts from the member records linked to the login and reads nothing else: no fellow
member, no other group's data, no secret (token digests, one-time-code secrets, the
calendar link itself). A fixed number of queries, however long the history.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.utils import timezone

from members.models import ApiToken, AuditEntry, Member, User
from members.selectors import audit_entries_about_members
from sessions.models import (
    AgreementAcceptance,
    Attendance,
    AttendanceChange,
    CalendarFeed,
    Enrolment,
    Notification,
    Screening,
    WaitlistOffer,
)

FORMAT = "groupcare.member-data"
VERSION = 1

#: The audit action of a member's "I can't come" (see ``attendance_cant_attend``): the
#: report itself, which a facilitator's later correction of the attendance row does not undo.
CANT_COME_ACTION = "sessions.attendance.cant_attend"


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    return value.isoformat()


def member_data_records(*, user: User) -> list[Member]:
    """Every member record linked to ``user``'s login, in any clinic (also one where the
    member role has since been removed: the right of access does not end with it), by
    clinic name. One query."""
    return list(
        Member.objects.filter(user_id=user.pk)
        .select_related("clinic")
        .order_by("clinic__name", "pk")
    )


def _account(user: User) -> dict[str, Any]:
    live_feed = CalendarFeed.objects.filter(user_id=user.pk, revoked_at__isnull=True).first()
    return {
        "email": user.email,
        "full_name": user.full_name,
        "date_joined": _iso(user.date_joined),
        "last_login": _iso(user.last_login),
        # The kinds of second factor only: never a secret, a code or a key.
        "mfa": [
            {
                "type": authenticator.type,
                "created_at": _iso(authenticator.created_at),
                "last_used_at": _iso(authenticator.last_used_at),
            }
            for authenticator in Authenticator.objects.filter(user_id=user.pk).order_by(
                "created_at", "pk"
            )
        ],
        "api_tokens": [
            {
                "name": token.name,
                "prefix": token.prefix,
                "created_at": _iso(token.created_at),
                "last_used_at": _iso(token.last_used_at),
                "revoked_at": _iso(token.revoked_at),
            }
            for token in ApiToken.objects.filter(user_id=user.pk).order_by("created_at", "pk")
        ],
        # Whether there is a link, never the link: a download may end up in a mailbox.
        "calendar_feed": {
            "active": live_feed is not None,
            "created_at": _iso(live_feed.created_at) if live_feed else None,
        },
        "sessions": [
            {
                "created_at": _iso(session.created_at),
                "last_seen_at": _iso(session.last_seen_at),
                "ip_address": session.ip,
                "user_agent": session.user_agent,
            }
            for session in UserSession.objects.filter(user_id=user.pk).order_by("created_at", "pk")
        ],
    }


def _screening(screening: Screening) -> dict[str, Any]:
    return {
        "screened_at": _iso(screening.screened_at),
        "screened_by": screening.screened_by.full_name,
        "areas": {
            area: {
                "finding": getattr(screening, area),
                "note": getattr(screening, f"{area}_note"),
            }
            for area in Screening.AREAS
        },
        "outcome": screening.outcome,
        "support_plan": screening.support_plan,
    }


def _audit_member_ids(entry: AuditEntry) -> set[int]:
    """The member records an audit entry is about (as ``audit_entries_about_members``
    matched it)."""
    ids: set[int] = set()
    if entry.object_type == "members.member" and entry.object_id.isdigit():
        ids.add(int(entry.object_id))
    data = entry.data if isinstance(entry.data, dict) else {}
    if isinstance(data.get("member_id"), int):
        ids.add(data["member_id"])
    if isinstance(data.get("member_ids"), list):
        ids.update(value for value in data["member_ids"] if isinstance(value, int))
    return ids


def member_data_export(
    *, user: User, records: list[Member] | None = None, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The whole document for ``user`` (see the module's docstring), versioned as
    ``{"format": "groupcare.member-data", "version": 1, ...}``. Times are ISO 8601 in UTC,
    dates ISO. ``records`` are :func:`member_data_records` when the caller has them.

    Per record: the record's own fields; enrolments with their screenings (findings, notes
    and outcome: it is the member's health record) and waitlist offers; agreement
    acceptances; attendance with its amendments; "can't come" reports; the notifications
    sent to them (kind, times, status); and the audit entries about the record (when,
    what, and who: the name of the person who did it, as an accounting of disclosures).

    Thirteen queries, whatever the number of records and rows.
    """
    now = now or timezone.now()
    if records is None:
        records = member_data_records(user=user)
    member_ids = [record.pk for record in records]

    enrolments: dict[int, list[Enrolment]] = defaultdict(list)
    enrolment_rows = list(
        Enrolment.objects.filter(member_id__in=member_ids)
        .select_related("group")
        .order_by("referred_at", "pk")
    )
    for enrolment in enrolment_rows:
        enrolments[enrolment.member_id].append(enrolment)
    screenings: dict[int, list[Screening]] = defaultdict(list)
    for screening in (
        Screening.objects.filter(enrolment__member_id__in=member_ids)
        .select_related("screened_by")
        .order_by("screened_at", "pk")
    ):
        screenings[screening.enrolment_id].append(screening)
    offers: dict[int, list[WaitlistOffer]] = defaultdict(list)
    for offer in WaitlistOffer.objects.filter(enrolment__member_id__in=member_ids).order_by(
        "offered_at", "pk"
    ):
        offers[offer.enrolment_id].append(offer)

    acceptances: dict[int, list[AgreementAcceptance]] = defaultdict(list)
    for acceptance in (
        AgreementAcceptance.objects.filter(member_id__in=member_ids)
        .select_related("agreement__group")
        .order_by("accepted_at", "pk")
    ):
        acceptances[acceptance.member_id].append(acceptance)

    attendance: dict[int, list[Attendance]] = defaultdict(list)
    sessions_by_key: dict[tuple[int, int], Attendance] = {}
    for row in (
        Attendance.objects.filter(member_id__in=member_ids)
        .select_related("session__group")
        .order_by("session__start", "pk")
    ):
        attendance[row.member_id].append(row)
        sessions_by_key[(row.member_id, row.session_id)] = row
    changes: dict[int, list[AttendanceChange]] = defaultdict(list)
    for change in AttendanceChange.objects.filter(attendance__member_id__in=member_ids).order_by(
        "changed_at", "pk"
    ):
        changes[change.attendance_id].append(change)

    notifications: dict[int, list[Notification]] = defaultdict(list)
    for notification in Notification.objects.filter(member_id__in=member_ids).order_by(
        "due_at", "pk"
    ):
        notifications[notification.member_id].append(notification)  # type: ignore[index]

    audit: dict[int, list[AuditEntry]] = defaultdict(list)
    for entry in audit_entries_about_members(member_ids=member_ids) if member_ids else []:
        for member_id in _audit_member_ids(entry) & set(member_ids):
            audit[member_id].append(entry)

    def cant_come(member_id: int) -> list[dict[str, Any]]:
        reports = []
        for entry in audit[member_id]:
            if entry.action != CANT_COME_ACTION:
                continue
            row = sessions_by_key.get((member_id, entry.data.get("session_id")))
            reports.append(
                {
                    "reported_at": _iso(entry.at),
                    "group": row.session.group.name if row else None,
                    "session_start": _iso(row.session.start) if row else None,
                    "recorded_as": entry.data.get("status"),
                }
            )
        return reports

    return {
        "format": FORMAT,
        "version": VERSION,
        "generated_at": _iso(now),
        "account": _account(user),
        "member_records": [
            {
                "id": record.pk,
                "clinic": record.clinic.name,
                "preferred_name": record.preferred_name,
                "legal_name": record.legal_name,
                "email": record.email,
                "phone": record.phone,
                "emergency_contact": {
                    "name": record.emergency_contact_name,
                    "phone": record.emergency_contact_phone,
                },
                "timezone": record.timezone,
                "reminders": {
                    "enabled": record.reminders_enabled,
                    "minutes_before": list(record.reminder_offsets),
                    "quiet_hours": record.quiet_hours,
                },
                "created_at": _iso(record.created_at),
                "enrolments": [
                    {
                        "group": enrolment.group.name,
                        "status": enrolment.status,
                        "referred_at": _iso(enrolment.referred_at),
                        "waitlisted_at": _iso(enrolment.waitlisted_at),
                        "joined_on": _iso(enrolment.joined_on),
                        "left_on": _iso(enrolment.left_on),
                        "left_at": _iso(enrolment.left_at),
                        "leave_note": enrolment.leave_note,
                        "screening_override_reason": enrolment.screening_override_reason,
                        "screenings": [_screening(s) for s in screenings[enrolment.pk]],
                        "waitlist_offers": [
                            {
                                "offered_at": _iso(offer.offered_at),
                                "expires_at": _iso(offer.expires_at),
                                "status": offer.status,
                                "responded_at": _iso(offer.responded_at),
                            }
                            for offer in offers[enrolment.pk]
                        ],
                    }
                    for enrolment in enrolments[record.pk]
                ],
                "agreement_acceptances": [
                    {
                        "group": acceptance.agreement.group.name,
                        "agreement_version": acceptance.agreement.version,
                        "accepted_at": _iso(acceptance.accepted_at),
                        "method": acceptance.method,
                    }
                    for acceptance in acceptances[record.pk]
                ],
                "attendance": [
                    {
                        "group": row.session.group.name,
                        "session_start": _iso(row.session.start),
                        "session_end": _iso(row.session.end),
                        "session_status": row.session.status,
                        "status": row.status,
                        "minutes_attended": row.minutes_attended,
                        "recorded_at": _iso(row.recorded_at),
                        # Without the amendment's reason: one reason is written for a
                        # whole sheet at once and may name fellow members.
                        "changes": [
                            {
                                "changed_at": _iso(change.changed_at),
                                "old_status": change.old_status,
                                "new_status": change.new_status,
                                "old_minutes": change.old_minutes,
                                "new_minutes": change.new_minutes,
                            }
                            for change in changes[row.pk]
                        ],
                    }
                    for row in attendance[record.pk]
                ],
                "cant_come_reports": cant_come(record.pk),
                "notifications": [
                    {
                        "kind": notification.kind,
                        "status": notification.status,
                        "due_at": _iso(notification.due_at),
                        "sent_at": _iso(notification.sent_at),
                    }
                    for notification in notifications[record.pk]
                ],
                "audit": [
                    {
                        "at": _iso(entry.at),
                        "action": entry.action,
                        "by": entry.actor.full_name if entry.actor else None,
                        "by_you": entry.actor_id == user.pk,
                    }
                    for entry in audit[record.pk]
                ],
            }
            for record in records
        ],
    }
