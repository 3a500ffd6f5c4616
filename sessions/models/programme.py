"""The group programme: rooms, groups and their stages, schedules, sessions, enrolment,
screening, agreements and attendance.

Models hold fields, database constraints and cheap reads. Every rule that needs more than
one row (seats, double booking, stage moves, locks) lives in ``sessions.services``.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.conf import settings
from django.contrib.postgres.fields import RangeOperators
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from groupcare.fields import EncryptedTextField
from members.models import Clinic, Member
from sessions.constraints import PostgresExclusionConstraint, TsTzRange
from sessions.enums import (
    OPEN_ENROLMENT_STATUSES,
    AcceptanceMethod,
    AttendanceStatus,
    EnrolmentPolicy,
    EnrolmentStatus,
    Finding,
    GroupStatus,
    ScreeningOutcome,
    SessionStatus,
    Stage,
    WaitlistOfferStatus,
)
from sessions.fields import VideoLinkField

User = settings.AUTH_USER_MODEL


class Room(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="rooms")
    name = models.CharField(max_length=100)
    capacity = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "name"], name="room_name_unique_in_clinic"),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="room_capacity_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class Modality(models.Model):
    """A kind of group work. Built-in ones have no clinic; a clinic may add its own."""

    clinic = models.ForeignKey(
        Clinic, on_delete=models.CASCADE, null=True, blank=True, related_name="modalities"
    )
    slug = models.SlugField(max_length=50)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "modalities"
        constraints = [
            models.UniqueConstraint(
                fields=["slug"], condition=Q(clinic__isnull=True), name="modality_builtin_slug"
            ),
            models.UniqueConstraint("clinic", Lower("name"), name="modality_name_unique_in_clinic"),
        ]

    def __str__(self) -> str:
        return self.name


class GroupQuerySet(models.QuerySet["Group"]):
    def active(self) -> GroupQuerySet:
        return self.filter(status=GroupStatus.ACTIVE)


class Group(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="groups")
    name = models.CharField(max_length=150)
    modality = models.ForeignKey(Modality, on_delete=models.PROTECT, related_name="groups")
    description = models.TextField(blank=True)
    lead_facilitator = models.ForeignKey(User, on_delete=models.PROTECT, related_name="led_groups")
    co_facilitators = models.ManyToManyField(User, blank=True, related_name="co_led_groups")
    min_size = models.PositiveSmallIntegerField(default=4, validators=[MinValueValidator(1)])
    max_size = models.PositiveSmallIntegerField(default=10, validators=[MinValueValidator(1)])
    enrolment_policy = models.CharField(
        max_length=10, choices=EnrolmentPolicy.choices, default=EnrolmentPolicy.CLOSED
    )
    room = models.ForeignKey(
        Room, on_delete=models.PROTECT, null=True, blank=True, related_name="groups"
    )
    video_link = VideoLinkField(blank=True)
    billing_code = models.CharField(
        max_length=10,
        default="90853",
        validators=[RegexValidator(r"^[0-9A-Z]{5}$", "A billing code is five digits or letters.")],
    )
    planned_start = models.DateField()
    planned_end = models.DateField(null=True, blank=True)
    late_cancel_notice_hours = models.PositiveSmallIntegerField(
        default=24,
        validators=[MaxValueValidator(24 * 14)],
        help_text='A "can\'t come" later than this before a session counts as late-cancelled.',
    )
    status = models.CharField(
        max_length=10, choices=GroupStatus.choices, default=GroupStatus.ACTIVE
    )
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.FORMING)
    final_session_date = models.DateField(
        null=True, blank=True, help_text="Set when the group moves to adjourning."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = GroupQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(min_size__gte=1), name="group_min_size_positive"),
            models.CheckConstraint(
                condition=Q(max_size__gte=models.F("min_size")), name="group_max_at_least_min"
            ),
            models.CheckConstraint(
                condition=Q(planned_end__isnull=True)
                | Q(planned_end__gte=models.F("planned_start")),
                name="group_end_after_start",
            ),
            models.CheckConstraint(
                condition=Q(room__isnull=True) | Q(video_link=""),
                name="group_room_or_video_not_both",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.min_size and self.max_size and self.max_size < self.min_size:
            errors["max_size"] = "The maximum size cannot be below the minimum size."
        if self.planned_start and self.planned_end and self.planned_end < self.planned_start:
            errors["planned_end"] = "The planned end cannot be before the planned start."
        if self.room_id and self.video_link:
            errors["video_link"] = "A group meets in a room or by video link, not both."
        if self.room_id and self.clinic_id and self.room.clinic_id != self.clinic_id:
            errors["room"] = "This room belongs to another clinic."
        if self.modality_id and self.modality.clinic_id not in (None, self.clinic_id):
            errors["modality"] = "This modality belongs to another clinic."
        if errors:
            raise ValidationError(errors)

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.clinic.timezone)

    @property
    def stage_guidance(self) -> str:
        return Stage(self.stage).guidance


class StageTransition(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="transitions")
    from_stage = models.CharField(max_length=12, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=12, choices=Stage.choices)
    by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    note = EncryptedTextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.group}: {self.from_stage or '—'} → {self.to_stage}"


class Schedule(models.Model):
    """A group's recurrence: an RFC 5545 RRULE at a wall-clock time in the clinic's zone.

    ``first_date`` and ``start_time`` are local; occurrences keep that wall-clock time across
    daylight-saving changes. The RRULE must be bounded (COUNT or UNTIL) or the group must
    have a planned end.
    """

    group = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="schedule")
    rrule = models.CharField(max_length=500, help_text="e.g. FREQ=WEEKLY;BYDAY=TU;COUNT=12")
    first_date = models.DateField()
    start_time = models.TimeField()
    duration_minutes = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(15), MaxValueValidator(8 * 60)]
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=15) & Q(duration_minutes__lte=480),
                name="schedule_duration_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.group}: {self.rrule} at {self.start_time:%H:%M}"


class GroupSessionQuerySet(models.QuerySet["GroupSession"]):
    def scheduled(self) -> GroupSessionQuerySet:
        return self.filter(status=SessionStatus.SCHEDULED)

    def upcoming(self, now: dt.datetime | None = None) -> GroupSessionQuerySet:
        return self.filter(end__gt=now or timezone.now()).exclude(status=SessionStatus.CANCELLED)


class GroupSession(models.Model):
    """One meeting of a group, in UTC. ``series_date`` is the local date of the schedule's
    occurrence it came from (None for an extra session), so regenerating the series never
    recreates a cancelled occurrence nor overwrites a moved one."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="sessions")
    start = models.DateTimeField(db_index=True)
    end = models.DateTimeField()
    room = models.ForeignKey(
        Room, on_delete=models.PROTECT, null=True, blank=True, related_name="sessions"
    )
    video_link = VideoLinkField(blank=True)
    status = models.CharField(
        max_length=10, choices=SessionStatus.choices, default=SessionStatus.SCHEDULED
    )
    stage = models.CharField(max_length=12, choices=Stage.choices)
    topic = models.CharField(max_length=200, blank=True)
    series_date = models.DateField(null=True, blank=True)
    is_moved = models.BooleanField(default=False)
    is_final = models.BooleanField(default=False)
    # Staff-only free text ("why cancelled") that may say something clinical; the length is
    # the form's limit (the token stored is longer).
    cancel_reason = EncryptedTextField(max_length=300, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # Raised on every change a calendar should show (time, place, cancellation), so calendar
    # apps given the session's stable UID update the event in place (RFC 5545 SEQUENCE).
    sequence = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = GroupSessionQuerySet.as_manager()

    class Meta:
        ordering = ["start", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")), name="session_end_after_start"
            ),
            models.UniqueConstraint(
                fields=["group", "series_date"],
                condition=Q(series_date__isnull=False),
                name="session_one_per_series_date",
            ),
            PostgresExclusionConstraint(
                name="session_room_no_overlap",
                expressions=[
                    (TsTzRange("start", "end"), RangeOperators.OVERLAPS),
                    ("room", RangeOperators.EQUAL),
                ],
                condition=Q(room__isnull=False) & ~Q(status=SessionStatus.CANCELLED),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.group} {self.start:%Y-%m-%d %H:%M} UTC"


class SessionFacilitator(models.Model):
    """Who facilitates one session (lead, co-facilitators or a substitute).

    ``start``, ``end`` and ``is_cancelled`` copy the session's, kept in step by the services in
    the same transaction, so that PostgreSQL can refuse a facilitator in two overlapping
    sessions with one exclusion constraint.
    """

    session = models.ForeignKey(
        GroupSession, on_delete=models.CASCADE, related_name="facilitations"
    )
    facilitator = models.ForeignKey(User, on_delete=models.PROTECT, related_name="facilitations")
    start = models.DateTimeField()
    end = models.DateTimeField()
    is_cancelled = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "facilitator"], name="session_facilitator_once"
            ),
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")), name="session_facilitator_end_after_start"
            ),
            PostgresExclusionConstraint(
                name="facilitator_no_overlap",
                expressions=[
                    (TsTzRange("start", "end"), RangeOperators.OVERLAPS),
                    ("facilitator", RangeOperators.EQUAL),
                ],
                condition=Q(is_cancelled=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.facilitator} at {self.session}"


class EnrolmentQuerySet(models.QuerySet["Enrolment"]):
    def active_on(self, day: dt.date) -> EnrolmentQuerySet:
        """Enrolments whose member is expected at a session on ``day`` (a local date)."""
        return self.filter(joined_on__lte=day).filter(Q(left_on__isnull=True) | Q(left_on__gt=day))


class Enrolment(models.Model):
    """A member in a group. ``joined_on``/``left_on`` (local dates, ``left_on`` exclusive)
    decide which sessions expect the member, so nothing is regenerated when the roster
    changes."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="enrolments")
    group = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="enrolments")
    status = models.CharField(
        max_length=12, choices=EnrolmentStatus.choices, default=EnrolmentStatus.REFERRED
    )
    referred_at = models.DateTimeField(default=timezone.now)
    waitlisted_at = models.DateTimeField(null=True, blank=True)
    joined_on = models.DateField(null=True, blank=True)
    left_on = models.DateField(null=True, blank=True)
    # The instant the enrolment was withdrawn, completed or discharged (also before joining).
    # An active member's leaving starts a new waitlist offer round at this instant, so it is
    # written once, by the leave, and a later edit of the row does not move it.
    left_at = models.DateTimeField(null=True, blank=True)
    # Why they left: clinical free text, kept on the enrolment and never in the audit log.
    leave_note = EncryptedTextField(blank=True)
    screening_override_reason = EncryptedTextField(blank=True)
    screening_override_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EnrolmentQuerySet.as_manager()

    class Meta:
        ordering = ["group", "referred_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "group"],
                condition=Q(status__in=OPEN_ENROLMENT_STATUSES),
                name="enrolment_one_open_per_member_group",
            ),
            models.CheckConstraint(
                condition=Q(left_on__isnull=True)
                | Q(joined_on__isnull=True)
                | Q(left_on__gte=models.F("joined_on")),
                name="enrolment_left_after_joined",
            ),
        ]
        indexes = [models.Index(fields=["group", "status"])]

    def __str__(self) -> str:
        return f"Enrolment #{self.pk} ({self.get_status_display()})"


class Screening(models.Model):
    """The suitability review before a member joins: four contraindication areas, each with
    a finding and a note, and an outcome. The latest screening of an enrolment counts."""

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="screenings")
    acute_illness = models.CharField(
        "severe or acute mental illness needing more intensive care",
        max_length=12,
        choices=Finding.choices,
    )
    acute_illness_note = EncryptedTextField(blank=True)
    anxiety_or_trauma = models.CharField(
        "pronounced social anxiety or trauma history the group may trigger",
        max_length=12,
        choices=Finding.choices,
    )
    anxiety_or_trauma_note = EncryptedTextField(blank=True)
    disruptive_behaviour = models.CharField(
        "disruptive behaviour that could harm cohesion", max_length=12, choices=Finding.choices
    )
    disruptive_behaviour_note = EncryptedTextField(blank=True)
    individual_needs = models.CharField(
        "needs better served by individual therapy", max_length=12, choices=Finding.choices
    )
    individual_needs_note = EncryptedTextField(blank=True)
    outcome = models.CharField(max_length=24, choices=ScreeningOutcome.choices)
    support_plan = EncryptedTextField(blank=True)
    screened_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    screened_at = models.DateTimeField(default=timezone.now)

    AREAS = ("acute_illness", "anxiety_or_trauma", "disruptive_behaviour", "individual_needs")

    class Meta:
        ordering = ["-screened_at", "-pk"]

    def __str__(self) -> str:
        return f"Screening #{self.pk} ({self.get_outcome_display()})"

    def clean(self) -> None:
        if self.outcome == ScreeningOutcome.SUITABLE_WITH_SUPPORT and not self.support_plan.strip():
            raise ValidationError({"support_plan": "Describe the support plan."})


class WaitlistOffer(models.Model):
    """A freed seat offered to the first in line; it expires and moves on if not taken."""

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="offers")
    offered_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=WaitlistOfferStatus.choices, default=WaitlistOfferStatus.PENDING
    )
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-offered_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrolment"],
                condition=Q(status=WaitlistOfferStatus.PENDING),
                name="waitlist_one_pending_offer",
            ),
        ]

    def __str__(self) -> str:
        return f"Offer #{self.pk} ({self.get_status_display()})"


class Agreement(models.Model):
    """One version of a group's agreement (confidentiality, respectful sharing, attendance)."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="agreements")
    version = models.PositiveSmallIntegerField()
    text = models.TextField()
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["group", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["group", "version"], name="agreement_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.group} agreement v{self.version}"


class AgreementAcceptance(models.Model):
    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="acceptances")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="acceptances")
    accepted_at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=10, choices=AcceptanceMethod.choices)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agreement", "member"], name="acceptance_once"),
        ]

    def __str__(self) -> str:
        return f"Acceptance of {self.agreement} by member #{self.member_id}"


class Attendance(models.Model):
    session = models.ForeignKey(GroupSession, on_delete=models.PROTECT, related_name="attendance")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="attendance")
    status = models.CharField(max_length=15, choices=AttendanceStatus.choices)
    minutes_attended = models.PositiveSmallIntegerField(null=True, blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["session", "member"]
        verbose_name_plural = "attendance"
        constraints = [
            models.UniqueConstraint(fields=["session", "member"], name="attendance_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_status_display()} (session #{self.session_id})"


class AttendanceChange(models.Model):
    """An amendment of recorded attendance: the old and new value, who, when, why."""

    attendance = models.ForeignKey(Attendance, on_delete=models.PROTECT, related_name="changes")
    old_status = models.CharField(max_length=15, choices=AttendanceStatus.choices, blank=True)
    new_status = models.CharField(max_length=15, choices=AttendanceStatus.choices)
    old_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    new_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    changed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)
    reason = EncryptedTextField(blank=True)

    class Meta:
        ordering = ["changed_at", "pk"]

    def __str__(self) -> str:
        return f"{self.old_status} → {self.new_status}"
