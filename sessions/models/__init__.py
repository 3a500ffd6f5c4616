"""The models of the group programme (``programme``) and of the messages, calendar feeds
and attendance summaries about it (``notifications``)."""

from sessions.models.notifications import (
    AttendanceSummary,
    AttendanceSummaryMember,
    CalendarFeed,
    Notification,
)
from sessions.models.programme import (
    Agreement,
    AgreementAcceptance,
    Attendance,
    AttendanceChange,
    Enrolment,
    EnrolmentQuerySet,
    Group,
    GroupQuerySet,
    GroupSession,
    GroupSessionQuerySet,
    Modality,
    Room,
    Schedule,
    Screening,
    SessionFacilitator,
    StageTransition,
    WaitlistOffer,
)

__all__ = [
    "Agreement",
    "AgreementAcceptance",
    "Attendance",
    "AttendanceChange",
    "AttendanceSummary",
    "AttendanceSummaryMember",
    "CalendarFeed",
    "Enrolment",
    "EnrolmentQuerySet",
    "Group",
    "GroupQuerySet",
    "GroupSession",
    "GroupSessionQuerySet",
    "Modality",
    "Notification",
    "Room",
    "Schedule",
    "Screening",
    "SessionFacilitator",
    "StageTransition",
    "WaitlistOffer",
]
