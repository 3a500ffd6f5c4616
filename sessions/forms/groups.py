"""Forms of the facilitator's group pages: the group itself, its stage and its schedule.

Validation only: choices come from the group's clinic (a modality, room or facilitator of
another clinic reads as "not one of the available choices"), and the views hand the
cleaned data to the services, which own every rule.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone

from groupcare.forms import DayField
from members.models import Clinic, User
from sessions.enums import EnrolmentPolicy, Stage
from sessions.errors import ScheduleError
from sessions.models import Group, Schedule
from sessions.permissions import can_create_group_run_by
from sessions.selectors.group_page import clinic_facilitators, clinic_rooms_in_use
from sessions.selectors.groups import modality_choices
from sessions.services.scheduling import WEEKDAYS, rrule_build

#: The bounds the API puts on a schedule (sessions in all, years spanned): a bound on the
#: work one request can ask for.
MAX_SCHEDULE_SESSIONS = 520
MAX_SCHEDULE_YEARS = 10

WEEKDAY_CHOICES = list(
    zip(
        WEEKDAYS,
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        strict=True,
    )
)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%H:%M", **kwargs)


class FacilitatorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return obj.get_full_name()


class FacilitatorsChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return obj.get_full_name()


class PageForm(forms.Form):
    """A form of these pages: labels without a trailing colon."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class ClinicChoiceForm(PageForm):
    """Which clinic a new group is for, asked of staff who work in several (sent by GET)."""

    clinic = forms.ModelChoiceField(
        queryset=Clinic.objects.none(), widget=forms.RadioSelect, empty_label=None
    )

    def __init__(self, *args: Any, clinics: list[Clinic], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["clinic"].queryset = Clinic.objects.filter(
            pk__in=[clinic.pk for clinic in clinics]
        ).order_by("name", "pk")


class GroupForm(PageForm):
    """A group's fields, for creating one (``group`` None: with its lead facilitator) or
    changing one (the lead has a rule of its own and is not changed here)."""

    name = forms.CharField(max_length=150)
    modality = forms.ModelChoiceField(queryset=None, empty_label="Choose a modality")
    description = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What the group works on, for the clinic's staff. Members do not see it.",
    )
    lead_facilitator = FacilitatorChoiceField(queryset=None, empty_label="Choose who leads")
    co_facilitators = FacilitatorsChoiceField(
        queryset=None, required=False, widget=forms.CheckboxSelectMultiple
    )
    min_size = forms.IntegerField(label="Minimum members", min_value=1, max_value=500, initial=4)
    max_size = forms.IntegerField(label="Maximum members", min_value=1, max_value=500, initial=10)
    enrolment_policy = forms.ChoiceField(
        label="Enrolment",
        choices=[
            (EnrolmentPolicy.CLOSED, "Closed: new members join only while the group is forming"),
            (EnrolmentPolicy.OPEN, "Open: new members may join at any stage"),
        ],
        initial=EnrolmentPolicy.CLOSED,
        widget=forms.RadioSelect,
    )
    room = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="No room (meets by video link)"
    )
    video_link = forms.CharField(
        required=False,
        max_length=200,
        widget=forms.URLInput,
        help_text="An https:// link; leave empty when the group meets in a room.",
    )
    billing_code = forms.CharField(
        max_length=10, initial="90853", help_text="CPT code for group psychotherapy by default."
    )
    planned_start = DayField(widget=DateInput())
    planned_end = DayField(required=False, widget=DateInput())
    late_cancel_notice_hours = forms.IntegerField(
        label="Late-cancellation notice (hours)",
        min_value=0,
        max_value=24 * 14,
        initial=24,
        help_text='A "can\'t come" later than this before a session counts as late-cancelled.',
    )

    def __init__(
        self,
        *args: Any,
        clinic: Clinic,
        user: User,
        group: Group | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.clinic = clinic
        self.group = group
        facilitators = clinic_facilitators(clinic=clinic)
        self.fields["modality"].queryset = modality_choices(clinic=clinic).order_by("name", "pk")  # type: ignore[attr-defined]
        self.fields["room"].queryset = clinic_rooms_in_use(
            clinic=clinic, keep=group.room_id if group else None
        )  # type: ignore[attr-defined]
        if group is None:
            self.fields["lead_facilitator"].queryset = facilitators  # type: ignore[attr-defined]
            self.fields["co_facilitators"].queryset = facilitators  # type: ignore[attr-defined]
        else:
            del self.fields["lead_facilitator"]
            self.fields["co_facilitators"].queryset = facilitators.exclude(  # type: ignore[attr-defined]
                pk=group.lead_facilitator_id
            )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("A group needs a name.")
        return name

    def clean_billing_code(self) -> str:
        return self.cleaned_data["billing_code"].strip().upper()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        lead = cleaned.get("lead_facilitator")
        if (
            self.group is None
            and lead is not None
            and not can_create_group_run_by(
                self.user,
                clinic=self.clinic,
                lead=lead,
                co_facilitators=cleaned.get("co_facilitators") or [],
            )
        ):
            self.add_error(
                "lead_facilitator",
                "A facilitator creates groups they lead or co-facilitate: choose yourself "
                "as the lead or as a co-facilitator.",
            )
        return cleaned

    @classmethod
    def initial_for(cls, group: Group) -> dict[str, Any]:
        return {
            "name": group.name,
            "modality": group.modality_id,
            "description": group.description,
            "co_facilitators": [user.pk for user in group.co_facilitators.all()],
            "min_size": group.min_size,
            "max_size": group.max_size,
            "enrolment_policy": group.enrolment_policy,
            "room": group.room_id,
            "video_link": group.video_link,
            "billing_code": group.billing_code,
            "planned_start": group.planned_start,
            "planned_end": group.planned_end,
            "late_cancel_notice_hours": group.late_cancel_notice_hours,
        }


class StageChangeForm(PageForm):
    """Where the group moves next; the service decides whether it may (a note going back,
    the final session's date for adjourning)."""

    to = forms.ChoiceField(label="Move the group to", widget=forms.RadioSelect)
    note = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required when moving back to an earlier stage: say why.",
    )
    final_session_date = DayField(
        required=False,
        widget=DateInput(),
        help_text="Required when moving to adjourning: the date of the group's last session "
        "(a day the group meets).",
    )

    def __init__(self, *args: Any, group: Group, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to"].choices = [  # type: ignore[attr-defined]
            (stage.value, f"{stage.label}: {stage.guidance}")
            for stage in Stage
            if stage != group.stage
        ]

    def clean_final_session_date(self) -> dt.date | None:
        value = self.cleaned_data["final_session_date"]
        if value is not None and value > timezone.localdate() + dt.timedelta(
            days=366 * MAX_SCHEDULE_YEARS
        ):
            raise forms.ValidationError(
                f"The final session can be at most {MAX_SCHEDULE_YEARS} years ahead."
            )
        return value


class ScheduleForm(PageForm):
    """A weekly schedule in the clinic's local time; cleaned into one RRULE (``rule``)."""

    weekdays = forms.MultipleChoiceField(
        label="Meets on", choices=WEEKDAY_CHOICES, widget=forms.CheckboxSelectMultiple
    )
    start_time = forms.TimeField(
        label="Starts at", widget=TimeInput(), input_formats=["%H:%M", "%H:%M:%S"]
    )
    duration_minutes = forms.IntegerField(
        label="Length (minutes)", min_value=15, max_value=8 * 60, initial=90
    )
    interval = forms.IntegerField(
        label="Every how many weeks",
        min_value=1,
        max_value=52,
        initial=1,
        help_text="1 for every week, 2 for every other week.",
    )
    first_date = DayField(
        label="First date", widget=DateInput(), help_text="The series starts on or after it."
    )
    ends = forms.ChoiceField(
        label="Ends",
        choices=[("count", "After a number of sessions"), ("until", "On a date")],
        initial="count",
        widget=forms.RadioSelect,
    )
    count = forms.IntegerField(
        label="Number of sessions", required=False, min_value=1, max_value=MAX_SCHEDULE_SESSIONS
    )
    until = DayField(label="Last date", required=False, widget=DateInput(), help_text="Inclusive.")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        ends = cleaned.get("ends")
        count = cleaned.get("count")
        until = cleaned.get("until")
        if ends == "count" and count is None and "count" not in self.errors:
            self.add_error("count", "Say how many sessions the series has.")
        if ends == "until" and until is None and "until" not in self.errors:
            self.add_error("until", "Say the date of the last session.")
        first_date = cleaned.get("first_date")
        too_long = dt.timedelta(days=366 * MAX_SCHEDULE_YEARS)
        if ends == "until" and until and first_date and until - first_date > too_long:
            self.add_error("until", f"A schedule spans at most {MAX_SCHEDULE_YEARS} years.")
        weekdays = cleaned.get("weekdays")
        interval = cleaned.get("interval")
        if self.errors or not weekdays or interval is None:
            return cleaned
        try:
            cleaned["rule"] = rrule_build(
                weekdays=[day for day in WEEKDAYS if day in weekdays],
                interval=interval,
                count=count if ends == "count" else None,
                until=until if ends == "until" else None,
            )
        except ScheduleError as error:
            self.add_error("weekdays", error.message)
        return cleaned

    @classmethod
    def initial_for(cls, schedule: Schedule | None) -> dict[str, Any]:
        if schedule is None:
            return {}
        parts = dict(piece.split("=", 1) for piece in schedule.rrule.split(";") if "=" in piece)
        initial: dict[str, Any] = {
            "weekdays": [day for day in parts.get("BYDAY", "").split(",") if day in WEEKDAYS]
            or [WEEKDAYS[schedule.first_date.weekday()]],
            "start_time": schedule.start_time,
            "duration_minutes": schedule.duration_minutes,
            "interval": int(parts.get("INTERVAL", "1")),
            "first_date": schedule.first_date,
        }
        if "UNTIL" in parts:
            initial["ends"] = "until"
            initial["until"] = dt.datetime.strptime(parts["UNTIL"][:8], "%Y%m%d").date()
        else:
            initial["ends"] = "count"
            initial["count"] = int(parts.get("COUNT", "0")) or None
        return initial
