"""Forms of the enrolment pages: validation only; the views hand the cleaned data to the
services of :mod:`sessions.services.enrolment`, :mod:`sessions.services.waitlist` and
:mod:`sessions.services.agreements`, which hold the rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from members.models import Member
from sessions.enums import Finding, ScreeningOutcome
from sessions.models import Screening

SUPPORT_PLAN_NEEDED = "Describe the support plan for a member found suitable with support."


class MemberSearchForm(forms.Form):
    q = forms.CharField(
        label="Search by name",
        required=False,
        max_length=100,
        help_text="Part of the preferred or legal name, or of the e-mail address.",
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )


class ReferExistingForm(forms.Form):
    """Refer a member record the viewer may manage; ``members`` is that queryset, limited
    to the group's clinic (another record is "not one of the choices")."""

    member = forms.ModelChoiceField(
        queryset=Member.objects.none(),
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": "Choose a member of this group's clinic."},
    )

    def __init__(self, *args: Any, members: QuerySet[Member], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = members


class MemberCreateForm(forms.Form):
    """A new client record, with what it takes to reach them; the rest of the record
    (emergency contact, reminder preferences) is filled in later."""

    preferred_name = forms.CharField(
        max_length=100, help_text="What they like to be called; fellow members see only this."
    )
    legal_name = forms.CharField(max_length=200)
    email = forms.EmailField(label="E-mail", required=False, max_length=254)
    phone = forms.CharField(required=False, max_length=40)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["preferred_name"].widget.attrs["autocomplete"] = "off"
        self.fields["legal_name"].widget.attrs["autocomplete"] = "off"
        self.fields["email"].widget.attrs["autocomplete"] = "off"
        self.fields["phone"].widget.attrs.update({"autocomplete": "off", "type": "tel"})


def _area_label(area: str) -> str:
    label = str(Screening._meta.get_field(area).verbose_name)
    return label[:1].upper() + label[1:]


class ScreeningForm(forms.Form):
    """A finding and a note for each of :attr:`Screening.AREAS`, the outcome and, for
    "suitable with support", the support plan."""

    outcome = forms.ChoiceField(
        choices=ScreeningOutcome.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose the outcome of the screening."},
    )
    support_plan = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Needed when the outcome is suitable with a support plan.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: dict[str, forms.Field] = {}
        for area in Screening.AREAS:
            fields[area] = forms.ChoiceField(
                label=_area_label(area),
                choices=Finding.choices,
                widget=forms.RadioSelect,
                error_messages={"required": "Choose a finding for this area."},
            )
            fields[f"{area}_note"] = forms.CharField(
                label="Note",
                required=False,
                max_length=5000,
                widget=forms.Textarea(attrs={"rows": 3}),
            )
        # The areas first, in the clinical order; the outcome after them.
        self.fields = {**fields, **self.fields}

    def areas(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        """(finding, note) bound fields of each area, for the template."""
        return [(self[area], self[f"{area}_note"]) for area in Screening.AREAS]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if (
            cleaned.get("outcome") == ScreeningOutcome.SUITABLE_WITH_SUPPORT
            and not cleaned.get("support_plan", "").strip()
        ):
            self.add_error("support_plan", SUPPORT_PLAN_NEEDED)
        return cleaned

    def findings(self) -> dict[str, tuple[str, str]]:
        return {
            area: (self.cleaned_data[area], self.cleaned_data[f"{area}_note"])
            for area in Screening.AREAS
        }


class ActivateForm(forms.Form):
    override_reason = forms.CharField(
        label="Reason to override the screening",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Only a clinic admin may seat a member without a suitable screening. "
        "The reason is kept on the enrolment.",
    )


class LeaveForm(forms.Form):
    note = forms.CharField(
        label="Note (optional)",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why the member leaves. Kept on the enrolment and seen by the group's "
        "staff only.",
    )


class EmptyForm(forms.Form):
    """A confirmation with nothing to fill in: it carries the non-field errors."""
