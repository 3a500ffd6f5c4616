"""The clinic admin's forms: validation only; the views hand the cleaned data to a service."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.forms.models import ModelChoiceIterator
from django.utils import timezone

from groupcare.forms import DayField
from members.enums import Role
from members.models import Clinic, Member, User
from members.validators import validate_single_line


class _LoadedChoiceIterator(ModelChoiceIterator):
    """Iterates the field's queryset itself, whose rows are cached once read, where
    Django's iterator reads them again with ``.iterator()``: a view that reads a field's
    member records to audit them (:meth:`MemberChoiceField.shown`) and the widget that
    renders them then share one query."""

    def __iter__(self) -> Iterator[tuple[Any, str]]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset:
            yield self.choice(obj)


class ClinicChoiceField(forms.ModelChoiceField):
    """Which of the admin's clinics; the form drops it when there is only one."""

    def label_from_instance(self, obj: Clinic) -> str:
        return obj.name


def _clinic_field(clinics: QuerySet[Clinic], **kwargs: Any) -> ClinicChoiceField:
    return ClinicChoiceField(queryset=clinics, label="Clinic", **kwargs)


class MemberChoiceField(forms.ModelChoiceField):
    """A choice of member records: showing it shows their names, so the view audits
    :meth:`shown` (the rows the widget then renders, read once)."""

    iterator = _LoadedChoiceIterator

    def label_from_instance(self, obj: Member) -> str:
        return f"{obj.preferred_name} ({obj.legal_name})"

    def shown(self) -> list[Member]:
        return list(self.queryset)


class PeopleFilterForm(forms.Form):
    """Which people to list: one clinic (when the admin has several), staff or members,
    and a name."""

    SHOW_CHOICES = (
        ("staff", "All staff"),
        (Role.ADMIN.value, "Clinic admins"),
        (Role.FACILITATOR.value, "Facilitators"),
        (Role.MEMBER.value, "Members"),
    )

    clinic = forms.ModelChoiceField(queryset=Clinic.objects.none(), required=False)
    show = forms.ChoiceField(label="Show", choices=SHOW_CHOICES, required=False)
    name = forms.CharField(label="Name or e-mail", max_length=100, required=False)

    def __init__(self, *args: Any, clinics: QuerySet[Clinic], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clinics = list(clinics)
        # Kept (hidden) for an admin of one clinic too, so that another clinic's id is
        # refused rather than ignored.
        self.fields["clinic"] = _clinic_field(clinics, required=False, empty_label=None)
        if len(self.clinics) == 1:
            self.fields["clinic"].widget = forms.HiddenInput()

    def chosen_clinic(self) -> Clinic:
        chosen = self.cleaned_data.get("clinic") if self.is_valid() else None
        return chosen or self.clinics[0]

    def chosen(self, name: str) -> str:
        return (self.cleaned_data.get(name) or "") if self.is_valid() else ""


class InviteForm(forms.Form):
    """Who to invite, with which role; a member's invitation links an existing record
    without a login or describes a new one."""

    clinic = forms.ModelChoiceField(queryset=Clinic.objects.none())
    email = forms.EmailField(label="E-mail address", max_length=254)
    full_name = forms.CharField(
        label="Full name", max_length=150, validators=[validate_single_line]
    )
    role = forms.ChoiceField(
        label="Role",
        choices=[(role.value, role.label) for role in Role],
        widget=forms.RadioSelect,
    )
    member = MemberChoiceField(
        queryset=Member.objects.none(),
        required=False,
        label="Existing member record",
        empty_label="— A new member record —",
        help_text="For a member: the record to give this login to. Only records without a "
        "login are listed.",
    )
    preferred_name = forms.CharField(
        validators=[validate_single_line],
        label="Preferred name",
        max_length=100,
        required=False,
        help_text="For a new member record: the name used in the group.",
    )
    legal_name = forms.CharField(
        validators=[validate_single_line],
        label="Legal name",
        max_length=200,
        required=False,
        help_text="For a new member record.",
    )

    def __init__(
        self,
        *args: Any,
        clinics: QuerySet[Clinic],
        members: QuerySet[Member],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.clinics = list(clinics)
        several = len(self.clinics) > 1
        if several:
            self.fields["clinic"] = _clinic_field(clinics)
        else:
            del self.fields["clinic"]
        member_field: forms.ModelChoiceField = self.fields["member"]  # type: ignore[assignment]
        member_field.queryset = members
        member_field.label_from_instance = (  # type: ignore[method-assign]
            (lambda m: f"{m.preferred_name} ({m.legal_name}) — {m.clinic.name}")
            if several
            else (lambda m: f"{m.preferred_name} ({m.legal_name})")
        )

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        clinic = cleaned.get("clinic") or (self.clinics[0] if "clinic" not in self.fields else None)
        cleaned["clinic"] = clinic
        member = cleaned.get("member")
        if cleaned.get("role") != Role.MEMBER:
            if member is not None:
                self.add_error("member", "Leave this empty unless the role is Member.")
            return cleaned
        if member is not None and clinic is not None and member.clinic_id != clinic.pk:
            self.add_error("member", "Choose a member record of the chosen clinic.")
        if member is None and not cleaned.get("legal_name"):
            self.add_error(
                "legal_name", "Give the legal name for a new member record, or choose a record."
            )
        return cleaned


class RolesForm(forms.Form):
    """A staff member's roles in one clinic; neither box removes them from its staff."""

    admin = forms.BooleanField(
        label="Clinic admin: manages staff, members, rooms and the audit log", required=False
    )
    facilitator = forms.BooleanField(label="Facilitator: runs their own groups", required=False)

    def roles(self) -> set[Role]:
        return {
            role
            for role, name in ((Role.ADMIN, "admin"), (Role.FACILITATOR, "facilitator"))
            if self.cleaned_data.get(name)
        }


class ActorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return f"{obj.full_name} ({obj.email})" if obj.full_name else obj.email


class AuditFilterForm(forms.Form):
    """Filters of the audit log; every field is optional."""

    clinic = forms.ModelChoiceField(queryset=Clinic.objects.none(), required=False)
    actor = ActorChoiceField(
        queryset=User.objects.none(), required=False, label="Who", empty_label="Anyone"
    )
    action = forms.CharField(
        label="Action",
        max_length=100,
        required=False,
        help_text="A dotted name or its beginning, e.g. sessions.enrolment",
    )
    member_name = forms.CharField(
        label="About member",
        max_length=100,
        required=False,
        help_text="Part of a name, or a record number",
    )
    # One record, chosen among the matches of a name (or linked to): kept as an id, so the
    # page names nobody it was not asked about.
    member = forms.ModelChoiceField(
        queryset=Member.objects.none(), required=False, widget=forms.HiddenInput
    )
    start = DayField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = DayField(
        label="To (inclusive)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(
        self,
        *args: Any,
        clinics: QuerySet[Clinic],
        actors: QuerySet[User],
        members: QuerySet[Member],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        # Kept (hidden) for an admin of one clinic too, so that another clinic's id is
        # refused rather than ignored.
        self.fields["clinic"] = _clinic_field(clinics, required=False, empty_label="All my clinics")
        if len(clinics) == 1:
            self.fields["clinic"].widget = forms.HiddenInput()
        self.fields["actor"].queryset = actors  # type: ignore[attr-defined]
        self.fields["member"].queryset = members  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end < start:
            self.add_error("end", "The end date is before the start date.")
        clinic, member = cleaned.get("clinic"), cleaned.get("member")
        if clinic and member and member.clinic_id != clinic.pk:
            self.add_error("member", "Choose a member record of the chosen clinic.")
        return cleaned

    @staticmethod
    def day_start(day: dt.date | None) -> dt.datetime | None:
        """Midnight of ``day`` in the viewer's zone (activated by the middleware)."""
        if day is None:
            return None
        return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
