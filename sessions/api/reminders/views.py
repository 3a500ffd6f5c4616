"""``/api/v1/me/reminders/``: the caller's reminder preferences, one per member record.

Only the records linked to the caller's own login are here; anyone else's is a 404, staff
included (they change a member's record through ``/api/v1/members/``).
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from groupcare.api import error_responses
from members.enums import Role
from members.models import ClinicRole, Member
from members.services import member_record_viewed, member_records_listed
from sessions.api.reminders.serializers import (
    ReminderPreferencesInputSerializer,
    ReminderPreferencesOutputSerializer,
)
from sessions.services.notifications import member_update_with_reminders


@extend_schema_view(
    list=extend_schema(
        operation_id="me_reminders_list",
        tags=["me"],
        responses={200: ReminderPreferencesOutputSerializer(many=True), **error_responses(401)},
        description="Your reminder preferences in each clinic where you are a member.",
    ),
    retrieve=extend_schema(
        operation_id="me_reminders_retrieve",
        tags=["me"],
        responses={200: ReminderPreferencesOutputSerializer, **error_responses(401, 404)},
    ),
)
class MeReminderViewSet(viewsets.GenericViewSet):
    serializer_class = ReminderPreferencesOutputSerializer
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self) -> QuerySet[Member]:
        # Records in clinics where the caller still holds the member role.
        member_clinics = ClinicRole.objects.filter(
            user_id=self.request.user.pk, role=Role.MEMBER
        ).values("clinic_id")
        return (
            Member.objects.filter(user_id=self.request.user.pk, clinic_id__in=member_clinics)
            .select_related("clinic")
            .order_by("clinic__name", "pk")
        )

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        body = self.get_serializer(page, many=True).data
        # A member reading their own record's settings is a read of the record, audited
        # as staff's reads are.
        member_records_listed(members=page, by=request.user, action="members.member.viewed")
        return self.get_paginated_response(body)

    def retrieve(self, request: Request, pk: str) -> Response:
        member = self.get_object()
        body = self.get_serializer(member).data
        member_record_viewed(member=member, by=request.user)
        return Response(body)

    @extend_schema(
        operation_id="me_reminders_update",
        tags=["me"],
        request=ReminderPreferencesInputSerializer,
        responses={200: ReminderPreferencesOutputSerializer, **error_responses(400, 401, 404)},
        description="Change when you are reminded of your sessions, or turn reminders off. "
        "Reminders not yet sent follow at once: ones no longer wanted are dropped, new "
        "offsets still ahead are planned (an offset already past is not sent late).",
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        member = self.get_object()
        serializer = ReminderPreferencesInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        member = member_update_with_reminders(
            member=member, by=request.user, **serializer.validated_data
        )
        return Response(self.get_serializer(member).data)
