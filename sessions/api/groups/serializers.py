"""Groups, their stage, schedule, roster and agreement; rooms and modalities.

Input serializers validate only; ids of other rows are looked up in querysets limited to
what the caller may use (the group's clinic), so an id of another clinic reads as "does
not exist". Output serializers come in two shapes for a group: the staff view (every field)
and the member view (name, schedule, place, facilitators' names, stage).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.utils import timezone
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from groupcare.api import DayField, InputSerializer, OptionalURLField, QueryParameters
from members.enums import Role
from members.models import Clinic, Member, User
from sessions.enums import (
    STAGE_GUIDANCE,
    AcceptanceMethod,
    EnrolmentPolicy,
    EnrolmentStatus,
    GroupStatus,
    Stage,
)
from sessions.errors import ScheduleError
from sessions.models import (
    Agreement,
    AgreementAcceptance,
    Enrolment,
    Group,
    GroupSession,
    Modality,
    Room,
    Schedule,
    StageTransition,
)
from sessions.selectors.groups import modality_choices, schedule_summary
from sessions.services.scheduling import WEEKDAYS, rrule_build, rrule_validate

#: A schedule may produce at most this many sessions (weekly for ten years): a bound on the
#: work one request can ask for.
MAX_SCHEDULE_SESSIONS = 520
MAX_SCHEDULE_YEARS = 10


def _facilitators_of(clinic: Clinic) -> Any:
    return User.objects.filter(
        clinic_roles__clinic=clinic, clinic_roles__role=Role.FACILITATOR, is_active=True
    ).distinct()


# --- small shared pieces -------------------------------------------------------------------


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    full_name = serializers.CharField()


class FacilitatorNameSerializer(serializers.Serializer):
    full_name = serializers.CharField()


class ModalityOutputSerializer(serializers.ModelSerializer):
    clinic = serializers.IntegerField(
        source="clinic_id", allow_null=True, help_text="Null for a built-in modality."
    )

    class Meta:
        model = Modality
        fields = ["id", "clinic", "slug", "name"]
        read_only_fields = fields


class RoomOutputSerializer(serializers.ModelSerializer):
    clinic = serializers.IntegerField(source="clinic_id")

    class Meta:
        model = Room
        fields = ["id", "clinic", "name", "capacity", "is_active"]
        read_only_fields = fields


class RoomNameSerializer(serializers.ModelSerializer):
    class Meta:
        model = Room
        fields = ["id", "name"]
        read_only_fields = fields


class StageGuidanceSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=Stage.choices)
    label = serializers.CharField()
    guidance = serializers.CharField()


def stage_guidance_list() -> list[dict[str, str]]:
    return [
        {"stage": stage.value, "label": stage.label, "guidance": STAGE_GUIDANCE[stage]}
        for stage in Stage
    ]


class ScheduleOutputSerializer(serializers.ModelSerializer):
    start_time = serializers.TimeField(format="%H:%M", help_text="Local time, HH:MM.")
    timezone = serializers.SerializerMethodField()
    summary = serializers.SerializerMethodField()

    class Meta:
        model = Schedule
        fields = [
            "rrule",
            "first_date",
            "start_time",
            "duration_minutes",
            "timezone",
            "summary",
            "updated_at",
        ]
        read_only_fields = fields

    def get_timezone(self, schedule: Schedule) -> str:
        return schedule.group.clinic.timezone

    def get_summary(self, schedule: Schedule) -> str:
        return schedule_summary(schedule, schedule.group.clinic.timezone)


class MemberScheduleSerializer(ScheduleOutputSerializer):
    class Meta(ScheduleOutputSerializer.Meta):
        fields = ["first_date", "start_time", "duration_minutes", "timezone", "summary"]
        read_only_fields = fields


def _schedule_of(group: Group) -> Schedule | None:
    try:
        return group.schedule
    except Schedule.DoesNotExist:
        return None


# --- groups: output ------------------------------------------------------------------------


class GroupStaffOutputSerializer(serializers.ModelSerializer):
    """The whole group, for the clinic admin and its facilitators."""

    view = serializers.SerializerMethodField(help_text='"staff": every field of the group.')
    clinic = serializers.IntegerField(source="clinic_id")
    modality = ModalityOutputSerializer()
    lead_facilitator = PersonSerializer()
    co_facilitators = PersonSerializer(many=True)
    room = RoomNameSerializer(allow_null=True)
    video_link = OptionalURLField()
    stage_guidance = serializers.CharField()
    stages = serializers.SerializerMethodField()
    schedule = serializers.SerializerMethodField()

    class Meta:
        model = Group
        fields = [
            "id",
            "view",
            "clinic",
            "name",
            "description",
            "modality",
            "lead_facilitator",
            "co_facilitators",
            "min_size",
            "max_size",
            "enrolment_policy",
            "room",
            "video_link",
            "billing_code",
            "planned_start",
            "planned_end",
            "late_cancel_notice_hours",
            "status",
            "stage",
            "stage_guidance",
            "stages",
            "final_session_date",
            "schedule",
            "created_at",
        ]
        read_only_fields = fields

    def get_view(self, group: Group) -> str:
        return "staff"

    @extend_schema_field(StageGuidanceSerializer(many=True))
    def get_stages(self, group: Group) -> list[dict[str, str]]:
        return stage_guidance_list()

    @extend_schema_field(ScheduleOutputSerializer(allow_null=True))
    def get_schedule(self, group: Group) -> dict[str, Any] | None:
        schedule = _schedule_of(group)
        return ScheduleOutputSerializer(schedule).data if schedule else None


class SeatHolderLinkField(OptionalURLField):
    """The video link, for a member with a seat in the group (``has_seat``, annotated by the
    selectors); null for one on the waitlist or who has left, who may see the group but not
    join its meetings."""

    def get_attribute(self, instance: Any) -> Any:
        return super().get_attribute(instance) if getattr(instance, "has_seat", False) else None


class GroupMemberOutputSerializer(serializers.ModelSerializer):
    """What a member of the group sees: no billing code, sizes, notes or ids of people."""

    view = serializers.SerializerMethodField(help_text='"member": the member-safe view.')
    facilitators = serializers.SerializerMethodField()
    room = serializers.CharField(source="room.name", allow_null=True, default=None)
    video_link = SeatHolderLinkField()
    schedule = serializers.SerializerMethodField()

    class Meta:
        model = Group
        fields = ["id", "view", "name", "stage", "schedule", "room", "video_link", "facilitators"]
        read_only_fields = fields

    def get_view(self, group: Group) -> str:
        return "member"

    @extend_schema_field(FacilitatorNameSerializer(many=True))
    def get_facilitators(self, group: Group) -> list[dict[str, str]]:
        people = [group.lead_facilitator, *group.co_facilitators.all()]
        return [{"full_name": person.full_name} for person in people]

    @extend_schema_field(MemberScheduleSerializer(allow_null=True))
    def get_schedule(self, group: Group) -> dict[str, Any] | None:
        schedule = _schedule_of(group)
        return MemberScheduleSerializer(schedule).data if schedule else None


def group_representation(group: Group) -> dict[str, Any]:
    """The staff view for those who may run the group, the member view for everyone else
    (``group.can_manage`` comes from :func:`sessions.selectors.groups.group_list`)."""
    if getattr(group, "can_manage", False):
        return GroupStaffOutputSerializer(group).data
    return GroupMemberOutputSerializer(group).data


# --- groups: input -------------------------------------------------------------------------


class ClinicChoiceSerializer(InputSerializer):
    clinic = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="The clinic; needed only when you are staff in more than one.",
    )


class _GroupFieldsSerializer(InputSerializer):
    """The fields a group's creator sets and its managers change; ``context["clinic"]``
    limits the modality, room and facilitator ids to that clinic."""

    name = serializers.CharField(max_length=150)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    modality = serializers.PrimaryKeyRelatedField(queryset=Modality.objects.none())
    co_facilitators = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.none(), many=True, required=False
    )
    min_size = serializers.IntegerField(required=False, min_value=1, max_value=500)
    max_size = serializers.IntegerField(required=False, min_value=1, max_value=500)
    enrolment_policy = serializers.ChoiceField(choices=EnrolmentPolicy.choices, required=False)
    room = serializers.PrimaryKeyRelatedField(
        queryset=Room.objects.none(), required=False, allow_null=True
    )
    video_link = serializers.CharField(required=False, allow_blank=True, max_length=200)
    billing_code = serializers.CharField(required=False, max_length=10)
    planned_start = DayField()
    planned_end = DayField(required=False, allow_null=True)
    late_cancel_notice_hours = serializers.IntegerField(
        required=False, min_value=0, max_value=24 * 14
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        clinic: Clinic | None = self.context.get("clinic")
        if clinic is None:  # the schema generator
            return
        self.fields["modality"].queryset = modality_choices(clinic=clinic)
        self.fields["co_facilitators"].child_relation.queryset = _facilitators_of(clinic)
        self.fields["room"].queryset = Room.objects.filter(clinic=clinic, is_active=True)

    def validate_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("A group needs a name.")
        return value.strip()


class GroupCreateInputSerializer(ClinicChoiceSerializer, _GroupFieldsSerializer):
    lead_facilitator = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.none(),
        required=False,
        help_text="A facilitator of the clinic; defaults to you when you are one.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "clinic" in self.context:
            self.fields["lead_facilitator"].queryset = _facilitators_of(self.context["clinic"])


class GroupUpdateInputSerializer(_GroupFieldsSerializer):
    """Every field optional (PATCH). Clinic, stage, status, the final session date and the
    lead facilitator are not here: sending them changes nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("partial", True)
        super().__init__(*args, **kwargs)


# --- stage ---------------------------------------------------------------------------------


# Every stage field points at the one component of the stage enum ("StageEnum", named after
# the group's ``stage``), instead of the schema naming the same choices once per field.
_STAGE_SCHEMA = {"$ref": "#/components/schemas/StageEnum"}


@extend_schema_field(_STAGE_SCHEMA)
class StageChoiceField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Stage.choices, **kwargs)


class StageTransitionOutputSerializer(serializers.ModelSerializer):
    by = PersonSerializer()
    from_stage = serializers.SerializerMethodField(help_text="Null for the group's creation.")
    to_stage = serializers.SerializerMethodField()
    guidance = serializers.SerializerMethodField(help_text="Guidance for the stage moved to.")

    class Meta:
        model = StageTransition
        fields = ["id", "from_stage", "to_stage", "by", "at", "note", "guidance"]
        read_only_fields = fields

    @extend_schema_field({"allOf": [_STAGE_SCHEMA], "nullable": True})
    def get_from_stage(self, transition: StageTransition) -> str | None:
        return transition.from_stage or None

    @extend_schema_field(_STAGE_SCHEMA)
    def get_to_stage(self, transition: StageTransition) -> str:
        return transition.to_stage

    def get_guidance(self, transition: StageTransition) -> str:
        return STAGE_GUIDANCE[Stage(transition.to_stage)]


class StageChangeInputSerializer(InputSerializer):
    to = StageChoiceField()
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    final_session_date = DayField(
        required=False, allow_null=True, default=None, help_text="Needed to move to adjourning."
    )

    def validate_final_session_date(self, value: dt.date | None) -> dt.date | None:
        if value is not None and value > timezone.localdate() + dt.timedelta(
            days=366 * MAX_SCHEDULE_YEARS
        ):
            raise serializers.ValidationError(
                f"The final session can be at most {MAX_SCHEDULE_YEARS} years ahead."
            )
        return value


# --- schedule ------------------------------------------------------------------------------


class ScheduleInputSerializer(InputSerializer):
    """Either ``rrule`` or ``weekdays`` (+ ``interval`` and ``count`` or ``until``)."""

    rrule = serializers.CharField(
        required=False,
        max_length=500,
        help_text="An RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=TU;COUNT=12",
    )
    weekdays = serializers.ListField(
        child=serializers.ChoiceField(choices=WEEKDAYS),
        required=False,
        min_length=1,
        max_length=7,
        help_text='Weekday codes, e.g. ["TU", "TH"].',
    )
    interval = serializers.IntegerField(required=False, min_value=1, max_value=52)
    count = serializers.IntegerField(required=False, min_value=1, max_value=MAX_SCHEDULE_SESSIONS)
    until = DayField(required=False, help_text="Local date, inclusive.")
    first_date = DayField(help_text="Local date of the first session.")
    start_time = serializers.TimeField(
        format="%H:%M", input_formats=["%H:%M"], help_text="Local wall-clock time, HH:MM."
    )
    duration_minutes = serializers.IntegerField(min_value=15, max_value=8 * 60)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Turn either form into one normalised, bounded RRULE in ``attrs["rule"]``."""
        has_rule = "rrule" in attrs
        if has_rule == ("weekdays" in attrs):
            raise serializers.ValidationError("Give either rrule or weekdays, not both.")
        try:
            if has_rule:
                extra = [key for key in ("interval", "count", "until") if key in attrs]
                if extra:
                    raise serializers.ValidationError(
                        {extra[0]: ["This goes with weekdays; with an rrule, put it in the rule."]}
                    )
                rule = rrule_validate(attrs["rrule"])
            else:
                if ("count" in attrs) == ("until" in attrs):
                    raise serializers.ValidationError(
                        {"count": ["With weekdays, give count (sessions) or until (last date)."]}
                    )
                rule = rrule_build(
                    weekdays=list(dict.fromkeys(attrs["weekdays"])),
                    interval=attrs.get("interval", 1),
                    count=attrs.get("count"),
                    until=attrs.get("until"),
                )
        except ScheduleError as error:
            field = "rrule" if has_rule else "weekdays"
            raise serializers.ValidationError({field: [error.message]}) from None
        parts = dict(piece.split("=", 1) for piece in rule.split(";"))
        field = "rrule" if has_rule else "count"
        if int(parts.get("COUNT", "0")) > MAX_SCHEDULE_SESSIONS:
            raise serializers.ValidationError(
                {field: [f"A schedule has at most {MAX_SCHEDULE_SESSIONS} sessions."]}
            )
        if "UNTIL" in parts:
            until = dt.datetime.strptime(parts["UNTIL"][:8], "%Y%m%d").date()
            if until - attrs["first_date"] > dt.timedelta(days=366 * MAX_SCHEDULE_YEARS):
                raise serializers.ValidationError(
                    {
                        "rrule" if has_rule else "until": [
                            f"A schedule spans at most {MAX_SCHEDULE_YEARS} years."
                        ]
                    }
                )
        attrs["rule"] = rule
        return attrs


class ScheduledSessionSerializer(serializers.ModelSerializer):
    start = serializers.SerializerMethodField()
    end = serializers.SerializerMethodField()

    class Meta:
        model = GroupSession
        fields = ["id", "start", "end", "status"]
        read_only_fields = fields

    def _local(self, moment: dt.datetime) -> str:
        return moment.astimezone(zoneinfo.ZoneInfo(self.context["timezone"])).isoformat()

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_start(self, session: GroupSession) -> str:
        return self._local(session.start)

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_end(self, session: GroupSession) -> str:
        return self._local(session.end)


class ScheduleSetOutputSerializer(serializers.Serializer):
    schedule = ScheduleOutputSerializer()
    sessions = ScheduledSessionSerializer(
        many=True, help_text="Every session of the group from now on, in the clinic's time."
    )


# --- roster --------------------------------------------------------------------------------


class RosterMemberSerializer(serializers.ModelSerializer):
    class Meta:
        model = Member
        fields = [
            "id",
            "preferred_name",
            "legal_name",
            "email",
            "phone",
            "emergency_contact_name",
            "emergency_contact_phone",
        ]
        read_only_fields = fields


class RosterStaffEntrySerializer(serializers.ModelSerializer):
    """One enrolment of the group, for staff who manage it."""

    enrolment = serializers.IntegerField(source="pk")
    member = RosterMemberSerializer()

    class Meta:
        model = Enrolment
        fields = ["enrolment", "member", "status", "joined_on", "left_on"]
        read_only_fields = fields


class RosterNameSerializer(serializers.Serializer):
    """A fellow member, as another member sees them: the preferred name, nothing else."""

    preferred_name = serializers.CharField()


class RosterFilterSerializer(QueryParameters):
    status = serializers.ChoiceField(choices=EnrolmentStatus.choices, required=False)


# --- agreement -----------------------------------------------------------------------------


class AgreementOutputSerializer(serializers.ModelSerializer):
    published_at = serializers.DateTimeField(source="created_at")
    accepted = serializers.SerializerMethodField(
        help_text="Whether your own member record accepted this version (null for staff)."
    )
    accepted_at = serializers.SerializerMethodField()

    class Meta:
        model = Agreement
        fields = ["id", "version", "text", "published_at", "accepted", "accepted_at"]
        read_only_fields = fields

    def get_accepted(self, agreement: Agreement) -> bool | None:
        if not self.context.get("is_member"):
            return None
        return self.context.get("acceptance") is not None

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_accepted_at(self, agreement: Agreement) -> str | None:
        acceptance = self.context.get("acceptance")
        if acceptance is None:
            return None
        return serializers.DateTimeField().to_representation(acceptance.accepted_at)


class AgreementPublishInputSerializer(InputSerializer):
    text = serializers.CharField(max_length=20000)


class AgreementAcceptInputSerializer(InputSerializer):
    member = serializers.PrimaryKeyRelatedField(
        queryset=Member.objects.none(),
        required=False,
        help_text="Staff: the member whose paper signature you record. Members: leave out.",
    )
    method = serializers.ChoiceField(
        choices=AcceptanceMethod.choices,
        required=False,
        help_text='"online" (a member, themself) or "paper" (staff, for a member).',
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "members" in self.context:
            self.fields["member"].queryset = self.context["members"]


class AgreementAcceptanceOutputSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="agreement.version")

    class Meta:
        model = AgreementAcceptance
        fields = ["member", "version", "accepted_at", "method"]
        read_only_fields = fields


# --- rooms and modalities ------------------------------------------------------------------


class RoomCreateInputSerializer(ClinicChoiceSerializer):
    name = serializers.CharField(max_length=100)
    capacity = serializers.IntegerField(min_value=1, max_value=1000)


class RoomUpdateInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=100, required=False)
    capacity = serializers.IntegerField(min_value=1, max_value=1000, required=False)
    is_active = serializers.BooleanField(required=False)


class ModalityCreateInputSerializer(ClinicChoiceSerializer):
    name = serializers.CharField(max_length=100)

    def validate_name(self, value: str) -> str:
        if not slugify(value):
            raise serializers.ValidationError("A modality's name needs letters or digits.")
        return value.strip()


class GroupListFilterSerializer(QueryParameters):
    """Query parameters of the group list (documented in the schema)."""

    stage = serializers.ChoiceField(choices=Stage.choices, required=False)
    status = serializers.ChoiceField(choices=GroupStatus.choices, required=False)
    modality = serializers.IntegerField(required=False, min_value=1)
