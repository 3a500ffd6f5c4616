"""Reads of the secret calendar feeds: the live feed behind a token, and what it lists.

A feed lists only sessions at which its owner holds a seat: as a facilitator of that very
session, or as a member expected at it (their enrolment active on the session's local date,
as in :mod:`sessions.selectors.attendance`). So every entry may carry the session's video
link, except a cancelled one (nobody should join it). The roles still count: a login's
facilitations show in the clinics where they are still staff, their member records in the
clinics where they still hold the member role, as everywhere else in GroupCare.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from typing import NamedTuple

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse

from members.enums import STAFF_ROLES, Role
from members.models import ClinicRole, Member, User
from sessions.enums import SessionStatus
from sessions.models import CalendarFeed, Enrolment, GroupSession, SessionFacilitator
from sessions.selectors.attendance import ATTENDING_ENROLMENT_STATUSES

#: How far back a feed reaches, so last month's sessions stay in the calendar; forward it
#: lists everything generated (the schedule's horizon).
FEED_PAST = dt.timedelta(days=30)


class CalendarFeedEntry(NamedTuple):
    """One session of a feed, with the time zone to show it in (its clinic's) and the video
    link its owner may have ("" when none, or when the session is cancelled)."""

    session: GroupSession
    tz_name: str
    video_link: str


def calendar_feed_url(feed: CalendarFeed) -> str:
    """The absolute URL of the feed, for a calendar app's "subscribe from URL"."""
    return settings.GROUPCARE_BASE_URL + reverse("calendar-feed", args=[feed.token])


def calendar_feed_by_token(token: str) -> CalendarFeed | None:
    """The live feed with ``token``, or None when there is none, it is revoked, or its
    owner's login is deactivated (a deactivated person's links stop working like their
    sign-in). One query."""
    return (
        CalendarFeed.objects.filter(token=token, revoked_at__isnull=True)
        .filter(Q(user__isnull=True) | Q(user__is_active=True))
        .select_related("user", "member")
        .first()
    )


def calendar_feed_live(
    *, user: User | None = None, member: Member | None = None
) -> CalendarFeed | None:
    """The live feed of a login (``user``) or of a member record (``member``), if any.
    One query."""
    if (user is None) == (member is None):
        raise ValueError("A calendar feed belongs to a login or to a member record.")
    owner = Q(user=user) if user is not None else Q(member=member)
    return CalendarFeed.objects.filter(owner, revoked_at__isnull=True).first()


def _clinic_ids(user_id: int, roles: frozenset[str]) -> QuerySet[ClinicRole]:
    return ClinicRole.objects.filter(user_id=user_id, role__in=roles).values("clinic_id")


def calendar_feed_sessions(*, feed: CalendarFeed, now: dt.datetime) -> list[CalendarFeedEntry]:
    """The sessions of ``feed``'s owner from 30 days before ``now`` onwards, cancelled ones
    included (a calendar app then shows the cancellation instead of silently losing the
    event), earliest first.

    A login's feed: the sessions they facilitate (their own facilitation rows, in clinics
    where they are admin or facilitator) and those at which one of their member records
    (in clinics where they hold the member role) is expected. A member record's feed: the
    sessions at which that member is expected. At most two queries, whatever the number of
    sessions: the enrolments, then the sessions with their group, clinic and room.
    """
    enrolments = Enrolment.objects.filter(
        status__in=ATTENDING_ENROLMENT_STATUSES, joined_on__isnull=False
    )
    if feed.member_id is not None:
        enrolments = enrolments.filter(member_id=feed.member_id)
    else:
        enrolments = enrolments.filter(
            member__user_id=feed.user_id,
            member__clinic_id__in=_clinic_ids(feed.user_id, frozenset({Role.MEMBER})),
        )
    # Who is expected depends on the session's local date, which needs its clinic's time
    # zone: the enrolment dates are read once and compared per session below.
    spans: dict[int, list[tuple[dt.date, dt.date | None]]] = defaultdict(list)
    for group_id, joined_on, left_on in enrolments.values_list("group_id", "joined_on", "left_on"):
        spans[group_id].append((joined_on, left_on))

    sessions = GroupSession.objects.filter(start__gte=now - FEED_PAST)
    if feed.user_id is not None:
        facilitations = SessionFacilitator.objects.filter(
            session_id=OuterRef("pk"),
            facilitator_id=feed.user_id,
            session__group__clinic_id__in=_clinic_ids(feed.user_id, STAFF_ROLES),
        )
        sessions = sessions.annotate(is_facilitator=Exists(facilitations)).filter(
            Q(group_id__in=list(spans)) | Q(is_facilitator=True)
        )
    elif spans:
        sessions = sessions.filter(group_id__in=list(spans))
    else:
        return []

    entries: list[CalendarFeedEntry] = []
    for session in sessions.select_related("group__clinic", "room").order_by("start", "pk"):
        tz_name = session.group.clinic.timezone
        if not getattr(session, "is_facilitator", False):
            day = session.start.astimezone(zoneinfo.ZoneInfo(tz_name)).date()
            expected = any(
                joined_on <= day and (left_on is None or day < left_on)
                for joined_on, left_on in spans.get(session.group_id, ())
            )
            if not expected:
                continue
        cancelled = session.status == SessionStatus.CANCELLED
        entries.append(
            CalendarFeedEntry(
                session=session,
                tz_name=tz_name,
                video_link="" if cancelled else session.video_link,
            )
        )
    return entries
