"""Sessions: the list and one session, moving and cancelling it, its attendance, a member's
"I can't come", and the caller's own upcoming sessions.

Visibility comes from :mod:`sessions.selectors.group_sessions`, which starts from the
scoped querysets: a session the caller cannot see is a 404. Of those they see, moving and
cancelling are for the staff who run the group (its facilitators, the clinic's admins);
recording attendance also for a substitute facilitator of that session; "I can't come" for
the member themself. Anyone else who sees the session gets a 403.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from groupcare.api import TimeCursorPagination, error_responses
from sessions.api.group_sessions.serializers import (
    AttendanceRecordInputSerializer,
    AttendanceSheetOutputSerializer,
    CantAttendOutputSerializer,
    GroupSessionFilterSet,
    SessionCancelInputSerializer,
    SessionMemberOutputSerializer,
    SessionMoveInputSerializer,
    SessionStaffOutputSerializer,
    attendance_sheet_representation,
    cant_attend_representation,
    session_representation,
)
from sessions.models import GroupSession
from sessions.selectors.attendance import (
    AttendanceSheetRow,
    session_attendance_own,
    session_attendance_sheet,
)
from sessions.selectors.group_sessions import group_session_list, me_session_list
from sessions.selectors.groups import member_record_in_group
from sessions.services.attendance import AttendanceEntry, attendance_cant_attend, attendance_record
from sessions.services.reads import attendance_viewed
from sessions.services.scheduling import group_session_cancel, group_session_move

MANAGERS_ONLY = "Only the group's facilitators and a clinic admin may move or cancel a session."
RUNNERS_ONLY = "Only the session's facilitators and a clinic admin may record its attendance."
MEMBER_ONLY = "Only a member of the group says they can't come, for themself."


def _own_attendance_shown(sessions: Iterable[GroupSession], *, by: Any) -> None:
    """Audit the caller's own attendance where the member view shows it (``own_attendance``
    of the sessions they do not run); the staff view shows no member."""
    attendance_viewed(
        by=by,
        members=[
            (session.group.clinic_id, session.own_attendance_member_id)  # type: ignore[attr-defined]
            for session in sessions
            if not getattr(session, "can_run", False)
            and getattr(session, "own_attendance_member_id", None) is not None
        ],
    )


def _sheet_shown(session: GroupSession, rows: list[AttendanceSheetRow], *, by: Any) -> None:
    attendance_viewed(
        by=by,
        members=[(session.group.clinic_id, row.member.pk) for row in rows],
        obj=session,
    )


SessionRepresentation = PolymorphicProxySerializer(
    component_name="SessionRepresentation",
    serializers=[SessionStaffOutputSerializer, SessionMemberOutputSerializer],
    resource_type_field_name="view",
)


@extend_schema_view(
    list=extend_schema(
        operation_id="session_list",
        tags=["sessions"],
        responses={200: SessionRepresentation, **error_responses(400, 401)},
        description="The sessions you may see, earliest first: a clinic admin's clinic, a "
        "facilitator's groups (and any session they cover), a member's own groups. The staff "
        "who run a session get the staff view (`view: staff`); everyone else the member view. "
        "`start` and `end` are ISO 8601 instants with an offset; a session is in the range "
        "when it starts at or after `start` and before `end`.",
    ),
    retrieve=extend_schema(
        operation_id="session_retrieve",
        tags=["sessions"],
        responses={200: SessionRepresentation, **error_responses(401, 404)},
        description="One session, in the staff or the member view as in the list.",
    ),
)
class GroupSessionViewSet(viewsets.GenericViewSet):
    serializer_class = SessionStaffOutputSerializer
    pagination_class = TimeCursorPagination
    filterset_class = GroupSessionFilterSet

    def get_queryset(self) -> QuerySet[GroupSession]:
        sessions = group_session_list(user=self.request.user)
        if self.action in ("attendance", "attendance_put", "cant_attend"):
            # These answer with attendance, not the session: no need for its facilitators.
            sessions = sessions.prefetch_related(None)
        return sessions

    def filter_queryset(self, queryset: QuerySet[GroupSession]) -> QuerySet[GroupSession]:
        # The list's query parameters narrow the list only; one session and its actions
        # are found by id whatever the query string says.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def _managed(self) -> GroupSession:
        session = self.get_object()
        if not session.can_manage:
            raise PermissionDenied(MANAGERS_ONLY)
        return session

    def _run(self) -> GroupSession:
        session = self.get_object()
        if not session.can_run:
            raise PermissionDenied(RUNNERS_ONLY)
        return session

    def _render(self, session: GroupSession) -> Response:
        return Response(session_representation(self.get_queryset().get(pk=session.pk)))

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        body = [session_representation(s) for s in page]
        _own_attendance_shown(page, by=request.user)
        return self.get_paginated_response(body)

    def retrieve(self, request: Request, pk: str) -> Response:
        session = self.get_object()
        body = session_representation(session)
        _own_attendance_shown([session], by=request.user)
        return Response(body)

    @extend_schema(
        operation_id="session_move",
        tags=["sessions"],
        request=SessionMoveInputSerializer,
        responses={200: SessionStaffOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
        description="Move this one session (the series stays as it is): a new `start` "
        "(keeping its length) and/or `end` or `duration_minutes`, another `room` (null for "
        "none), or a new list of `facilitators` (e.g. a substitute). A facilitator or room "
        "already booked is a 409 `double_booking` whose `conflict_id` is the session in the "
        "way; a cancelled, past or started session, or attendance already recorded, is a 409 "
        "`session_change_refused`. Status, group and stage cannot be set here.",
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        session = self._managed()
        serializer = SessionMoveInputSerializer(
            data=request.data, context={"clinic": session.group.clinic}
        )
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        changes: dict[str, Any] = {
            name: data[name] for name in ("start", "end", "room", "facilitators") if name in data
        }
        if "duration_minutes" in data:
            start = data.get("start", session.start)
            changes["end"] = start + dt.timedelta(minutes=data["duration_minutes"])
        group_session_move(session=session, by=request.user, **changes)
        return self._render(session)

    @extend_schema(
        operation_id="session_cancel",
        tags=["sessions"],
        request=SessionCancelInputSerializer,
        responses={200: SessionStaffOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
        description="Cancel this one session with a reason; the facilitators and the room are "
        "free again at that time. A session already cancelled or over is a 409 "
        "`session_change_refused`.",
    )
    @action(detail=True, methods=["post"], url_path="cancel", url_name="cancel")
    def cancel(self, request: Request, pk: str) -> Response:
        session = self._managed()
        serializer = SessionCancelInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        group_session_cancel(
            session=session, by=request.user, reason=serializer.validated_data["reason"]
        )
        return self._render(session)

    @extend_schema(
        operation_id="session_attendance_retrieve",
        tags=["sessions"],
        responses={200: AttendanceSheetOutputSerializer, **error_responses(401, 404)},
        description="The attendance sheet: for the staff who run the session, every member "
        "expected at it (by the roster on the session's date) with what is recorded and "
        "whether they accepted the group's agreement; for a member, their own line only.",
    )
    @action(detail=True, methods=["get"], url_path="attendance", url_name="attendance")
    def attendance(self, request: Request, pk: str) -> Response:
        session = self.get_object()
        if session.can_run:
            rows = session_attendance_sheet(session=session)
        else:
            rows = session_attendance_own(session=session, user_id=request.user.pk)
        body = attendance_sheet_representation(session, rows)
        _sheet_shown(session, rows, by=request.user)
        return Response(body)

    @extend_schema(
        operation_id="session_attendance_record",
        tags=["sessions"],
        request=AttendanceRecordInputSerializer,
        responses={
            200: AttendanceSheetOutputSerializer,
            **error_responses(400, 401, 403, 404, 409),
        },
        description="Record the attendance of the members in `entries` in one go, from the "
        "session's start (all or nothing). Refusals are 409s: `attendance_refused` (a "
        "cancelled or future session, a member not expected, minutes that do not fit, the "
        "group's agreement not accepted by a member marked present, late or left early) and "
        "`attendance_locked` (after the lock period only a clinic admin amends, with a "
        "`reason`). Changes keep their history. Answers with the whole sheet.",
    )
    @attendance.mapping.put
    def attendance_put(self, request: Request, pk: str) -> Response:
        session = self._run()
        serializer = AttendanceRecordInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        attendance_record(
            session=session,
            by=request.user,
            entries=[
                AttendanceEntry(
                    member_id=entry["member"],
                    status=entry["status"],
                    minutes_attended=entry.get("minutes_attended"),
                )
                for entry in data["entries"]
            ],
            reason=data["reason"],
        )
        rows = session_attendance_sheet(session=session)
        body = attendance_sheet_representation(session, rows)
        # The answer is the whole sheet, other members' marks included: a read of its own
        # beside the write's sessions.attendance.recorded.
        _sheet_shown(session, rows, by=request.user)
        return Response(body)

    @extend_schema(
        operation_id="session_cant_attend",
        tags=["sessions"],
        request=None,
        responses={200: CantAttendOutputSerializer, **error_responses(401, 403, 404, 409)},
        description="A member says they can't come to this session of their group: excused "
        "with enough notice, late-cancelled after the group's notice period. Saying it again "
        "changes nothing. A session that has started, is cancelled or does not expect you is "
        "a 409 `cant_attend_refused`; staff get a 403.",
    )
    @action(detail=True, methods=["post"], url_path="cant-attend", url_name="cant-attend")
    def cant_attend(self, request: Request, pk: str) -> Response:
        session = self.get_object()
        own = member_record_in_group(user=request.user, group=session.group)
        if own is None:
            raise PermissionDenied(MEMBER_ONLY)
        row = attendance_cant_attend(session=session, member=own.member, by=request.user)
        return Response(cant_attend_representation(session, row))


@extend_schema_view(
    list=extend_schema(
        operation_id="me_sessions_list",
        tags=["me"],
        responses={200: SessionRepresentation, **error_responses(400, 401)},
        description="Your sessions that have not ended, earliest first, cancelled ones left "
        "out: as a member, those of the groups you are an active member of; as a "
        "facilitator, those of the groups you facilitate and any you facilitate as a "
        "substitute.",
    ),
)
class MeSessionViewSet(viewsets.GenericViewSet):
    serializer_class = SessionStaffOutputSerializer
    pagination_class = TimeCursorPagination

    def get_queryset(self) -> QuerySet[GroupSession]:
        return me_session_list(user=self.request.user)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        body = [session_representation(s) for s in page]
        _own_attendance_shown(page, by=request.user)
        return self.get_paginated_response(body)
