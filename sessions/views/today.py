""" "Today": the next sessions a facilitator runs and their week in a calendar.

Staff only: a facilitator sees the sessions they run (their groups and any they cover as a
substitute), a clinic admin every session of their clinic(s). A signed-in user without a
staff role (a member) gets 403.

Audit. A session's line names the members who said they can't come (an excused absence
recorded ahead): showing any writes ``sessions.attendance.viewed`` naming them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from sessions.forms.group_sessions import WeekForm, monday_of
from sessions.models import GroupSession
from sessions.selectors.groups import staff_clinic_list
from sessions.selectors.week import (
    SessionOutlook,
    group_colour_positions,
    run_session_upcoming,
    run_session_week,
    session_outlooks,
)
from sessions.services.reads import attendance_viewed

#: "Next sessions" is a short look ahead; the week calendar below shows the rest.
NEXT_SESSIONS_PER_PAGE: Final = 5


@dataclass(frozen=True)
class SessionLine:
    """One session as the page shows it: the session, its outlook and its colour number."""

    session: GroupSession
    outlook: SessionOutlook
    colour: int


@dataclass(frozen=True)
class Day:
    """One day of the week calendar: its start (an aware instant in the viewer's zone, for
    the date filters) and its sessions, earliest first."""

    start: dt.datetime
    is_today: bool
    lines: list[SessionLine]


def _week_start(monday: dt.date) -> dt.datetime:
    return dt.datetime.combine(monday, dt.time.min, tzinfo=timezone.get_current_timezone())


@login_required
@require_safe
def today(request: HttpRequest) -> HttpResponse:
    """The next sessions (paginated, ``?page=``) and the week of ``?week=YYYY-MM-DD`` (any
    day of it; this week by default). A week that is not a date is said plainly on the
    page, answered 400, and this week is shown instead."""
    if not staff_clinic_list(user=request.user).exists():
        raise PermissionDenied("This page is for the clinic's staff.")

    now = timezone.now()
    this_monday = monday_of(timezone.localdate(now))
    week_error = ""
    monday = this_monday
    if "week" in request.GET:
        form = WeekForm(request.GET)
        if form.is_valid():
            monday = form.cleaned_data["week"]
        else:
            week_error = form.errors["week"][0]

    page = Paginator(run_session_upcoming(user=request.user, now=now), NEXT_SESSIONS_PER_PAGE)
    page_obj = page.get_page(request.GET.get("page"))
    week_start = _week_start(monday)
    week_sessions = run_session_week(user=request.user, start=week_start)
    shown = {session.pk: session for session in [*page_obj.object_list, *week_sessions]}
    outlooks = session_outlooks(sessions=list(shown.values()))
    colours = group_colour_positions(user=request.user)

    def line(session: GroupSession) -> SessionLine:
        return SessionLine(session, outlooks[session.pk], colours.get(session.group_id, 0))

    today_date = timezone.localdate(now)
    days = []
    for offset in range(7):
        day_start = _week_start(monday + dt.timedelta(days=offset))
        day = day_start.date()
        days.append(
            Day(
                start=day_start,
                is_today=day == today_date,
                lines=[
                    line(session)
                    for session in week_sessions
                    if timezone.localdate(session.start) == day
                ],
            )
        )

    attendance_viewed(
        by=request.user,  # type: ignore[arg-type]
        members=[
            (shown[session_pk].group.clinic_id, member.pk)
            for session_pk, outlook in outlooks.items()
            for member in outlook.cant_come
        ],
    )
    context = {
        "next_lines": [line(session) for session in page_obj.object_list],
        "page_obj": page_obj,
        "page_query": f"week={monday.isoformat()}" if monday != this_monday else "",
        "days": days,
        "week_start": week_start,
        "week_error": week_error,
        "is_this_week": monday == this_monday,
        "previous_week": (monday - dt.timedelta(days=7)).isoformat(),
        "next_week": (monday + dt.timedelta(days=7)).isoformat(),
    }
    return render(request, "sessions/session_week.html", context, status=400 if week_error else 200)
