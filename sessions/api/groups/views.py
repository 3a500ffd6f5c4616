"""Groups (with their stage, schedule, roster and agreement), rooms and modalities.

Visibility comes from :mod:`sessions.selectors.groups`, which starts from the scoped
querysets: a group the caller cannot see is a 404; one they see as a member but may not run
is a 403 on every staff-only action.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from groupcare.api import error_responses
from members.enums import STAFF_ROLES, Role
from members.models import Clinic, ClinicRole, Member
from sessions.api.clinics import clinic_choose
from sessions.api.groups.serializers import (
    AgreementAcceptanceOutputSerializer,
    AgreementAcceptInputSerializer,
    AgreementOutputSerializer,
    AgreementPublishInputSerializer,
    ClinicChoiceSerializer,
    GroupCreateInputSerializer,
    GroupListFilterSerializer,
    GroupMemberOutputSerializer,
    GroupStaffOutputSerializer,
    GroupUpdateInputSerializer,
    ModalityCreateInputSerializer,
    ModalityOutputSerializer,
    RoomCreateInputSerializer,
    RoomOutputSerializer,
    RoomUpdateInputSerializer,
    RosterFilterSerializer,
    RosterNameSerializer,
    RosterStaffEntrySerializer,
    ScheduledSessionSerializer,
    ScheduleInputSerializer,
    ScheduleOutputSerializer,
    ScheduleSetOutputSerializer,
    StageChangeInputSerializer,
    StageTransitionOutputSerializer,
    group_representation,
)
from sessions.enums import AcceptanceMethod, EnrolmentStatus
from sessions.models import AgreementAcceptance, Group, Modality, Room, Schedule
from sessions.permissions import can_create_group_run_by
from sessions.selectors.groups import (
    agreement_current_with_acceptance,
    group_list,
    member_record_in_group,
    modality_list,
    room_list,
    roster_list,
    roster_names,
    staff_clinic_list,
    stage_transition_list,
)
from sessions.services.agreements import agreement_accept, agreement_publish
from sessions.services.groups import (
    group_create,
    group_update,
    modality_create,
    room_create,
    room_update,
    stage_change,
)
from sessions.services.reads import enrolment_viewed, roster_viewed
from sessions.services.scheduling import schedule_set

GroupRepresentation = PolymorphicProxySerializer(
    component_name="GroupRepresentation",
    serializers=[GroupStaffOutputSerializer, GroupMemberOutputSerializer],
    resource_type_field_name="view",
)
RosterEntry = PolymorphicProxySerializer(
    component_name="RosterEntry",
    serializers=[RosterStaffEntrySerializer, RosterNameSerializer],
    resource_type_field_name=None,
    many=True,
)


def clinic_for_write(*, user: Any, data: Any, roles: frozenset[str], refusal: str) -> Clinic:
    """The clinic a write goes to: the only one where ``user`` holds one of ``roles``, or
    the ``clinic`` of the body when they hold it in several. A clinic where they do not
    (or that does not exist) is a 403 with ``refusal``, the same either way."""
    choice = ClinicChoiceSerializer(data=data)
    choice.is_valid(raise_exception=True)
    return clinic_choose(
        clinics=list(staff_clinic_list(user=user, roles=roles)),
        wanted=choice.validated_data.get("clinic"),
        refusal=refusal,
    )


class IsClinicStaff(BasePermission):
    """Admin or facilitator of at least one clinic (rooms and modalities are staff matters)."""

    message = "Rooms and modalities are for the clinic's staff."

    def has_permission(self, request: Request, view: Any) -> bool:
        return staff_clinic_list(user=request.user).exists()


@extend_schema_view(
    list=extend_schema(
        operation_id="group_list",
        tags=["groups"],
        parameters=[GroupListFilterSerializer],
        responses={200: GroupRepresentation, **error_responses(400, 401)},
        description="The groups you may see: all of a clinic you administer, those you "
        "facilitate, those you are enrolled in (member view).",
    ),
    retrieve=extend_schema(
        operation_id="group_retrieve",
        tags=["groups"],
        responses={200: GroupRepresentation, **error_responses(401, 404)},
    ),
)
class GroupViewSet(viewsets.GenericViewSet):
    serializer_class = GroupStaffOutputSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self) -> QuerySet[Group]:
        return group_list(user=self.request.user)

    def _managed_group(self) -> Group:
        group = self.get_object()
        if not group.can_manage:
            raise PermissionDenied("Only the group's facilitators and a clinic admin may do this.")
        return group

    def _render(self, group: Group, status_code: int = status.HTTP_200_OK) -> Response:
        group = self.get_queryset().get(pk=group.pk)
        return Response(group_representation(group), status=status_code)

    # --- the group ---------------------------------------------------------------------

    def list(self, request: Request) -> Response:
        filters = GroupListFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        groups = group_list(
            user=request.user,
            stage=filters.validated_data.get("stage"),
            status=filters.validated_data.get("status"),
            modality_id=filters.validated_data.get("modality"),
        )
        page = self.paginate_queryset(groups)
        return self.get_paginated_response([group_representation(group) for group in page])

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(group_representation(self.get_object()))

    @extend_schema(
        operation_id="group_create",
        tags=["groups"],
        request=GroupCreateInputSerializer,
        responses={201: GroupStaffOutputSerializer, **error_responses(400, 401, 403, 409)},
        description="Create a group in forming. The clinic is the one where you are admin or "
        "facilitator (send `clinic` when you are staff in several). A facilitator creates "
        "groups they lead or co-facilitate; the lead defaults to you when you facilitate.",
    )
    def create(self, request: Request) -> Response:
        user = request.user
        clinic = clinic_for_write(
            user=user,
            data=request.data,
            roles=STAFF_ROLES,
            refusal="Only a clinic's admin or facilitators may create its groups.",
        )
        serializer = GroupCreateInputSerializer(data=request.data, context={"clinic": clinic})
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("clinic", None)
        roles = set(
            ClinicRole.objects.filter(user=user, clinic=clinic).values_list("role", flat=True)
        )
        lead = data.pop("lead_facilitator", None)
        if lead is None:
            if Role.FACILITATOR not in roles:
                raise ValidationError({"lead_facilitator": ["Say who leads the group."]})
            lead = user
        co_facilitators = data.pop("co_facilitators", [])
        if not can_create_group_run_by(
            user, clinic=clinic, lead=lead, co_facilitators=co_facilitators
        ):
            raise ValidationError(
                {"lead_facilitator": ["A facilitator creates groups they lead or co-facilitate."]}
            )
        group = group_create(
            clinic=clinic,
            by=user,
            lead_facilitator=lead,
            co_facilitators=co_facilitators,
            **data,
        )
        return self._render(group, status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="group_update",
        tags=["groups"],
        request=GroupUpdateInputSerializer,
        responses={200: GroupStaffOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
        description="Change what a group's managers may change. Clinic, stage, status, the "
        "final session date and the lead facilitator are not changed here (sent, they are "
        "ignored). A new room or video link applies to sessions generated from now on.",
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        group = self._managed_group()
        serializer = GroupUpdateInputSerializer(data=request.data, context={"clinic": group.clinic})
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        co_facilitators = data.pop("co_facilitators", None)
        group_update(group=group, by=request.user, co_facilitators=co_facilitators, **data)
        return self._render(group)

    # --- stage -------------------------------------------------------------------------

    @extend_schema(
        operation_id="group_stage_history",
        tags=["groups"],
        responses={
            200: StageTransitionOutputSerializer(many=True),
            **error_responses(401, 403, 404),
        },
        description="The group's stage transitions, oldest first (staff who run the group).",
    )
    @action(detail=True, methods=["get"], url_path="stage", url_name="stage")
    def stage(self, request: Request, pk: str) -> Response:
        group = self._managed_group()
        page = self.paginate_queryset(stage_transition_list(group=group))
        return self.get_paginated_response(StageTransitionOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="group_stage_change",
        tags=["groups"],
        request=StageChangeInputSerializer,
        responses={
            201: StageTransitionOutputSerializer,
            **error_responses(400, 401, 403, 404, 409),
        },
        description="Move the group to another stage. Moving back needs a note; moving to "
        "adjourning needs `final_session_date`. Refusals are 409 with a `code`.",
    )
    @stage.mapping.post
    def stage_change(self, request: Request, pk: str) -> Response:
        group = self._managed_group()
        serializer = StageChangeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        transition = stage_change(group=group, by=request.user, **serializer.validated_data)
        transition.by = request.user
        return Response(
            StageTransitionOutputSerializer(transition).data, status=status.HTTP_201_CREATED
        )

    # --- schedule ----------------------------------------------------------------------

    @extend_schema(
        operation_id="group_schedule_retrieve",
        tags=["groups"],
        responses={200: ScheduleOutputSerializer, **error_responses(401, 404)},
        description="The group's recurrence in the clinic's local time; 404 when it has none.",
    )
    @action(detail=True, methods=["get"], url_path="schedule", url_name="schedule")
    def schedule(self, request: Request, pk: str) -> Response:
        group = self.get_object()
        try:
            schedule = group.schedule
        except Schedule.DoesNotExist:
            raise NotFound("This group has no schedule yet.") from None
        return Response(ScheduleOutputSerializer(schedule).data)

    @extend_schema(
        operation_id="group_schedule_set",
        tags=["groups"],
        request=ScheduleInputSerializer,
        responses={200: ScheduleSetOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
        description="Create or replace the schedule: an `rrule`, or `weekdays` with "
        "`interval` and `count` or `until`. Future sessions follow it; the response lists "
        "every session from now on with local offsets. A double booking is a 409.",
    )
    @schedule.mapping.put
    def schedule_put(self, request: Request, pk: str) -> Response:
        group = self._managed_group()
        serializer = ScheduleInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        sessions = schedule_set(
            group=group,
            rrule=data["rule"],
            first_date=data["first_date"],
            start_time=data["start_time"],
            duration_minutes=data["duration_minutes"],
            by=request.user,
        )
        schedule = Schedule.objects.select_related("group__clinic").get(group=group)
        context = {"timezone": group.clinic.timezone}
        return Response(
            {
                "schedule": ScheduleOutputSerializer(schedule).data,
                "sessions": ScheduledSessionSerializer(sessions, many=True, context=context).data,
            }
        )

    # --- roster ------------------------------------------------------------------------

    @extend_schema(
        operation_id="group_roster",
        tags=["groups"],
        parameters=[RosterFilterSerializer],
        responses={200: RosterEntry, **error_responses(400, 401, 403, 404)},
        description="Staff who run the group: every enrolment with the member's contact "
        "details (`?status=` filters). An active member of the group: the preferred names of "
        "the active members, and nothing else.",
    )
    @action(detail=True, methods=["get"], url_path="roster", url_name="roster")
    def roster(self, request: Request, pk: str) -> Response:
        group = self.get_object()
        if group.can_manage:
            filters = RosterFilterSerializer(data=request.query_params)
            filters.is_valid(raise_exception=True)
            page = self.paginate_queryset(
                roster_list(group=group, status=filters.validated_data.get("status"))
            )
            roster_viewed(
                group=group, member_ids=[enrolment.member_id for enrolment in page], by=request.user
            )
            return self.get_paginated_response(RosterStaffEntrySerializer(page, many=True).data)
        own = member_record_in_group(user=request.user, group=group)
        if own is None or own.status != EnrolmentStatus.ACTIVE:
            raise PermissionDenied("The roster is for the group's active members and its staff.")
        page = self.paginate_queryset(roster_names(group=group))
        roster_viewed(group=group, member_ids=[member.pk for member in page], by=request.user)
        return self.get_paginated_response(RosterNameSerializer(page, many=True).data)

    # --- agreement ---------------------------------------------------------------------

    @extend_schema(
        operation_id="group_agreement_retrieve",
        tags=["groups"],
        responses={200: AgreementOutputSerializer, **error_responses(401, 404)},
        description="The current version of the group's agreement; for a member, whether "
        "they accepted it. 404 when none is published.",
    )
    @action(detail=True, methods=["get"], url_path="agreement", url_name="agreement")
    def agreement(self, request: Request, pk: str) -> Response:
        group = self.get_object()
        is_member = not group.can_manage
        own = member_record_in_group(user=request.user, group=group) if is_member else None
        agreement, acceptance = agreement_current_with_acceptance(
            group=group, member=own.member if own else None
        )
        if agreement is None:
            raise NotFound("This group has no agreement yet.")
        if own is not None:
            # A member reads whether they accepted: their own enrolment's standing.
            enrolment_viewed(enrolment=own, group=group, by=request.user)
        context = {"is_member": is_member, "acceptance": acceptance}
        return Response(AgreementOutputSerializer(agreement, context=context).data)

    @extend_schema(
        operation_id="group_agreement_publish",
        tags=["groups"],
        request=AgreementPublishInputSerializer,
        responses={201: AgreementOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
        description="Publish a new version; members must accept it again.",
    )
    @agreement.mapping.put
    def agreement_put(self, request: Request, pk: str) -> Response:
        group = self._managed_group()
        serializer = AgreementPublishInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        agreement = agreement_publish(
            group=group, text=serializer.validated_data["text"], by=request.user
        )
        return Response(
            AgreementOutputSerializer(agreement, context={"is_member": False}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        operation_id="group_agreement_accept",
        tags=["groups"],
        request=AgreementAcceptInputSerializer,
        responses={
            200: OpenApiResponse(
                AgreementAcceptanceOutputSerializer, description="Already accepted."
            ),
            201: AgreementAcceptanceOutputSerializer,
            **error_responses(400, 401, 403, 404, 409),
        },
        description="A member accepts the current version for themself (online). Staff who "
        'run the group record a paper signature: `{"member": id, "method": "paper"}`.',
    )
    @agreement.mapping.post
    def agreement_post(self, request: Request, pk: str) -> Response:
        group = self.get_object()
        if group.can_manage:
            members = Member.objects.filter(clinic_id=group.clinic_id, enrolments__group=group)
            default_method = AcceptanceMethod.PAPER
        else:
            own = member_record_in_group(user=request.user, group=group)
            members = Member.objects.filter(pk=own.member_id if own else None)
            default_method = AcceptanceMethod.ONLINE
        serializer = AgreementAcceptInputSerializer(
            data=request.data, context={"members": members.distinct()}
        )
        serializer.is_valid(raise_exception=True)
        method = serializer.validated_data.get("method", default_method)
        member = serializer.validated_data.get("member")
        if group.can_manage:
            if member is None:
                raise ValidationError({"member": ["Say whose paper signature this is."]})
            if method != AcceptanceMethod.PAPER:
                raise ValidationError(
                    {"method": ["Staff record a paper signature; members accept online."]}
                )
        else:
            if method != AcceptanceMethod.ONLINE:
                raise PermissionDenied(
                    "Only the group's facilitators or a clinic admin record a paper signature."
                )
            member = member or members.first()
            if member is None:
                raise PermissionDenied("Only a member of the group accepts its agreement.")
        agreement, existing = agreement_current_with_acceptance(group=group, member=member)
        if agreement is None:
            raise NotFound("This group has no agreement yet.")
        acceptance = agreement_accept(
            agreement=agreement, member=member, by=request.user, method=method
        )
        acceptance = AgreementAcceptance.objects.select_related("agreement").get(pk=acceptance.pk)
        return Response(
            AgreementAcceptanceOutputSerializer(acceptance).data,
            status=status.HTTP_200_OK if existing else status.HTTP_201_CREATED,
        )


@extend_schema_view(
    list=extend_schema(
        operation_id="room_list",
        tags=["rooms"],
        responses={200: RoomOutputSerializer(many=True), **error_responses(401, 403)},
        description="The rooms of every clinic where you are admin or facilitator.",
    ),
    retrieve=extend_schema(
        operation_id="room_retrieve",
        tags=["rooms"],
        responses={200: RoomOutputSerializer, **error_responses(401, 403, 404)},
    ),
)
class RoomViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = RoomOutputSerializer
    permission_classes = [IsAuthenticated, IsClinicStaff]

    def get_queryset(self) -> QuerySet[Room]:
        return room_list(user=self.request.user)

    @extend_schema(
        operation_id="room_create",
        tags=["rooms"],
        request=RoomCreateInputSerializer,
        responses={201: RoomOutputSerializer, **error_responses(400, 401, 403, 409)},
        description="Add a room (clinic admins; send `clinic` when you administer several). "
        "A name the clinic already uses is a 409 naming that room.",
    )
    def create(self, request: Request) -> Response:
        clinic = clinic_for_write(
            user=request.user,
            data=request.data,
            roles=frozenset({Role.ADMIN}),
            refusal="Only a clinic admin may add rooms.",
        )
        serializer = RoomCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        room = room_create(
            clinic=clinic,
            name=serializer.validated_data["name"],
            capacity=serializer.validated_data["capacity"],
            by=request.user,
        )
        return Response(RoomOutputSerializer(room).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="room_update",
        tags=["rooms"],
        request=RoomUpdateInputSerializer,
        responses={200: RoomOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
        description="Rename a room, change its capacity or take it out of use (admins). "
        "A name the clinic already uses is a 409 naming that room.",
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        room = self.get_object()
        if not room.can_manage:
            raise PermissionDenied("Only a clinic admin may change its rooms.")
        serializer = RoomUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        room = room_update(room=room, by=request.user, **serializer.validated_data)
        return Response(RoomOutputSerializer(room).data)


@extend_schema_view(
    list=extend_schema(
        operation_id="modality_list",
        tags=["modalities"],
        responses={200: ModalityOutputSerializer(many=True), **error_responses(401, 403)},
        description="The built-in modalities and those of the clinics where you are staff.",
    ),
)
class ModalityViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = ModalityOutputSerializer
    permission_classes = [IsAuthenticated, IsClinicStaff]

    def get_queryset(self) -> QuerySet[Modality]:
        return modality_list(user=self.request.user)

    @extend_schema(
        operation_id="modality_create",
        tags=["modalities"],
        request=ModalityCreateInputSerializer,
        responses={201: ModalityOutputSerializer, **error_responses(400, 401, 403, 409)},
        description="Add a modality of your clinic's own (clinic admins). A name in use, "
        "the clinic's or a built-in one, is a 409 naming that modality.",
    )
    def create(self, request: Request) -> Response:
        clinic = clinic_for_write(
            user=request.user,
            data=request.data,
            roles=frozenset({Role.ADMIN}),
            refusal="Only a clinic admin may add modalities.",
        )
        serializer = ModalityCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        modality = modality_create(
            clinic=clinic, name=serializer.validated_data["name"], by=request.user
        )
        return Response(ModalityOutputSerializer(modality).data, status=status.HTTP_201_CREATED)
