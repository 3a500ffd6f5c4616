"""Member records and enrolments: input serializers validate only, output serializers render.

Privileged fields (a record's clinic, its login, who created it; an enrolment's status and
dates) are not input fields anywhere: sent, they are ignored. Ids in input fields are looked
up in what the caller may see, so an id they cannot see is a 400 "does not exist".
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied

from groupcare.api import InputSerializer, QueryParameters
from members.models import Member
from sessions.api.groups.serializers import ClinicChoiceSerializer
from sessions.api.reminders.serializers import ReminderPreferencesInputSerializer
from sessions.enums import EnrolmentStatus, Finding, ScreeningOutcome
from sessions.models import Enrolment, Group, Screening
from sessions.permissions import managed_member_queryset_for

# --------------------------------------------------------------------------- members


class MemberFieldsInputSerializer(ReminderPreferencesInputSerializer):
    """What the clinic's staff set on a member record: the contact details, and the
    reminder preferences a member may also set themselves."""

    preferred_name = serializers.CharField(max_length=100)
    legal_name = serializers.CharField(max_length=200)
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=40)
    emergency_contact_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    emergency_contact_phone = serializers.CharField(required=False, allow_blank=True, max_length=40)


class MemberCreateInputSerializer(ClinicChoiceSerializer, MemberFieldsInputSerializer):
    pass


class MemberUpdateInputSerializer(MemberFieldsInputSerializer):
    """Every field optional (PATCH); ``clinic``, ``user`` and ``created_by`` are not
    fields here, so sending them changes nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["partial"] = True
        super().__init__(*args, **kwargs)


class MemberListFilterSerializer(QueryParameters):
    q = serializers.CharField(
        required=False,
        max_length=100,
        help_text="Part of the preferred or legal name or of the e-mail address.",
    )
    group = serializers.IntegerField(
        required=False, min_value=1, help_text="Members ever enrolled in this group."
    )


class MemberOutputSerializer(serializers.ModelSerializer):
    # "" when the clinic has no address on file, so not documented as an e-mail format.
    email = serializers.CharField(read_only=True, help_text="E-mail address; empty if none.")
    effective_timezone = serializers.CharField(read_only=True)

    class Meta:
        model = Member
        fields = [
            "id",
            "clinic",
            "user",
            "preferred_name",
            "legal_name",
            "email",
            "phone",
            "emergency_contact_name",
            "emergency_contact_phone",
            "timezone",
            "effective_timezone",
            "reminders_enabled",
            "reminder_offsets",
            "quiet_hours",
            "created_by",
            "created_at",
            "updated_at",
            "anonymised_at",
        ]
        read_only_fields = fields

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["reminder_offsets"] = serializers.ListField(
            child=serializers.IntegerField(), read_only=True
        )
        return fields


# --------------------------------------------------------------------------- enrolments


class EnrolmentListFilterSerializer(QueryParameters):
    group = serializers.IntegerField(required=False, min_value=1)
    member = serializers.IntegerField(required=False, min_value=1)
    status = serializers.ChoiceField(choices=EnrolmentStatus.choices, required=False)


class EnrolmentReferInputSerializer(InputSerializer):
    """``context["user"]``: the caller; ``context["groups"]``: the groups they may see, with
    ``can_manage`` (a group they see but do not run is a 403). The member is looked up among
    the records they may manage; another clinic's client is a 400."""

    group = serializers.PrimaryKeyRelatedField(queryset=Group.objects.none())
    member = serializers.PrimaryKeyRelatedField(queryset=Member.objects.none())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "user" in self.context:
            self.fields["group"].queryset = self.context["groups"]
            self.fields["member"].queryset = managed_member_queryset_for(self.context["user"])

    def validate_group(self, group: Group) -> Group:
        # Checked before the member: a group the caller sees but does not run is a 403
        # whatever the rest of the body says.
        if not group.can_manage:
            raise PermissionDenied("Only the group's facilitators and a clinic admin may refer.")
        return group

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["member"].clinic_id != attrs["group"].clinic_id:
            raise serializers.ValidationError(
                {"member": ["This member is not a client of the group's clinic."]}
            )
        return attrs


class FindingInputSerializer(InputSerializer):
    finding = serializers.ChoiceField(choices=Finding.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class FindingsInputSerializer(InputSerializer):
    """One finding (and note) for each of the four contraindication areas; another key is
    refused."""

    acute_illness = FindingInputSerializer(
        help_text="Severe or acute mental illness needing more intensive care."
    )
    anxiety_or_trauma = FindingInputSerializer(
        help_text="Pronounced social anxiety or trauma history the group may trigger."
    )
    disruptive_behaviour = FindingInputSerializer(
        help_text="Disruptive behaviour that could harm cohesion."
    )
    individual_needs = FindingInputSerializer(
        help_text="Needs better served by individual therapy."
    )

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(str(key) for key in data if key not in Screening.AREAS)
            if unknown:
                message = f"Unknown screening area; the areas are: {', '.join(Screening.AREAS)}."
                raise serializers.ValidationError({area: [message] for area in unknown})
        return super().to_internal_value(data)


class ScreeningInputSerializer(InputSerializer):
    findings = FindingsInputSerializer()
    outcome = serializers.ChoiceField(choices=ScreeningOutcome.choices)
    support_plan = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=5000,
        help_text="Required when the outcome is suitable_with_support.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if (
            attrs["outcome"] == ScreeningOutcome.SUITABLE_WITH_SUPPORT
            and not attrs["support_plan"].strip()
        ):
            raise serializers.ValidationError(
                {
                    "support_plan": [
                        "Describe the support plan for a member found suitable with support."
                    ]
                }
            )
        return attrs


class ActivateInputSerializer(InputSerializer):
    override_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=2000,
        help_text="A clinic admin's reason to seat a member whose screening does not allow it.",
    )


class LeaveInputSerializer(InputSerializer):
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=5000,
        help_text="Why the member leaves; kept on the enrolment, seen by its staff only.",
    )


class _NamedRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class _MemberRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    preferred_name = serializers.CharField()
    legal_name = serializers.CharField()


class _UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    full_name = serializers.CharField()


class _LatestScreeningSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=ScreeningOutcome.choices)
    screened_at = serializers.DateTimeField()


class EnrolmentMemberOutputSerializer(serializers.ModelSerializer):
    """What a member sees of their own enrolment: no screening, notes or staff fields."""

    view = serializers.SerializerMethodField()
    group = _NamedRefSerializer()
    # A plain string in the schema: the enum is documented once, on the staff view, because
    # the same choice set in two components needs a settings-wide ENUM_NAME_OVERRIDES entry.
    status = serializers.CharField(
        help_text="As `status` of the staff view: referred, screening, waitlisted, active, "
        "completed, withdrawn, discharged or declined."
    )
    waitlist_position = serializers.IntegerField(allow_null=True)

    class Meta:
        model = Enrolment
        fields = ["id", "view", "group", "status", "joined_on", "left_on", "waitlist_position"]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=["member"]))
    def get_view(self, obj: Enrolment) -> str:
        return "member"


class EnrolmentStaffOutputSerializer(serializers.ModelSerializer):
    """What the group's staff see of an enrolment."""

    view = serializers.SerializerMethodField()
    group = _NamedRefSerializer()
    member = _MemberRefSerializer()
    waitlist_position = serializers.IntegerField(allow_null=True)
    # The values without their labels: the labelled choice set is already an enum of the
    # roster's component, and sharing it across components needs an ENUM_NAME_OVERRIDES
    # entry in the settings (not this area's to change).
    status = serializers.ChoiceField(choices=EnrolmentStatus.values)
    latest_screening = serializers.SerializerMethodField(
        help_text="Outcome and time of the latest screening; null when none is recorded."
    )

    class Meta:
        model = Enrolment
        fields = [
            "id",
            "view",
            "group",
            "member",
            "status",
            "referred_at",
            "waitlisted_at",
            "joined_on",
            "left_on",
            "left_at",
            "leave_note",
            "waitlist_position",
            "latest_screening",
            "screening_override_reason",
            "screening_override_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=["staff"]))
    def get_view(self, obj: Enrolment) -> str:
        return "staff"

    @extend_schema_field(_LatestScreeningSerializer(allow_null=True))
    def get_latest_screening(self, obj: Enrolment) -> dict[str, Any] | None:
        if obj.screening_outcome is None:
            return None
        return _LatestScreeningSerializer(
            {"outcome": obj.screening_outcome, "screened_at": obj.screened_at}
        ).data


def enrolment_representation(enrolment: Enrolment) -> dict[str, Any]:
    """The staff view for those who run the group, the member view for the member."""
    if enrolment.can_manage:
        return EnrolmentStaffOutputSerializer(enrolment).data
    return EnrolmentMemberOutputSerializer(enrolment).data


class _FindingOutputSerializer(serializers.Serializer):
    finding = serializers.ChoiceField(choices=Finding.choices)
    note = serializers.CharField()


class _FindingsOutputSerializer(serializers.Serializer):
    acute_illness = _FindingOutputSerializer()
    anxiety_or_trauma = _FindingOutputSerializer()
    disruptive_behaviour = _FindingOutputSerializer()
    individual_needs = _FindingOutputSerializer()


class ScreeningOutputSerializer(serializers.ModelSerializer):
    findings = serializers.SerializerMethodField()
    screened_by = _UserRefSerializer()

    class Meta:
        model = Screening
        fields = [
            "id",
            "enrolment",
            "findings",
            "outcome",
            "support_plan",
            "screened_by",
            "screened_at",
        ]
        read_only_fields = fields

    @extend_schema_field(_FindingsOutputSerializer)
    def get_findings(self, obj: Screening) -> dict[str, dict[str, str]]:
        return {
            area: {"finding": getattr(obj, area), "note": getattr(obj, f"{area}_note")}
            for area in Screening.AREAS
        }
