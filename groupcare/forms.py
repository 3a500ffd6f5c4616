"""Form pieces every part of the app shares."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from django import forms
from django.core.exceptions import ValidationError

from groupcare.errors import DomainError

EARLIEST_DAY: Final = dt.date(2000, 1, 1)
LATEST_DAY: Final = dt.date(2099, 12, 31)


class DayField(forms.DateField):
    """A calendar day in the years a clinic plans in (2000 to 2099). A slip such as the year
    0001 or 9999 is named next to the field instead of reaching time-zone arithmetic that
    cannot hold it."""

    default_error_messages = {
        "out_of_range": "Give a date between the years 2000 and 2099.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.DateInput(attrs={"type": "date"}))
        super().__init__(**kwargs)

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value is not None and not EARLIEST_DAY <= value <= LATEST_DAY:
            raise forms.ValidationError(self.error_messages["out_of_range"], code="out_of_range")


def add_refusal(form: forms.Form, error: Exception, field: str | None = None) -> None:
    """Show a service's refusal on ``form``, next to the field it concerns: a
    ValidationError's fields on those fields (one the form lacks at the top), a domain
    error on ``field`` (or at the top)."""
    if isinstance(error, ValidationError):
        if hasattr(error, "error_dict"):
            for name, errors in error.message_dict.items():
                form.add_error(name if name in form.fields else None, errors)
        else:
            form.add_error(field if field in form.fields else None, error.messages)
        return
    message = error.message if isinstance(error, DomainError) else str(error)
    form.add_error(field if field in form.fields else None, message)
