"""A member's own reminder preferences, on each of their member records."""

from __future__ import annotations

import zoneinfo

from rest_framework import serializers

from groupcare.api import InputSerializer
from members.models import Member


class ReminderPreferencesInputSerializer(InputSerializer):
    """When a member is reminded, every field optional (send only what changes); set by the
    member themselves or, with the rest of the record, by the clinic's staff."""

    reminders_enabled = serializers.BooleanField(required=False)
    reminder_offsets = serializers.ListField(
        child=serializers.IntegerField(min_value=5, max_value=7 * 24 * 60),
        required=False,
        min_length=1,
        max_length=10,
        help_text="Minutes before a session at which to remind (5 minutes to 7 days); a "
        "repeated offset counts once. To send none, turn reminders_enabled off.",
    )
    quiet_hours = serializers.BooleanField(
        required=False,
        help_text="Hold reminders due between 21:00 and 08:00 (member-local) until 08:00, "
        "unless the session starts before then.",
    )
    timezone = serializers.ChoiceField(
        choices=sorted(zoneinfo.available_timezones()),
        required=False,
        allow_blank=True,
        help_text="An IANA time zone such as Europe/London; blank: the clinic's.",
        error_messages={
            "invalid_choice": "{input} is not a known time zone; use an IANA name such as "
            "Europe/London."
        },
    )

    def validate_reminder_offsets(self, value: list[int]) -> list[int]:
        return list(dict.fromkeys(value))


class ReminderPreferencesOutputSerializer(serializers.ModelSerializer):
    member = serializers.IntegerField(source="pk", read_only=True, help_text="Your member record.")
    clinic_name = serializers.CharField(source="clinic.name", read_only=True)
    reminder_offsets = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    effective_timezone = serializers.CharField(read_only=True)

    class Meta:
        model = Member
        fields = [
            "member",
            "clinic",
            "clinic_name",
            "reminders_enabled",
            "reminder_offsets",
            "quiet_hours",
            "timezone",
            "effective_timezone",
        ]
        read_only_fields = fields
