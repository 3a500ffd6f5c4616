"""One session's pages: the session with its attendance sheet, moving it, cancelling it,
changing who facilitates it, and one member's attendance mark (htmx, or a plain POST).

Who may do what, as the API (``sessions/api/group_sessions/views.py``): a session the
viewer cannot see is a 404 (another group's, another clinic's). Of those they see, the page
and attendance are for the staff who run the session (the group's facilitators, a
substitute for this session, the clinic's admins); moving, cancelling and changing the
facilitators for the staff who run the group. Anyone else who sees the session (a member
of the group) gets a 403.

Domain refusals come back on the page next to what they concern, with status 200; the
htmx attendance fragment also answers 200 with the refusal in the member's row, because
htmx swaps only successful responses into the page.

Audit. The attendance sheet names the members with their marks: showing it (the page, or a
member's row after a refused mark) writes ``sessions.attendance.viewed``. A saved mark is
recorded by its service (``sessions.attendance.recorded``) and its row shows nothing more.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from groupcare.errors import DomainError
from members.models import Member
from members.permissions import is_clinic_admin
from members.templatetags.viewer import local_datetime
from sessions.enums import SessionStatus
from sessions.forms.group_sessions import (
    ATTENDANCE_MARKS,
    AttendanceMarkForm,
    SessionCancelForm,
    SessionFacilitatorsForm,
    SessionMoveForm,
)
from sessions.models import Attendance, GroupSession
from sessions.selectors.attendance import AttendanceSheetRow, session_attendance_sheet
from sessions.selectors.group_sessions import group_session_list
from sessions.selectors.week import CANT_COME_STATUSES, session_outlooks, session_staff_choices
from sessions.services.attendance import AttendanceEntry, attendance_lock_at, attendance_record
from sessions.services.reads import attendance_viewed
from sessions.services.scheduling import group_session_cancel, group_session_move

MANAGERS_ONLY: Final = "Only the group's facilitators and a clinic admin may change this session."
RUNNERS_ONLY: Final = "Only the session's facilitators and a clinic admin may open this page."

MARK_LABELS: Final = dict(ATTENDANCE_MARKS)


# --- finding the session -------------------------------------------------------------------


def _visible_session(request: HttpRequest, pk: int) -> GroupSession:
    return get_object_or_404(group_session_list(user=request.user), pk=pk)


def _run_session(request: HttpRequest, pk: int) -> GroupSession:
    session = _visible_session(request, pk)
    if not session.can_run:  # type: ignore[attr-defined]
        raise PermissionDenied(RUNNERS_ONLY)
    return session


def _managed_session(request: HttpRequest, pk: int) -> GroupSession:
    session = _visible_session(request, pk)
    if not session.can_manage:  # type: ignore[attr-defined]
        raise PermissionDenied(MANAGERS_ONLY)
    return session


def _posted(request: HttpRequest) -> Any:
    return request.POST if request.method == "POST" else None


def _detail_url(session: GroupSession) -> str:
    return reverse("sessions:session-detail", args=[session.pk])


def _may_change(session: GroupSession, now: dt.datetime) -> bool:
    """Whether moving or cancelling is worth offering (the services decide for real)."""
    return session.status == SessionStatus.SCHEDULED and session.end > now


# --- the attendance sheet ------------------------------------------------------------------


@dataclass(frozen=True)
class AttendanceLine:
    """One member's line of the sheet, with the form that marks them."""

    member: Member
    attendance: Attendance | None
    agreement_accepted: bool | None
    form: AttendanceMarkForm
    saved: bool = False

    @property
    def said_cant_come(self) -> bool:
        """The member told us ahead ("I can't come"): only they mark a session that has not
        started, so a notice is a can't-come status recorded by the member's own login."""
        row = self.attendance
        return (
            row is not None
            and row.status in CANT_COME_STATUSES
            and row.recorded_by_id == self.member.user_id
        )


def _mark_form(
    member: Member, attendance: Attendance | None, data: Any = None
) -> AttendanceMarkForm:
    initial = {}
    if attendance is not None and attendance.status in MARK_LABELS:
        initial["status"] = attendance.status
    return AttendanceMarkForm(data, initial=initial, auto_id=f"att-{member.pk}-%s")


def _line(row: AttendanceSheetRow, form: AttendanceMarkForm | None = None) -> AttendanceLine:
    return AttendanceLine(
        member=row.member,
        attendance=row.attendance,
        agreement_accepted=row.agreement_accepted,
        form=form or _mark_form(row.member, row.attendance),
    )


@dataclass(frozen=True)
class SheetState:
    """What the sheet allows now: ``mode`` is "cancelled", "not_started", "open" (marks
    can be given), "amend" (after the lock, for a clinic admin, with a reason) or
    "locked" (after the lock, read only)."""

    mode: str
    locks_at: dt.datetime

    @property
    def editable(self) -> bool:
        return self.mode in ("open", "amend")


def _sheet_state(request: HttpRequest, session: GroupSession, now: dt.datetime) -> SheetState:
    locks_at = attendance_lock_at(session=session)
    if session.status == SessionStatus.CANCELLED:
        mode = "cancelled"
    elif now < session.start:
        mode = "not_started"
    elif now < locks_at:
        mode = "open"
    elif is_clinic_admin(request.user, session.group.clinic):
        mode = "amend"
    else:
        mode = "locked"
    return SheetState(mode=mode, locks_at=locks_at)


def _sheet_shown(request: HttpRequest, session: GroupSession, member_ids: list[int]) -> None:
    clinic_id = session.group.clinic_id
    attendance_viewed(
        by=request.user,  # type: ignore[arg-type]
        members=[(clinic_id, member_id) for member_id in member_ids],
        obj=session,
    )


def _detail_context(
    request: HttpRequest, session: GroupSession, bound: dict[int, AttendanceMarkForm] | None = None
) -> dict[str, Any]:
    now = timezone.now()
    bound = bound or {}
    rows = session_attendance_sheet(session=session)
    lines = [_line(row, bound.get(row.member.pk)) for row in rows]
    _sheet_shown(request, session, [row.member.pk for row in rows])
    return {
        "session": session,
        "group": session.group,
        "clinic_tz": session.group.clinic.timezone,
        "lines": lines,
        "cant_come": [line for line in lines if line.said_cant_come],
        "sheet": _sheet_state(request, session, now),
        "may_change": session.can_manage and _may_change(session, now),  # type: ignore[attr-defined]
    }


@login_required
@require_http_methods(["GET", "HEAD"])
def session_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The session and its attendance sheet (audited: ``sessions.attendance.viewed``, as
    the API's sheet)."""
    session = _run_session(request, pk)
    return render(request, "sessions/session_detail.html", _detail_context(request, session))


@login_required
@require_POST
def session_attendance(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    """Mark one member of the sheet (``attendance_record`` with one entry; its audit entry
    ``sessions.attendance.recorded``). htmx gets the member's row back (200, with "Saved" or
    the refusal); a plain POST is redirected back to the session, or on a refusal gets the
    session page again with the refusal in the member's row (200)."""
    session = _run_session(request, pk)
    row = next(
        (row for row in session_attendance_sheet(session=session) if row.member.pk == member_pk),
        None,
    )
    if row is None:
        raise Http404("This member is not on the session's sheet.")
    form = _mark_form(row.member, row.attendance, request.POST)
    saved: list[Attendance] = []
    if form.is_valid():
        try:
            saved = attendance_record(
                session=session,
                by=request.user,
                entries=[AttendanceEntry(member_id=member_pk, status=form.cleaned_data["status"])],
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            form.add_error("status", exc.message)

    if saved:
        label = MARK_LABELS[saved[0].status]
        if not request.htmx:  # type: ignore[attr-defined]
            messages.success(request, f"Saved: {row.member.preferred_name}, {label.lower()}.")
            return redirect(f"{_detail_url(session)}#member-{member_pk}")
        line = AttendanceLine(
            member=row.member,
            attendance=saved[0],
            agreement_accepted=row.agreement_accepted,
            form=_mark_form(row.member, saved[0]),
            saved=True,
        )
        return _row_response(
            request, session, line, f"Saved: {row.member.preferred_name}, {label.lower()}."
        )
    if request.htmx:  # type: ignore[attr-defined]
        errors = " ".join(form.errors.get("status", []))
        announce = f"Not saved for {row.member.preferred_name}: {errors}"
        _sheet_shown(request, session, [member_pk])
        return _row_response(request, session, _line(row, form), announce)
    context = _detail_context(request, session, bound={member_pk: form})
    return render(request, "sessions/session_detail.html", context)


def _row_response(
    request: HttpRequest, session: GroupSession, line: AttendanceLine, announce: str
) -> HttpResponse:
    """The member's row, and ``announce`` for the page's live region (an out-of-band swap),
    so a screen reader hears what happened without leaving the radio buttons."""
    context = {
        "session": session,
        "line": line,
        "sheet": _sheet_state(request, session, timezone.now()),
        "announce": announce,
    }
    return render(request, "sessions/session_detail.html#attendance-row", context)


# --- changing the session ------------------------------------------------------------------


def _who_is_told(expected: int) -> str:
    if expected == 0:
        return "No member is expected at it, so no one is told."
    if expected == 1:
        return (
            "The member expected at it is told by e-mail that it is cancelled (not why) "
            "and gets no reminder for it."
        )
    return (
        f"The {expected} members expected at it are told by e-mail that it is cancelled "
        "(not why) and get no reminder for it."
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def session_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move one session to a new date and local times and/or another room
    (``group_session_move``; members expected at it are notified by the service)."""
    session = _managed_session(request, pk)
    form = SessionMoveForm(_posted(request), session=session)
    if request.method == "POST" and form.is_valid():
        start, end = form.instants()
        try:
            group_session_move(
                session=session,
                by=request.user,
                start=start,
                end=end,
                room=form.cleaned_data["room"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "The session is moved. Its members are told by e-mail.")
            return redirect(_detail_url(session))
    return render(
        request,
        "sessions/session_move.html",
        {"session": session, "form": form, "clinic_tz": session.group.clinic.timezone},
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def session_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel one session with a reason (``group_session_cancel``), after a confirmation
    that says who is told."""
    session = _managed_session(request, pk)
    form = SessionCancelForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            group_session_cancel(
                session=session, by=request.user, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "The session is cancelled. Its members are told by e-mail.")
            return redirect(_detail_url(session))
    expected = session_outlooks(sessions=[session])[session.pk].expected_count
    when = local_datetime(session.start, session.group.clinic.timezone)
    consequences = [
        f"The session of {session.group.name} on {when} is cancelled; the rest of the "
        "series stays as it is.",
        _who_is_told(expected),
        "Its facilitators and its room are free again at that time.",
    ]
    return render(
        request,
        "sessions/session_cancel.html",
        {
            "session": session,
            "title": "Cancel this session?",
            "consequences": consequences,
            "form": form,
            "action_label": "Cancel the session",
            "cancel_url": _detail_url(session),
        },
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def session_facilitators(request: HttpRequest, pk: int) -> HttpResponse:
    """Choose who facilitates this one session, e.g. a substitute for the lead
    (``group_session_move`` with the new list; the series keeps its facilitators)."""
    session = _managed_session(request, pk)
    current = [row.facilitator_id for row in session.facilitator_rows]  # type: ignore[attr-defined]
    form = SessionFacilitatorsForm(
        _posted(request),
        initial={"facilitators": current},
        staff=session_staff_choices(clinic=session.group.clinic),
    )
    if request.method == "POST" and form.is_valid():
        try:
            group_session_move(
                session=session,
                by=request.user,
                facilitators=list(form.cleaned_data["facilitators"]),
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "The session's facilitators are saved.")
            return redirect(_detail_url(session))
    return render(
        request,
        "sessions/session_facilitators.html",
        {"session": session, "form": form, "clinic_tz": session.group.clinic.timezone},
    )
