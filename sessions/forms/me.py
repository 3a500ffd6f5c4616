"""Forms of a member's own pages: "I can't come", accepting the group agreement, and the
reminder and time-zone settings of one member record. Validation only: the views pass the
cleaned data to the services."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms

from members.models import Member

#: The reminder times a member picks from, in minutes before the session.
REMINDER_PRESETS = (7 * 24 * 60, 24 * 60, 2 * 60, 60, 30)


def offset_label(minutes: int) -> str:
    """180 → "3 hours before", 1440 → "1 day before", 10080 → "1 week before"."""
    for size, unit in ((7 * 24 * 60, "week"), (24 * 60, "day"), (60, "hour"), (1, "minute")):
        if minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}{'' if count == 1 else 's'} before"
    return f"{minutes} minutes before"  # pragma: no cover - the loop always returns


class CantComeForm(forms.Form):
    """Nothing to fill in: the service takes no reason. The form only carries the CSRF
    check and a place for the service's refusal."""


class AgreementAcceptForm(forms.Form):
    agreement = forms.IntegerField(widget=forms.HiddenInput)
    accept = forms.BooleanField(
        label="I have read this agreement and I accept it",
        error_messages={"required": "Tick the box to say that you accept the agreement."},
    )


def _zone_choices(clinic_zone: str) -> list[tuple[str, str]]:
    zones = sorted(zoneinfo.available_timezones())
    return [("", f"Same as my clinic ({clinic_zone})"), *((zone, zone) for zone in zones)]


class ReminderSettingsForm(forms.Form):
    """The reminder preferences and time zone of ONE member record (a person who is a member
    in two clinics has a record, and so a form, per clinic)."""

    reminders_enabled = forms.BooleanField(
        required=False, label="Send me reminders before my meetings"
    )
    reminder_offsets = forms.TypedMultipleChoiceField(
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="When to remind me",
    )
    quiet_hours = forms.BooleanField(
        required=False,
        label="Quiet hours: no reminders between 21:00 and 08:00",
        help_text="A reminder due at night waits until 08:00, unless your meeting starts "
        "before then.",
    )
    timezone = forms.ChoiceField(
        label="My time zone",
        required=False,
        help_text="Meeting times on these pages and in reminders are shown in this zone.",
    )

    def __init__(self, *args: Any, member: Member, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", f"member-{member.pk}")
        kwargs.setdefault("label_suffix", "")
        kwargs.setdefault(
            "initial",
            {
                "reminders_enabled": member.reminders_enabled,
                "reminder_offsets": list(member.reminder_offsets),
                "quiet_hours": member.quiet_hours,
                "timezone": member.timezone,
            },
        )
        super().__init__(*args, **kwargs)
        self.member = member
        # Keep any offset set elsewhere (the API, staff) choosable, so saving this form never
        # drops it silently.
        offsets = sorted(
            {*REMINDER_PRESETS, *(o for o in member.reminder_offsets if isinstance(o, int))},
            reverse=True,
        )
        self.fields["reminder_offsets"].choices = [(o, offset_label(o)) for o in offsets]
        self.fields["timezone"].choices = _zone_choices(member.clinic.timezone)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("reminders_enabled") and not cleaned.get("reminder_offsets"):
            self.add_error(
                "reminder_offsets", "Choose at least one time, or turn reminders off above."
            )
        return cleaned

    def service_fields(self) -> dict[str, Any]:
        """The fields for :func:`member_update_with_reminders`. With reminders off and no
        time ticked, the stored times stay as they are (for when reminders are turned on
        again)."""
        data = self.cleaned_data
        fields: dict[str, Any] = {
            "reminders_enabled": data["reminders_enabled"],
            "quiet_hours": data["quiet_hours"],
            "timezone": data["timezone"],
        }
        offsets = sorted(set(data["reminder_offsets"]), reverse=True)
        if offsets:
            fields["reminder_offsets"] = offsets
        return fields
