"""Sessions (one session, moving, cancelling, attendance, "I can't come") and my sessions."""

import datetime as dt

from tests.api.matrix import (
    FORBIDDEN,
    NOT_FOUND,
    OK,
    Case,
    everyone,
    expect,
    group_managers,
    group_viewers,
)


def _future(w):
    return f"/api/v1/sessions/{w.future_session.pk}/"


def _past(w):
    return f"/api/v1/sessions/{w.past_session.pk}/"


CASES = [
    Case("api-session-list", "get", lambda w: "/api/v1/sessions/", everyone()),
    Case("api-session-detail", "get", _future, group_viewers()),
    Case(
        "api-session-detail",
        "patch",
        _future,
        group_managers(OK),
        body=lambda w: {"start": (w.future_session.start + dt.timedelta(hours=2)).isoformat()},
    ),
    Case(
        "api-session-cancel",
        "post",
        lambda w: _future(w) + "cancel/",
        group_managers(OK),
        body=lambda w: {"reason": "The facilitator is unwell."},
    ),
    # A member reads their own line of the sheet (PRODUCT.md: attendance, "read own").
    Case("api-session-attendance", "get", lambda w: _past(w) + "attendance/", group_viewers()),
    Case(
        "api-session-attendance",
        "put",
        lambda w: _past(w) + "attendance/",
        group_managers(OK),
        body=lambda w: {"entries": [{"member": w.member_record.pk, "status": "present"}]},
    ),
    # Only the member themself says "I can't come"; staff who see the session get a 403.
    Case(
        "api-session-cant-attend",
        "post",
        lambda w: _future(w) + "cant-attend/",
        expect(
            admin=FORBIDDEN,
            facilitator=FORBIDDEN,
            other_facilitator=NOT_FOUND,
            member=OK,
            other_member=NOT_FOUND,
            other_clinic_admin=NOT_FOUND,
        ),
    ),
    Case("api-me-sessions", "get", lambda w: "/api/v1/me/sessions/", everyone()),
]
