"""Dates and times in the viewer's time zone (activated by ``ViewerTimezoneMiddleware``).

``{{ session.start|local_datetime:clinic_tz }}`` gives "Tue 1 Dec 2026, 18:00", and adds the
zone's name ("New York time") when the viewer's zone is not the clinic's, so a member
abroad knows which 18:00 is meant.
"""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format

register = template.Library()

DATE_FORMAT = "D j M Y"
TIME_FORMAT = "H:i"


def zone_label(name: str) -> str:
    """ "America/New_York" → "New York time"; "UTC" stays "UTC"."""
    city = name.rsplit("/", 1)[-1].replace("_", " ")
    return city if city.upper() == "UTC" else f"{city} time"


def _zone_suffix(clinic_tz: str | None) -> str:
    viewer = timezone.get_current_timezone_name()
    if clinic_tz and viewer != clinic_tz:
        return f" ({zone_label(viewer)})"
    return ""


def _local(value: dt.datetime) -> dt.datetime:
    return timezone.localtime(value) if timezone.is_aware(value) else value


@register.filter
def local_datetime(value: dt.datetime | None, clinic_tz: str | None = None) -> str:
    if value is None:
        return ""
    local = _local(value)
    return f"{date_format(local, DATE_FORMAT)}, {date_format(local, TIME_FORMAT)}" + (
        _zone_suffix(clinic_tz)
    )


@register.filter
def local_date(value: dt.datetime | dt.date | None) -> str:
    """A date as it is (a calendar day has no zone), or an instant's date in the viewer's."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = _local(value)
    return date_format(value, DATE_FORMAT)


@register.filter
def local_time(value: dt.datetime | None, clinic_tz: str | None = None) -> str:
    if value is None:
        return ""
    return date_format(_local(value), TIME_FORMAT) + _zone_suffix(clinic_tz)


@register.filter
def local_iso(value: dt.datetime | None) -> str:
    """For ``<time datetime="…">``: the instant in ISO 8601 with its offset."""
    return "" if value is None else _local(value).isoformat(timespec="minutes")
