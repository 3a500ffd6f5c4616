"""Refusals of the group programme's rules; each names what is wrong in plain words."""

from groupcare.errors import DomainError


class GroupError(DomainError):
    code = "group_refused"


class StageChangeError(DomainError):
    code = "stage_change_refused"


class ScheduleError(DomainError):
    code = "schedule_invalid"
    status = 400


class NameInUseError(DomainError):
    """Another record of the clinic already has this name; ``conflict_id`` is its id."""

    code = "name_in_use"


class DoubleBookingError(DomainError):
    code = "double_booking"


class SessionChangeError(DomainError):
    code = "session_change_refused"


class EnrolmentError(DomainError):
    code = "enrolment_refused"


class ScreeningRequiredError(EnrolmentError):
    code = "screening_required"


class GroupClosedError(EnrolmentError):
    code = "group_closed"


class AgreementError(DomainError):
    code = "agreement_refused"


class AttendanceError(DomainError):
    code = "attendance_refused"


class AttendanceLockedError(AttendanceError):
    code = "attendance_locked"


class CantAttendError(AttendanceError):
    code = "cant_attend_refused"


class MemberHasLoginError(DomainError):
    """A member record's own calendar feed is for a member who does not sign in; one who
    does takes theirs from their account, so a person never has two live links to guard."""

    code = "member_has_login"


class AnonymiseError(DomainError):
    """A member record may not be anonymised (yet): the message says why."""

    code = "anonymise_refused"


class AnonymiseNotAllowedError(AnonymiseError):
    code = "anonymise_not_allowed"
    status = 403


class MemberStillEnrolledError(AnonymiseError):
    code = "member_still_enrolled"


class RetentionPeriodRunningError(AnonymiseError):
    code = "retention_period_running"


class AlreadyAnonymisedError(AnonymiseError):
    code = "already_anonymised"
