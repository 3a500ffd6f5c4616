"""How a session is named wherever a message or calendar leaves GroupCare.

The least health information: always "Group session", its local day and time and its room
(or "Online"), never the group's name, modality, description or anyone else in it. A
group's name often says what it is for ("Trauma recovery, Tuesdays"), so it stays inside
the app too. Everything that leaves GroupCare takes its wording from here.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from sessions.models import GroupSession

TITLE = "Group session"
ONLINE = "Online"


def session_place(session: GroupSession) -> str:
    """The room's name, or "Online" for a session by video link (the link itself goes only
    into the body of a message to someone who holds a seat)."""
    if session.room_id is not None:
        return session.room.name
    return ONLINE if session.video_link else ""


def local_start(session: GroupSession, tz_name: str) -> dt.datetime:
    return session.start.astimezone(zoneinfo.ZoneInfo(tz_name))


def day_label(start: dt.datetime, now: dt.datetime) -> str:
    """ "today", "tomorrow" or "Tue 1 Dec" (the local dates of ``start`` and ``now``)."""
    days = (start.date() - now.astimezone(start.tzinfo).date()).days
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    return f"{start:%a} {start.day} {start:%b}"


def session_when(session: GroupSession, tz_name: str, now: dt.datetime) -> str:
    """ "tomorrow, Tue 18:00" / "Thu 3 Dec, 18:00" in the reader's time zone."""
    start = local_start(session, tz_name)
    label = day_label(start, now)
    if label in ("today", "tomorrow"):
        return f"{label}, {start:%a %H:%M}"
    return f"{label}, {start:%H:%M}"


def session_line(session: GroupSession, tz_name: str, now: dt.datetime) -> str:
    """ "group session tomorrow, Tue 18:00, Room 2": the words every message leads with."""
    place = session_place(session)
    when = session_when(session, tz_name, now)
    return f"group session {when}, {place}" if place else f"group session {when}"
