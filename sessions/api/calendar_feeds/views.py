"""The secret calendar feeds: your own, and a member record's for a member who does not sign in.

``/me/calendar-feed/`` is any signed-in person's own: read its URL, issue a new one (the old
URL stops working), revoke it. ``/members/{id}/calendar-feed/`` is for the staff who may
manage that member record (as ``PATCH /members/{id}/``): a record they cannot see is a 404,
one they see but may not manage (a member's own) a 403.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from groupcare.api import error_responses
from members.models import Member
from members.permissions import is_clinic_admin
from sessions.api.calendar_feeds.serializers import CalendarFeedOutputSerializer
from sessions.selectors.calendar_feeds import calendar_feed_live
from sessions.selectors.enrolment import member_visible_list
from sessions.services.calendar_feeds import calendar_feed_issue, calendar_feed_revoke

NO_FEED = "There is no calendar feed; issue one with POST."
SUBSCRIBE = (
    "Subscribe to `url` in a calendar app: it lists the sessions from 30 days back to the "
    "last one scheduled, cancelled ones marked as such, in the clinic's time zone, with the "
    'least wording ("Group session" and the room, or "Online").'
)


class MeCalendarFeedView(APIView):
    """Your own secret calendar feed: the sessions you facilitate and those you attend."""

    @extend_schema(
        operation_id="me_calendar_feed_retrieve",
        tags=["me"],
        responses={200: CalendarFeedOutputSerializer, **error_responses(401, 404)},
        description=f"Your live calendar feed; 404 when you have none. {SUBSCRIBE}",
    )
    def get(self, request: Request) -> Response:
        feed = calendar_feed_live(user=request.user)
        if feed is None:
            raise NotFound(NO_FEED)
        return Response(CalendarFeedOutputSerializer(feed).data)

    @extend_schema(
        operation_id="me_calendar_feed_issue",
        tags=["me"],
        request=None,
        responses={201: CalendarFeedOutputSerializer, **error_responses(401)},
        description="Issue a new calendar feed URL. The one you had stops working at once "
        f"(404): use this when a link leaked. {SUBSCRIBE}",
    )
    def post(self, request: Request) -> Response:
        feed = calendar_feed_issue(user=request.user, by=request.user)
        return Response(CalendarFeedOutputSerializer(feed).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="me_calendar_feed_revoke",
        tags=["me"],
        request=None,
        responses={204: None, **error_responses(401, 404)},
        description="Revoke your calendar feed: its URL answers 404 from now on.",
    )
    def delete(self, request: Request) -> Response:
        feed = calendar_feed_live(user=request.user)
        if feed is None:
            raise NotFound(NO_FEED)
        calendar_feed_revoke(feed=feed, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberCalendarFeedView(APIView):
    """A member record's secret calendar feed, for a member who does not sign in."""

    def _managed_member(self, request: Request, pk: int) -> Member:
        member = get_object_or_404(member_visible_list(user=request.user), pk=pk)
        # The feed lists every group of the member in the clinic (with video links), not
        # only the caller's: so only the clinic's admins, who see all of them, issue it.
        if not is_clinic_admin(request.user, member.clinic):
            raise PermissionDenied("Only the clinic's admins may manage a member's calendar feed.")
        return member

    @extend_schema(
        operation_id="member_calendar_feed_issue",
        tags=["members"],
        request=None,
        responses={201: CalendarFeedOutputSerializer, **error_responses(401, 403, 404, 409)},
        description="Clinic admins: issue a calendar feed URL for a member record, to give to "
        "a member who does not sign in; the one it had stops working at once (404). A member "
        f"who signs in takes their own from `/me/calendar-feed/` (409 `member_has_login`). "
        f"{SUBSCRIBE}",
    )
    def post(self, request: Request, pk: int) -> Response:
        member = self._managed_member(request, pk)
        feed = calendar_feed_issue(member=member, by=request.user)
        return Response(CalendarFeedOutputSerializer(feed).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="member_calendar_feed_revoke",
        tags=["members"],
        request=None,
        responses={204: None, **error_responses(401, 403, 404)},
        description="Revoke the member record's calendar feed: its URL answers 404 from now "
        "on. 404 when it has none.",
    )
    def delete(self, request: Request, pk: int) -> Response:
        member = self._managed_member(request, pk)
        feed = calendar_feed_live(member=member)
        if feed is None:
            raise NotFound(NO_FEED)
        calendar_feed_revoke(feed=feed, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
