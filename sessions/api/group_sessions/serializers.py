"""Sessions and their attendance: the list's filters, the two views of a session, moving and
cancelling one, the attendance sheet and recording it, a member's "I can't come".

Times go out in the clinic's time zone with their offset (``2026-03-03T18:00:00+00:00``)
and come in as RFC 3339 date-times with an offset (``Z`` or ``±HH:MM``); a time without
one is refused rather than guessed. Input serializers validate only; ids of rooms and
facilitators are looked up among those of the session's clinic, so another clinic's id
reads as "does not exist".
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from groupcare.api import MAX_ID, InputSerializer, OptionalURLField
from members.enums import Role
from members.models import Clinic, ClinicRole, User
from sessions.api.groups.serializers import (
    MAX_SCHEDULE_YEARS,
    FacilitatorNameSerializer,
    PersonSerializer,
    RoomNameSerializer,
    SeatHolderLinkField,
    StageChoiceField,
)
from sessions.enums import AttendanceStatus, SessionStatus
from sessions.errors import SessionChangeError
from sessions.models import Attendance, GroupSession, Room, SessionFacilitator
from sessions.selectors.attendance import AttendanceSheetRow
from sessions.services.attendance import attendance_lock_at
from sessions.services.scheduling import (
    CANCEL_REASON_MAX_LENGTH,
    MAX_DURATION_MINUTES,
    MIN_DURATION_MINUTES,
)

#: The largest group, and so the longest attendance sheet one request may write.
MAX_ATTENDANCE_ENTRIES = 500

# --- time ----------------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_FIRST_INSTANT = dt.datetime.min.replace(tzinfo=dt.UTC)
_LAST_INSTANT = dt.datetime.max.replace(tzinfo=dt.UTC)

INSTANT_HELP = (
    "An RFC 3339 date and time with its offset, e.g. 2026-03-03T18:00:00+00:00 or "
    "2026-03-03T18:00:00Z (in a URL, percent-encode the + of an offset)."
)


def instant_parse(text: str) -> dt.datetime | None:
    """The UTC instant of an RFC 3339 date-time with an offset, or None when ``text`` is not
    one (no offset, no seconds, not a real date…). Digits past microseconds are dropped. A
    time on the first or last day of year 1 or 9999 whose offset takes it out of Python's
    range stands for the first or last instant there is."""
    match = _RFC3339.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction[1:] + "00000")[:6]) if fraction else 0
    try:
        if offset in ("Z", "z"):
            zone = dt.UTC
        else:
            sign = 1 if offset[0] == "+" else -1
            hours, minutes = int(offset[1:3]), int(offset[4:6])
            if hours > 23 or minutes > 59:
                return None
            zone = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
        moment = dt.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, zone
        )
    except ValueError:
        return None
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:
        return _FIRST_INSTANT if moment.year == 1 else _LAST_INSTANT


def _local(moment: dt.datetime, clinic: Clinic) -> str:
    return moment.astimezone(zoneinfo.ZoneInfo(clinic.timezone)).isoformat()


class InstantField(serializers.DateTimeField):
    """A date-time in a request body: RFC 3339 with an offset, as a UTC instant."""

    default_error_messages = {"invalid": "Give a date and time with its offset. " + INSTANT_HELP}

    def to_internal_value(self, value: Any) -> dt.datetime:
        moment = instant_parse(value) if isinstance(value, str) else None
        if moment is None:
            self.fail("invalid")
        return moment


# --- list filters --------------------------------------------------------------------------


class _QueryForm(forms.Form):
    """A parameter given without a value (``?status=``) is an error naming it: leave it
    out to mean "any"."""

    def clean(self) -> dict[str, Any]:
        for name in self.fields:
            if name in self.data and self.data.get(name) == "":
                self.add_error(name, "Give a value, or leave out the parameter.")
        return super().clean()


class _IdFormField(forms.Field):
    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_ID:
            raise DjangoValidationError(
                f"Give an id: a whole number from 1 to {MAX_ID}.", code="invalid"
            )
        return int(value)


class _InstantFormField(forms.Field):
    def to_python(self, value: Any) -> dt.datetime | None:
        if value in self.empty_values:
            return None
        moment = instant_parse(value)
        if moment is None:
            raise DjangoValidationError(
                "Give a date and time with its offset. " + INSTANT_HELP, code="invalid"
            )
        return moment


class IdFilter(django_filters.Filter):
    field_class = _IdFormField


class InstantFilter(django_filters.Filter):
    field_class = _InstantFormField


def _id_parameter(description: str) -> dict[str, Any]:
    return {
        "type": "integer",
        "format": "int64",
        "minimum": 1,
        "maximum": MAX_ID,
        "description": description,
    }


def _instant_parameter(description: str) -> dict[str, Any]:
    return {"type": "string", "format": "date-time", "description": f"{description} {INSTANT_HELP}"}


class GroupSessionFilterSet(django_filters.FilterSet):
    """The filters of the session list; each narrows what the caller may see anyway, so an
    id they cannot see gives an empty list, never an error."""

    group = extend_schema_field(_id_parameter("Sessions of this group."))(
        IdFilter(field_name="group_id")
    )
    facilitator = extend_schema_field(
        _id_parameter("Sessions this user facilitates (lead, co-facilitator or substitute).")
    )(IdFilter(method="filter_facilitator"))
    room = extend_schema_field(_id_parameter("Sessions in this room."))(
        IdFilter(field_name="room_id")
    )
    start = extend_schema_field(_instant_parameter("Sessions that start at or after this."))(
        InstantFilter(field_name="start", lookup_expr="gte")
    )
    end = extend_schema_field(_instant_parameter("Sessions that start before this."))(
        InstantFilter(field_name="start", lookup_expr="lt")
    )
    status = django_filters.ChoiceFilter(
        choices=SessionStatus.choices,
        error_messages={"invalid_choice": '"%(value)s" is not a valid choice.'},
    )

    class Meta:
        model = GroupSession
        fields: list[str] = []
        form = _QueryForm

    def filter_facilitator(
        self, queryset: QuerySet[GroupSession], name: str, value: int
    ) -> QuerySet[GroupSession]:
        facilitates = SessionFacilitator.objects.filter(
            session_id=OuterRef("pk"), facilitator_id=value
        )
        return queryset.filter(Exists(facilitates))


# --- a session: output ---------------------------------------------------------------------


class NamedRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class _SessionTimesSerializer(serializers.ModelSerializer):
    """What both views share: the group, the times in the clinic's zone, the place."""

    group = NamedRefSerializer()
    start = serializers.SerializerMethodField(help_text="In the clinic's time zone.")
    end = serializers.SerializerMethodField(help_text="In the clinic's time zone.")
    timezone = serializers.SerializerMethodField(help_text="The clinic's IANA time zone.")
    room = RoomNameSerializer(allow_null=True, help_text="Null when the group meets by video.")
    video_link = OptionalURLField()

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_start(self, session: GroupSession) -> str:
        return _local(session.start, session.group.clinic)

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_end(self, session: GroupSession) -> str:
        return _local(session.end, session.group.clinic)

    def get_timezone(self, session: GroupSession) -> str:
        return session.group.clinic.timezone


class SessionStaffOutputSerializer(_SessionTimesSerializer):
    """A session as the staff who run it see it (its group's facilitators, a substitute,
    the clinic's admins)."""

    view = serializers.SerializerMethodField()
    # The values without their labels: the labelled set is already the enum of the
    # schedule's sessions, and one choice set under two names needs a settings-wide override.
    status = serializers.ChoiceField(choices=SessionStatus.values)
    stage = StageChoiceField(help_text="The group's stage at this meeting.")
    facilitators = serializers.SerializerMethodField()
    cancelled_at = serializers.SerializerMethodField()
    cancel_reason = serializers.SerializerMethodField(help_text="Null unless cancelled.")
    can_manage = serializers.BooleanField(
        help_text="Whether you may move or cancel it (a substitute records attendance only)."
    )

    class Meta:
        model = GroupSession
        fields = [
            "id",
            "view",
            "group",
            "start",
            "end",
            "timezone",
            "status",
            "stage",
            "topic",
            "room",
            "video_link",
            "facilitators",
            "is_final",
            "is_moved",
            "cancelled_at",
            "cancel_reason",
            "can_manage",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=[("staff", "Staff view of a session")]))
    def get_view(self, session: GroupSession) -> str:
        return "staff"

    @extend_schema_field(PersonSerializer(many=True))
    def get_facilitators(self, session: GroupSession) -> list[dict[str, Any]]:
        return [
            {"id": row.facilitator.pk, "full_name": row.facilitator.full_name}
            for row in session.facilitator_rows  # type: ignore[attr-defined]
        ]

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_cancelled_at(self, session: GroupSession) -> str | None:
        if session.cancelled_at is None:
            return None
        return _local(session.cancelled_at, session.group.clinic)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_cancel_reason(self, session: GroupSession) -> str | None:
        if session.status != SessionStatus.CANCELLED:
            return None
        return session.cancel_reason or None


class SessionMemberOutputSerializer(_SessionTimesSerializer):
    """A session as a member of the group sees it: when, where, with whom (facilitators'
    names only), and their own attendance; no topic, stage or cancellation note."""

    view = serializers.SerializerMethodField()
    status = serializers.CharField(help_text="As `status` of the staff view.")
    facilitators = serializers.SerializerMethodField()
    own_attendance = serializers.CharField(
        allow_null=True,
        help_text='Your attendance as recorded (e.g. `excused` after "I can\'t come"); '
        "null when nothing is recorded.",
    )

    video_link = SeatHolderLinkField()

    class Meta:
        model = GroupSession
        fields = [
            "id",
            "view",
            "group",
            "start",
            "end",
            "timezone",
            "status",
            "room",
            "video_link",
            "facilitators",
            "is_final",
            "own_attendance",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=[("member", "Member view of a session")]))
    def get_view(self, session: GroupSession) -> str:
        return "member"

    @extend_schema_field(FacilitatorNameSerializer(many=True))
    def get_facilitators(self, session: GroupSession) -> list[dict[str, str]]:
        return [
            {"full_name": row.facilitator.full_name}
            for row in session.facilitator_rows  # type: ignore[attr-defined]
        ]


def session_representation(session: GroupSession) -> dict[str, Any]:
    """The staff view for those who run the session (``can_run`` from
    :mod:`sessions.selectors.group_sessions`), the member view for everyone else."""
    if getattr(session, "can_run", False):
        return SessionStaffOutputSerializer(session).data
    return SessionMemberOutputSerializer(session).data


# --- a session: input ----------------------------------------------------------------------


def _session_staff_of(clinic: Clinic) -> QuerySet[User]:
    return User.objects.filter(
        is_active=True,
        pk__in=ClinicRole.objects.filter(
            clinic=clinic, role__in=[Role.FACILITATOR, Role.ADMIN]
        ).values("user_id"),
    )


class SessionMoveInputSerializer(InputSerializer):
    """Every field is optional. Status, group, stage and cancellation are not set here:
    sent, they change nothing."""

    # ``context["clinic"]`` limits the room and facilitator ids to the session's clinic.

    start = InstantField(
        required=False, help_text="New start; without `end`, the session keeps its length."
    )
    end = InstantField(required=False, help_text="New end (or give `duration_minutes`).")
    duration_minutes = serializers.IntegerField(
        required=False,
        min_value=MIN_DURATION_MINUTES,
        max_value=MAX_DURATION_MINUTES,
        help_text="New length, from the (new) start; instead of `end`.",
    )
    room = serializers.PrimaryKeyRelatedField(
        queryset=Room.objects.none(),
        required=False,
        allow_null=True,
        help_text="A room of the clinic, or null to meet without one.",
    )
    facilitators = serializers.ListField(
        child=serializers.PrimaryKeyRelatedField(queryset=User.objects.none()),
        required=False,
        min_length=1,
        max_length=20,
        help_text="The whole list of this session's facilitators (e.g. a substitute); "
        "facilitators or admins of the clinic.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("partial", True)
        super().__init__(*args, **kwargs)
        clinic: Clinic | None = self.context.get("clinic")
        if clinic is None:  # the schema generator
            return
        self.fields["room"].queryset = Room.objects.filter(clinic=clinic)
        self.fields["facilitators"].child.queryset = _session_staff_of(clinic)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "end" in attrs and "duration_minutes" in attrs:
            raise serializers.ValidationError(
                {"duration_minutes": ["Give `end` or `duration_minutes`, not both."]}
            )
        # A time past any clinic's calendar is refused as the rules refuse a time in the past
        # (409), before it reaches date arithmetic that a year-9999 instant would overflow.
        horizon = timezone.now() + dt.timedelta(days=366 * MAX_SCHEDULE_YEARS)
        if any(attrs.get(name, _FIRST_INSTANT) > horizon for name in ("start", "end")):
            raise SessionChangeError(
                f"A session can be moved at most {MAX_SCHEDULE_YEARS} years ahead."
            )
        return attrs


class SessionCancelInputSerializer(InputSerializer):
    reason = serializers.CharField(
        max_length=CANCEL_REASON_MAX_LENGTH,
        help_text="Why; shown to the staff, kept with the session.",
    )


# --- attendance ----------------------------------------------------------------------------


class AttendanceMemberRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    preferred_name = serializers.CharField()


class AttendanceRowOutputSerializer(serializers.Serializer):
    member = AttendanceMemberRefSerializer()
    # Plain strings in the responses: the choice set is documented once, on the entry of a
    # request; under a second name it would need a settings-wide ENUM_NAME_OVERRIDES entry.
    status = serializers.CharField(
        allow_null=True,
        help_text="As `status` of an entry (present, late, left_early, absent, excused, "
        "late_cancelled); null while nothing is recorded.",
    )
    minutes_attended = serializers.IntegerField(
        allow_null=True, help_text="For late or left early, when recorded."
    )
    recorded_at = serializers.DateTimeField(allow_null=True)
    agreement_accepted = serializers.BooleanField(
        allow_null=True,
        help_text="Whether the member accepted the group's current agreement (needed before "
        "they attend); null when the group has none.",
    )


class AttendanceSheetOutputSerializer(serializers.Serializer):
    session = serializers.IntegerField()
    locks_at = serializers.DateTimeField(
        help_text="From then on only a clinic admin may amend it, with a reason."
    )
    locked = serializers.BooleanField()
    rows = AttendanceRowOutputSerializer(
        many=True,
        help_text="Staff: every member expected at the session (and anyone with a recorded "
        "row), by preferred name. A member: their own line only.",
    )


def attendance_sheet_representation(
    session: GroupSession, rows: list[AttendanceSheetRow]
) -> dict[str, Any]:
    """The sheet of ``session`` (its group and clinic loaded) from the selector's rows."""
    clinic = session.group.clinic
    locks_at = attendance_lock_at(session=session)
    return AttendanceSheetOutputSerializer(
        {
            "session": session.pk,
            "locks_at": _local(locks_at, clinic),
            "locked": timezone.now() >= locks_at,
            "rows": [
                {
                    "member": row.member,
                    "status": row.attendance.status if row.attendance else None,
                    "minutes_attended": row.attendance.minutes_attended if row.attendance else None,
                    "recorded_at": _local(row.attendance.recorded_at, clinic)
                    if row.attendance
                    else None,
                    "agreement_accepted": row.agreement_accepted,
                }
                for row in rows
            ],
        }
    ).data


class AttendanceEntryInputSerializer(InputSerializer):
    member = serializers.IntegerField(
        min_value=1, help_text="The id of a member expected at the session."
    )
    status = serializers.ChoiceField(choices=AttendanceStatus.values)
    minutes_attended = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=MAX_DURATION_MINUTES,
        help_text="Only for late or left early; at most the session's length.",
    )


class AttendanceRecordInputSerializer(InputSerializer):
    entries = serializers.ListField(
        child=AttendanceEntryInputSerializer(),
        min_length=1,
        max_length=MAX_ATTENDANCE_ENTRIES,
        help_text="One entry per member; members left out keep what they have.",
    )
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=5000,
        help_text="Why, for an amendment; required after the lock (clinic admins only).",
    )


class CantAttendOutputSerializer(serializers.Serializer):
    session = serializers.IntegerField()
    member = serializers.IntegerField()
    status = serializers.CharField(help_text="`excused` with enough notice, else `late_cancelled`.")
    recorded_at = serializers.DateTimeField(help_text="When the first notice was given.")


def cant_attend_representation(session: GroupSession, row: Attendance) -> dict[str, Any]:
    """The member's attendance row at ``session`` (its group and clinic loaded)."""
    return CantAttendOutputSerializer(
        {
            "session": session.pk,
            "member": row.member_id,
            "status": row.status,
            "recorded_at": _local(row.recorded_at, session.group.clinic),
        }
    ).data
