"""Rooms: validation only; ``room_create`` / ``room_update`` do the writes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from members.models import Clinic


class RoomForm(forms.Form):
    """A room's name and capacity; a clinic choice only for an admin of several clinics.
    With ``editing``, also whether the room is in use."""

    clinic = forms.ModelChoiceField(queryset=Clinic.objects.none(), label="Clinic")
    name = forms.CharField(label="Name", max_length=100)
    capacity = forms.IntegerField(
        label="Capacity",
        min_value=1,
        max_value=32767,
        help_text="How many people fit in the room, facilitators included.",
    )
    is_active = forms.BooleanField(
        label="In use (offered for new groups and sessions)", required=False
    )

    def __init__(
        self,
        *args: Any,
        clinics: QuerySet[Clinic] | None = None,
        editing: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.clinics = list(clinics) if clinics is not None else []
        if len(self.clinics) > 1 and not editing:
            self.fields["clinic"].queryset = clinics  # type: ignore[attr-defined]
        else:
            del self.fields["clinic"]
        if not editing:
            del self.fields["is_active"]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the room a name.")
        return name

    def chosen_clinic(self) -> Clinic:
        return self.cleaned_data.get("clinic") or self.clinics[0]
