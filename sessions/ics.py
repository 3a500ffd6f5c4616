"""iCalendar for sessions, with the ``icalendar`` package: one stable event per session.

The UID never changes for a session, and its SEQUENCE is the session's ``sequence``, so a
calendar app that already has the event updates it in place when the session is moved or
cancelled. Times carry the clinic's TZID (with its VTIMEZONE), DTSTAMP is UTC. The title is
:data:`sessions.wording.TITLE`, never the group's name or modality.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Iterable
from email.utils import parseaddr
from urllib.parse import urlsplit

import icalendar
from django.conf import settings
from django.utils import timezone

from sessions.enums import SessionStatus
from sessions.models import GroupSession
from sessions.wording import TITLE, session_place

PRODID = "-//GroupCare//Group sessions//EN"


def session_uid(session: GroupSession) -> str:
    host = urlsplit(settings.GROUPCARE_BASE_URL).hostname or "groupcare.local"
    return f"group-session-{session.pk}@{host}"


def session_event(
    session: GroupSession,
    *,
    tz_name: str,
    video_link: str = "",
    cancelled: bool | None = None,
    attendee: str = "",
    now: dt.datetime | None = None,
) -> icalendar.Event:
    """The session as a VEVENT in ``tz_name``. ``video_link`` goes in only when given (the
    caller decides who may have it). ``cancelled`` defaults to the session's status.
    ``attendee`` (an e-mail address) makes it an invitation to that one person, organised by
    the sending address, as RFC 5546 asks of a METHOD:REQUEST or CANCEL."""
    tz = zoneinfo.ZoneInfo(tz_name)
    if cancelled is None:
        cancelled = session.status == SessionStatus.CANCELLED
    event = icalendar.Event()
    event.add("uid", session_uid(session))
    event.add("sequence", session.sequence)
    event.add("dtstamp", (now or timezone.now()).astimezone(dt.UTC))
    event.add("dtstart", session.start.astimezone(tz))
    event.add("dtend", session.end.astimezone(tz))
    event.add("summary", TITLE)
    place = session_place(session)
    if place:
        event.add("location", video_link or place)
    if video_link:
        event.add("url", video_link)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
    if attendee:
        sender = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
        event.add("organizer", f"mailto:{sender}", parameters={"CN": "GroupCare"})
        event.add(
            "attendee",
            f"mailto:{attendee}",
            parameters={"ROLE": "REQ-PARTICIPANT", "PARTSTAT": "NEEDS-ACTION", "RSVP": "FALSE"},
        )
    return event


@functools.lru_cache(maxsize=64)
def _vtimezone(tzid: str, first_year: int, last_year: int) -> icalendar.Timezone:
    """The zone's transitions from the year before the first event to the years after the
    last: enough for any app, far smaller than the 1970-2038 default, and built once per
    zone and span (every reminder e-mail carries one), never changed once built."""
    return icalendar.Timezone.from_tzid(
        tzid, first_date=dt.date(first_year, 1, 1), last_date=dt.date(last_year, 1, 1)
    )


def calendar_bytes(
    events: Iterable[icalendar.Event], *, method: str | None = None, name: str = ""
) -> bytes:
    """A VCALENDAR of ``events`` with the VTIMEZONE of every TZID they use.

    ``method`` is "REQUEST" or "CANCEL" for an e-mail attachment (RFC 5546), None for a
    feed. ``name`` becomes the calendar's display name in apps that show one.
    """
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    if method:
        calendar.add("method", method)
    if name:
        calendar.add("x-wr-calname", name)
        calendar.add("name", name)
    first: dt.date | None = None
    last: dt.date | None = None
    for event in events:
        calendar.add_component(event)
        start = event.decoded("dtstart").date()
        first = start if first is None or start < first else first
        last = start if last is None or start > last else last
    if first is not None and last is not None:
        for index, tzid in enumerate(sorted(calendar.get_missing_tzids())):
            try:
                component = _vtimezone(tzid, first.year - 1, last.year + 2)
            except ValueError:  # not a zone icalendar knows; the TZID stays as it is
                continue
            calendar.subcomponents.insert(index, component)
    return calendar.to_ical()
