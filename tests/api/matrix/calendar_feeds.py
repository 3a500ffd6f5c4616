"""Calendar feeds: your own (anyone signed in), and a member record's (the clinic's admins)."""

import datetime as dt

from sessions.enums import EnrolmentStatus
from sessions.services.calendar_feeds import calendar_feed_issue
from tests.api.matrix import (
    CREATED,
    FORBIDDEN,
    NO_CONTENT,
    NOT_FOUND,
    Case,
    everyone,
    expect,
)
from tests.factories.members import MemberFactory
from tests.factories.sessions import EnrolmentFactory

ME = "/api/v1/me/calendar-feed/"


def _every_persona_has_a_feed(w):
    for user in w.users.values():
        if user is not None:
            calendar_feed_issue(user=user, by=user)
    return ME


def _member_without_login(w):
    """A client of ``group`` who does not sign in: the group's staff manage the record;
    nobody else sees it (``member`` included: it is not theirs)."""
    member = MemberFactory(clinic=w.clinic, preferred_name="Dee", legal_name="Dee Park")
    EnrolmentFactory(
        group=w.group,
        member=member,
        status=EnrolmentStatus.ACTIVE,
        joined_on=w.enrolment.joined_on - dt.timedelta(days=1),
    )
    return member


def _member_feed_url(w):
    return f"/api/v1/members/{_member_without_login(w).pk}/calendar-feed/"


def _member_with_feed_url(w):
    member = _member_without_login(w)
    calendar_feed_issue(member=member, by=w.users["admin"])
    return f"/api/v1/members/{member.pk}/calendar-feed/"


def _clinic_admins(status: int) -> dict[str, int]:
    """The feed lists all the member's groups: only an admin issues it; the group's
    facilitator sees the record but may not (403)."""
    return expect(
        admin=status,
        facilitator=FORBIDDEN,
        other_facilitator=NOT_FOUND,
        member=NOT_FOUND,
        other_member=NOT_FOUND,
        other_clinic_admin=NOT_FOUND,
    )


CASES = [
    Case("api-me-calendar-feed", "get", _every_persona_has_a_feed, everyone()),
    Case("api-me-calendar-feed", "post", lambda w: ME, everyone(CREATED)),
    Case("api-me-calendar-feed", "delete", _every_persona_has_a_feed, everyone(NO_CONTENT)),
    Case("api-member-calendar-feed", "post", _member_feed_url, _clinic_admins(CREATED)),
    Case("api-member-calendar-feed", "delete", _member_with_feed_url, _clinic_admins(NO_CONTENT)),
]
