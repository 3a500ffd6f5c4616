"""Exports: every signed-in persona exports their own scope (admin: the clinic; facilitator:
the sessions they run; member: their own rows), so the plain export is 200 for all of them.
Narrowed to a group, it is 404 for whoever may not know the group exists."""

import datetime as dt

from sessions.enums import AttendanceStatus
from sessions.models import Attendance
from tests.api.matrix import NOT_FOUND, OK, Case, expect

EVERYONE_OWN_SCOPE = expect(
    admin=OK,
    facilitator=OK,
    other_facilitator=OK,
    member=OK,
    other_member=OK,
    other_clinic_admin=OK,
)


def _export_url(w, **extra):
    """The export of the days around the group's past session, where ``member`` was present."""
    Attendance.objects.create(
        session=w.past_session,
        member=w.member_record,
        status=AttendanceStatus.PRESENT,
        recorded_by=w.users["facilitator"],
        recorded_at=w.past_session.end,
    )
    day = w.past_session.start.date()
    query = {
        "from": (day - dt.timedelta(days=7)).isoformat(),
        "to": (day + dt.timedelta(days=7)).isoformat(),
        **extra,
    }
    return "/api/v1/exports/attendance/?" + "&".join(f"{k}={v}" for k, v in query.items())


CASES = [
    Case("api-export-attendance", "get", _export_url, EVERYONE_OWN_SCOPE),
    Case(
        "api-export-attendance",
        "get",
        lambda w: _export_url(w, format="csv"),
        EVERYONE_OWN_SCOPE,
    ),
    Case(
        "api-export-attendance",
        "get",
        lambda w: _export_url(w, group=w.group.pk),
        expect(
            admin=OK,
            facilitator=OK,
            other_facilitator=NOT_FOUND,
            member=OK,
            other_member=NOT_FOUND,
            other_clinic_admin=NOT_FOUND,
        ),
    ),
]
