from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError


def validate_timezone(value: str) -> None:
    """Accept only IANA zone names (``Europe/London``), which keep their DST rules."""
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            "%(value)s is not a known time zone; use an IANA name such as Europe/London.",
            params={"value": value},
            code="invalid_timezone",
        )


def validate_reminder_offsets(value: object) -> None:
    """A list of distinct whole minutes before a session, each between 5 minutes and 7 days."""
    if not isinstance(value, list) or not all(
        isinstance(item, int) and not isinstance(item, bool) for item in value
    ):
        raise ValidationError(
            "Reminder offsets must be a list of whole minutes.", code="invalid_offsets"
        )
    if len(set(value)) != len(value):
        raise ValidationError("Reminder offsets must not repeat.", code="duplicate_offsets")
    if any(item < 5 or item > 7 * 24 * 60 for item in value):
        raise ValidationError(
            "Each reminder offset must be between 5 minutes and 7 days.", code="offset_range"
        )


def validate_single_line(value: str) -> None:
    """A name is one line of printable text: a line break or other control character would
    break the e-mail headers and lists it is shown in."""
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValidationError(
            "Write this on one line, without line breaks or tabs.", code="control_character"
        )
