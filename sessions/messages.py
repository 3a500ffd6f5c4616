"""The e-mail of one outbox row: subject, plain text and HTML from ``templates/emails/``,
and for a session an ``.ics`` attachment.

The wording is :mod:`sessions.wording`'s: "Reminder: group session tomorrow, Tue 18:00,
Room 2" — never the group's name, modality, description, the reason it was cancelled
(free text staff wrote) or anyone else in it. Each message has one recipient.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from email.mime.text import MIMEText
from email.utils import formataddr
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from sessions.enums import NotificationKind
from sessions.ics import calendar_bytes, session_event
from sessions.models import GroupSession, Notification
from sessions.selectors.summaries import summary_email_context
from sessions.wording import TITLE, day_label, session_line, session_place

#: The one file name every calendar attachment has: it says nothing about the group.
ICS_FILENAME = "group-session.ics"


def _session_context(session: GroupSession, tz_name: str, now: dt.datetime) -> dict[str, Any]:
    tz = zoneinfo.ZoneInfo(tz_name)
    start, end = session.start.astimezone(tz), session.end.astimezone(tz)
    return {
        "line": session_line(session, tz_name, now),
        "day": day_label(start, now),
        "date": f"{start:%A} {start.day} {start:%B %Y}",
        "start_time": f"{start:%H:%M}",
        "end_time": f"{end:%H:%M}",
        "tz_name": tz_name,
        "place": session_place(session),
        # Only members expected at the session get messages about it: they hold a seat.
        "video_link": session.video_link,
        "title": TITLE,
    }


def _ics_attachment(
    row: Notification, session: GroupSession, *, cancelled: bool, now: dt.datetime
) -> MIMEText:
    method = "CANCEL" if cancelled else "REQUEST"
    event = session_event(
        session,
        tz_name=session.group.clinic.timezone,
        video_link="" if cancelled else session.video_link,
        cancelled=cancelled,
        attendee=row.member.email if row.member else "",
        now=now,
    )
    part = MIMEText(calendar_bytes([event], method=method).decode(), "calendar", "utf-8")
    part.set_param("method", method)
    part.add_header("Content-Disposition", "attachment", filename=ICS_FILENAME)
    return part


def notification_context(row: Notification, *, now: dt.datetime) -> dict[str, Any]:
    """What the templates of ``row``'s kind are rendered with."""
    context: dict[str, Any] = {"base_url": settings.GROUPCARE_BASE_URL, "kind": row.kind}
    if row.kind == NotificationKind.WEEKLY_SUMMARY:
        context["recipient_name"] = row.user.get_short_name()
        context.update(summary_email_context(summary=row.summary, user=row.user))
        return context
    member = row.member
    tz_name = member.effective_timezone
    context["recipient_name"] = member.preferred_name
    if row.kind == NotificationKind.WAITLIST_OFFER:
        expires = row.offer.expires_at.astimezone(zoneinfo.ZoneInfo(tz_name))
        context["expires"] = f"{expires:%A} {expires.day} {expires:%B}, {expires:%H:%M}"
        context["tz_name"] = tz_name
        return context
    context.update(_session_context(row.session, tz_name, now))
    if row.kind == NotificationKind.REMINDER:
        context["manage_url"] = f"{settings.GROUPCARE_BASE_URL}/"
    return context


def notification_message(row: Notification, *, now: dt.datetime) -> EmailMultiAlternatives:
    """The e-mail for ``row``, addressed to its one recipient only."""
    context = notification_context(row, now=now)
    template = f"emails/{row.kind}"
    subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
    if row.user_id is not None:
        to = formataddr((row.user.full_name, row.user.email))
    else:
        to = formataddr((row.member.preferred_name, row.member.email))
    host = urlsplit(settings.GROUPCARE_BASE_URL).hostname or "groupcare.local"
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={
            # Which row and which attempt: a receiving system (or a test) can tell a retry.
            "Message-ID": f"<groupcare.{row.pk}.{row.attempts}@{host}>",
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    if row.session is not None:
        cancelled = row.kind == NotificationKind.SESSION_CANCELLED
        message.attach(_ics_attachment(row, row.session, cancelled=cancelled, now=now))
    return message
