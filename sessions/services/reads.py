"""Audit entries for reads of the group programme's member data: who was shown whom.

Every page and API response that shows a roster, an enrolment, attendance or a screening
writes one entry (one per clinic, for the rare read that spans clinics) through these
functions, after the request was authorised and its rows were loaded, naming the members
by id only (:func:`members.services.member_data_viewed`). The views call them; the rows
they pass are the ones the response shows, so no query is spent on the audit but its
INSERT. A response that shows no member writes nothing.

The actions:

- ``sessions.roster.viewed``: who is in a group (the group page's roster, the API's roster
  and enrolment list);
- ``sessions.enrolment.viewed``: one member's enrolment (the API's enrolment, the pages
  that confirm an enrolment's ending, a member's own groups and agreement);
- ``sessions.attendance.viewed``: attendance marks of named members (a session's sheet,
  "can't come" notes, a member's own attendance);
- ``sessions.screening.viewed`` (:func:`sessions.services.enrolment.screening_viewed`) and
  ``sessions.attendance.exported`` (:mod:`sessions.services.exports`).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models

from members.models import User
from members.services import member_data_listed, member_data_viewed
from sessions.models import Enrolment, Group

ROSTER_VIEWED = "sessions.roster.viewed"
ENROLMENT_VIEWED = "sessions.enrolment.viewed"
ATTENDANCE_VIEWED = "sessions.attendance.viewed"


def roster_viewed(*, group: Group, member_ids: Iterable[int], by: User) -> None:
    """Record that ``by`` was shown these members of ``group``'s roster."""
    member_data_viewed(
        by=by, action=ROSTER_VIEWED, clinic_id=group.clinic_id, member_ids=member_ids, obj=group
    )


def enrolments_viewed(*, by: User, members: Iterable[tuple[int, int]], action: str) -> None:
    """Record that ``by`` was shown enrolments of these members, as ``(clinic_id,
    member_id)`` pairs (one entry per clinic). ``action`` is :data:`ROSTER_VIEWED` for a
    list of a group's enrolments, :data:`ENROLMENT_VIEWED` for a member's own."""
    member_data_listed(by=by, action=action, members=members)


def enrolment_viewed(*, enrolment: Enrolment, by: User, group: Group | None = None) -> None:
    """Record that ``by`` was shown ``enrolment`` (its member named); ``group`` is the
    enrolment's group when the caller holds it and the enrolment has not loaded it."""
    member_data_viewed(
        by=by,
        action=ENROLMENT_VIEWED,
        clinic_id=(group or enrolment.group).clinic_id,
        member_ids=[enrolment.member_id],
        obj=enrolment,
    )


def attendance_viewed(
    *,
    by: User,
    members: Iterable[tuple[int, int]],
    obj: models.Model | None = None,
) -> None:
    """Record that ``by`` was shown attendance of these members, as ``(clinic_id,
    member_id)`` pairs (one entry per clinic); ``obj`` is the session when there is one."""
    member_data_listed(by=by, action=ATTENDANCE_VIEWED, members=members, obj=obj)
