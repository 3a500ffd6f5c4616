"""Filters of the groups overview and the attendance report (GET forms: validation only)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.http import QueryDict

from groupcare.forms import DayField
from members.models import User
from sessions.enums import Stage
from sessions.models import Group
from sessions.selectors.exports import EXPORT_MAX_DAYS

#: How many full weeks the attendance report covers when no dates are given.
REPORT_DEFAULT_WEEKS = 8


class FacilitatorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:  # type: ignore[override]
        return obj.get_full_name()


class GroupOverviewFilterForm(forms.Form):
    """``stage`` and ``facilitator`` (one of ``facilitators``: who leads or co-leads a group
    the viewer runs); both optional."""

    stage = forms.ChoiceField(
        choices=[("", "All stages"), *Stage.choices], required=False, label="Stage"
    )
    facilitator = FacilitatorChoiceField(
        queryset=User.objects.none(),
        required=False,
        empty_label="All facilitators",
        label="Facilitator",
    )

    def __init__(self, *args: Any, facilitators: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["facilitator"].queryset = facilitators  # type: ignore[attr-defined]


def report_default_range(*, today: dt.date) -> tuple[dt.date, dt.date]:
    """The last :data:`REPORT_DEFAULT_WEEKS` full weeks before ``today``'s: Monday to
    Sunday."""
    this_monday = today - dt.timedelta(days=today.weekday())
    return this_monday - dt.timedelta(weeks=REPORT_DEFAULT_WEEKS), this_monday - dt.timedelta(
        days=1
    )


class AttendanceReportForm(forms.Form):
    """``start`` and ``end`` (local dates, both included, at most :data:`EXPORT_MAX_DAYS`
    days as in the API export), optional ``group`` and ``facilitator`` from the viewer's
    choices. Built with :meth:`from_query`, so dates left out take the default range."""

    start = DayField(
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    end = DayField(
        label="To",
        help_text=f"Both days included; at most {EXPORT_MAX_DAYS} days.",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    group = forms.ModelChoiceField(
        queryset=Group.objects.none(), required=False, empty_label="All groups", label="Group"
    )
    facilitator = FacilitatorChoiceField(
        queryset=User.objects.none(),
        required=False,
        empty_label="All facilitators",
        label="Facilitator",
    )

    def __init__(
        self,
        *args: Any,
        groups: QuerySet[Group],
        facilitators: QuerySet[User],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = groups  # type: ignore[attr-defined]
        self.fields["facilitator"].queryset = facilitators  # type: ignore[attr-defined]

    @classmethod
    def from_query(
        cls,
        query: QueryDict,
        *,
        today: dt.date,
        groups: QuerySet[Group],
        facilitators: QuerySet[User],
    ) -> AttendanceReportForm:
        """The form bound to the page's query string, the default range filling in a date
        that is absent (an empty or malformed one is an error, not a default)."""
        data = query.copy()
        first_day, last_day = report_default_range(today=today)
        data.setdefault("start", first_day.isoformat())
        data.setdefault("end", last_day.isoformat())
        return cls(data=data, groups=groups, facilitators=facilitators)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        first_day, last_day = cleaned.get("start"), cleaned.get("end")
        if first_day is None or last_day is None:
            return cleaned
        if last_day < first_day:
            self.add_error("end", "The last day cannot be before the first day.")
        elif (last_day - first_day).days + 1 > EXPORT_MAX_DAYS:
            self.add_error(
                "end",
                f"A report covers at most {EXPORT_MAX_DAYS} days; choose a shorter range.",
            )
        return cleaned
