"""Choices of the group programme."""

from __future__ import annotations

from django.db import models


class Stage(models.TextChoices):
    """Tuckman's sequence; declaration order is the forward direction."""

    FORMING = "forming", "Forming"
    STORMING = "storming", "Storming"
    NORMING = "norming", "Norming"
    PERFORMING = "performing", "Performing"
    ADJOURNING = "adjourning", "Adjourning"

    @property
    def order(self) -> int:
        return list(Stage).index(self)

    @property
    def guidance(self) -> str:
        return STAGE_GUIDANCE[self]


STAGE_GUIDANCE: dict[Stage, str] = {
    Stage.FORMING: "Introductions, ground rules, goals and expectations.",
    Stage.STORMING: "Surface and work through conflict; keep the space safe.",
    Stage.NORMING: "Shared norms and growing trust.",
    Stage.PERFORMING: "Cohesive therapeutic work; members support each other.",
    Stage.ADJOURNING: "Reflect on progress, plan ongoing support, say goodbye.",
}


class GroupStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ARCHIVED = "archived", "Archived"


class EnrolmentPolicy(models.TextChoices):
    """Closed groups take new members only while forming; open groups at any stage."""

    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    CANCELLED = "cancelled", "Cancelled"
    COMPLETED = "completed", "Completed"


class EnrolmentStatus(models.TextChoices):
    REFERRED = "referred", "Referred"
    SCREENING = "screening", "Screening"
    WAITLISTED = "waitlisted", "Waitlisted"
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    WITHDRAWN = "withdrawn", "Withdrawn"
    DISCHARGED = "discharged", "Discharged"
    DECLINED = "declined", "Declined"


#: Statuses of an enrolment that is still under way; a member has at most one per group.
OPEN_ENROLMENT_STATUSES = (
    EnrolmentStatus.REFERRED,
    EnrolmentStatus.SCREENING,
    EnrolmentStatus.WAITLISTED,
    EnrolmentStatus.ACTIVE,
)


class Finding(models.TextChoices):
    NO_CONCERN = "no_concern", "No concern"
    MANAGEABLE = "manageable", "Concern, manageable with support"
    SIGNIFICANT = "significant", "Significant concern"


class ScreeningOutcome(models.TextChoices):
    SUITABLE = "suitable", "Suitable"
    SUITABLE_WITH_SUPPORT = "suitable_with_support", "Suitable with support plan"
    NOT_SUITABLE = "not_suitable", "Not suitable"


class WaitlistOfferStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    EXPIRED = "expired", "Expired"


class AcceptanceMethod(models.TextChoices):
    ONLINE = "online", "Online"
    PAPER = "paper", "Paper signature recorded by a facilitator"


class AttendanceStatus(models.TextChoices):
    PRESENT = "present", "Present"
    LATE = "late", "Late"
    LEFT_EARLY = "left_early", "Left early"
    ABSENT = "absent", "Absent"
    EXCUSED = "excused", "Excused"
    LATE_CANCELLED = "late_cancelled", "Late-cancelled"


#: Statuses for which minutes attended are meaningful.
PARTIAL_ATTENDANCE_STATUSES = (AttendanceStatus.LATE, AttendanceStatus.LEFT_EARLY)

DEFAULT_MODALITIES = (
    ("cbt", "Cognitive-behavioural (CBT)"),
    ("dbt-skills", "Dialectical-behaviour (DBT skills)"),
    ("trauma-focused", "Trauma-focused"),
    ("support", "Support"),
    ("psychoeducational", "Psychoeducational"),
    ("process-oriented", "Process-oriented"),
)


class NotificationKind(models.TextChoices):
    REMINDER = "reminder", "Reminder"
    SESSION_CANCELLED = "session_cancelled", "Session cancelled"
    SESSION_MOVED = "session_moved", "Session moved"
    WAITLIST_OFFER = "waitlist_offer", "Waitlist seat offered"
    WEEKLY_SUMMARY = "weekly_summary", "Weekly attendance summary"


class NotificationStatus(models.TextChoices):
    """An outbox row's life: pending → sending → sent, failed or skipped.

    ``sending`` is held by exactly one worker (the one whose claim changed the row); a row
    left ``sending`` by a worker that died is handed back to ``pending`` after a lease.
    """

    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
