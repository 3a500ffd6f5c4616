"""Forms of the session pages: the week shown on "Today", moving, cancelling and staffing
one session, and one member's attendance mark. Validation only; the views hand the cleaned
data to the services, which enforce the rules."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any, Final

from django import forms
from django.utils import timezone

from groupcare.forms import DayField
from members.models import User
from sessions.enums import AttendanceStatus
from sessions.models import GroupSession, Room
from sessions.services.scheduling import CANCEL_REASON_MAX_LENGTH, local_to_utc

#: The weeks "Today" can show; further out is surely a typo in the address.
FIRST_WEEK: Final = dt.date(2000, 1, 3)
LAST_WEEK: Final = dt.date(2099, 12, 28)

#: How far ahead a session can be moved, as the API allows.
MOVE_MAX_YEARS: Final = 10

#: The marks a facilitator gives in the room. "Late-cancelled" comes only from a member's
#: own late "I can't come", so it is not offered.
ATTENDANCE_MARKS: Final = [
    (AttendanceStatus.PRESENT.value, AttendanceStatus.PRESENT.label),
    (AttendanceStatus.LATE.value, AttendanceStatus.LATE.label),
    (AttendanceStatus.LEFT_EARLY.value, AttendanceStatus.LEFT_EARLY.label),
    (AttendanceStatus.ABSENT.value, AttendanceStatus.ABSENT.label),
    (AttendanceStatus.EXCUSED.value, AttendanceStatus.EXCUSED.label),
]


def monday_of(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


class WeekForm(forms.Form):
    """``?week=YYYY-MM-DD``: any day of the week to show (its Monday is used)."""

    week = forms.DateField(
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": "Give the week as a date, e.g. 2026-11-30."},
    )

    def clean_week(self) -> dt.date:
        day: dt.date = self.cleaned_data["week"]
        if not FIRST_WEEK <= day <= LAST_WEEK:
            raise forms.ValidationError("Pick a week between the years 2000 and 2099.")
        return monday_of(day)


class AttendanceMarkForm(forms.Form):
    """One member's mark. ``reason`` is needed only when a clinic admin amends attendance
    after the lock period (the service says so when it is missing)."""

    status = forms.ChoiceField(
        choices=ATTENDANCE_MARKS,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose present, late, left early, absent or excused."},
    )
    reason = forms.CharField(required=False, max_length=5000)


class SessionMoveForm(forms.Form):
    """A new date, start and end (local times in the clinic's zone) and room for one
    session. ``instants()`` gives the start and end as aware UTC datetimes."""

    date = DayField(widget=forms.DateInput(attrs={"type": "date"}))
    start_time = forms.TimeField(label="Starts at", widget=forms.TimeInput(attrs={"type": "time"}))
    end_time = forms.TimeField(label="Ends at", widget=forms.TimeInput(attrs={"type": "time"}))
    room = forms.ModelChoiceField(
        queryset=Room.objects.none(),
        required=False,
        empty_label="No room",
    )

    def __init__(self, data: Any = None, *, session: GroupSession) -> None:
        self.session = session
        clinic = session.group.clinic
        self.tz = zoneinfo.ZoneInfo(clinic.timezone)
        start = session.start.astimezone(self.tz)
        end = session.end.astimezone(self.tz)
        initial = {
            "date": start.date(),
            "start_time": start.time().replace(second=0, microsecond=0),
            "end_time": end.time().replace(second=0, microsecond=0),
            "room": session.room_id,
        }
        super().__init__(data, initial=initial)
        rooms = Room.objects.filter(clinic=clinic, is_active=True)
        if session.room_id is not None:
            rooms = rooms | Room.objects.filter(pk=session.room_id)
        self.fields["room"].queryset = rooms.order_by("name", "pk")
        self.fields["date"].help_text = f"Times are in the clinic's time zone ({clinic.timezone})."

    def clean_date(self) -> dt.date:
        day: dt.date = self.cleaned_data["date"]
        limit = timezone.localdate() + dt.timedelta(days=366 * MOVE_MAX_YEARS)
        if day > limit:
            raise forms.ValidationError(
                f"A session can be moved at most {MOVE_MAX_YEARS} years ahead."
            )
        return day

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start_time"), data.get("end_time")
        if start is not None and end is not None and end <= start:
            self.add_error("end_time", "The session must end after it starts.")
        return data

    def instants(self) -> tuple[dt.datetime, dt.datetime]:
        day = self.cleaned_data["date"]
        start = local_to_utc(dt.datetime.combine(day, self.cleaned_data["start_time"]), self.tz)
        end = local_to_utc(dt.datetime.combine(day, self.cleaned_data["end_time"]), self.tz)
        return start, end


class SessionCancelForm(forms.Form):
    reason = forms.CharField(
        max_length=CANCEL_REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept with the session for the staff. Members are told only that it is "
        "cancelled.",
        error_messages={"required": "Give a reason for cancelling the session."},
    )

    def clean_reason(self) -> str:
        reason: str = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Give a reason for cancelling the session.")
        return reason


class SessionFacilitatorsForm(forms.Form):
    """The whole list of the session's facilitators, chosen from the clinic's staff."""

    facilitators = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Tick everyone who runs this session, e.g. untick the lead and tick a "
        "substitute. The rest of the series keeps its facilitators.",
        error_messages={"required": "A session needs at least one facilitator."},
    )

    def __init__(self, *args: Any, staff: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["facilitators"].queryset = staff
        self.fields["facilitators"].label_from_instance = lambda user: str(user)
