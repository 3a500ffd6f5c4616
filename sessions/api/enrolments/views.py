"""Member records and enrolments: referral, screening, taking a seat or a place in line,
leaving.

Visibility comes from the selectors, which start from the scoped querysets of
:mod:`sessions.permissions`: what the caller cannot see is a 404; what they see but may not
change (a member and their own record or enrolment) is a 403. Screenings are clinical: only
the staff who run the group (its facilitators, the clinic's admins) ever read them.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import (
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from groupcare.api import error_responses
from members.models import Member
from members.services import (
    member_create,
    member_record_viewed,
    member_records_listed,
)
from sessions.api.clinics import clinic_choose
from sessions.api.enrolments.serializers import (
    ActivateInputSerializer,
    EnrolmentListFilterSerializer,
    EnrolmentMemberOutputSerializer,
    EnrolmentReferInputSerializer,
    EnrolmentStaffOutputSerializer,
    LeaveInputSerializer,
    MemberCreateInputSerializer,
    MemberListFilterSerializer,
    MemberOutputSerializer,
    MemberUpdateInputSerializer,
    ScreeningInputSerializer,
    ScreeningOutputSerializer,
    enrolment_representation,
)
from sessions.models import Enrolment
from sessions.permissions import can_anonymise_member
from sessions.selectors.enrolment import (
    enrolment_group_choices,
    enrolment_scoped_list,
    member_list,
    member_visible_list,
    screening_latest_detail,
)
from sessions.selectors.groups import staff_clinic_list
from sessions.services.enrolment import (
    enrolment_activate,
    enrolment_complete,
    enrolment_decline,
    enrolment_discharge,
    enrolment_refer,
    enrolment_waitlist,
    enrolment_withdraw,
    screening_record,
    screening_viewed,
)
from sessions.services.member_privacy import member_anonymise
from sessions.services.notifications import member_update_with_reminders
from sessions.services.reads import ROSTER_VIEWED, enrolment_viewed, enrolments_viewed

STAFF_ONLY = "Member records and enrolments are for the clinic's staff."
MANAGERS_ONLY = "Only the group's facilitators and a clinic admin may do this."
ADMINS_ONLY = "Only an admin of the member's clinic may anonymise a member record."

EnrolmentRepresentation = PolymorphicProxySerializer(
    component_name="EnrolmentRepresentation",
    serializers=[EnrolmentStaffOutputSerializer, EnrolmentMemberOutputSerializer],
    resource_type_field_name="view",
)


def _refuse_unless_staff(user: Any) -> None:
    if not staff_clinic_list(user=user).exists():
        raise PermissionDenied(STAFF_ONLY)


# --------------------------------------------------------------------------- members


@extend_schema_view(
    list=extend_schema(
        operation_id="member_list",
        tags=["members"],
        parameters=[MemberListFilterSerializer],
        responses={200: MemberOutputSerializer(many=True), **error_responses(400, 401, 403)},
        description="Member records you may manage: every record of a clinic you administer; "
        "as a facilitator, the members of the groups you run and the records you created. "
        "Staff only (a member reads their own record by its id).",
    ),
    retrieve=extend_schema(
        operation_id="member_retrieve",
        tags=["members"],
        responses={200: MemberOutputSerializer, **error_responses(401, 404)},
        description="A member record, contact details included: for the staff who may manage "
        "it, and for the member themself (their own record). Any other record is a 404.",
    ),
)
class MemberViewSet(viewsets.GenericViewSet):
    serializer_class = MemberOutputSerializer

    def get_queryset(self) -> QuerySet[Member]:
        return member_visible_list(user=self.request.user)

    def list(self, request: Request) -> Response:
        _refuse_unless_staff(request.user)
        filters = MemberListFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        members = member_list(
            user=request.user,
            q=filters.validated_data.get("q"),
            group_id=filters.validated_data.get("group"),
        )
        page = self.paginate_queryset(members)
        member_records_listed(members=page, by=request.user)
        return self.get_paginated_response(MemberOutputSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        member = self.get_object()
        member_record_viewed(member=member, by=request.user)
        return Response(MemberOutputSerializer(member).data)

    @extend_schema(
        operation_id="member_create",
        tags=["members"],
        request=MemberCreateInputSerializer,
        responses={201: MemberOutputSerializer, **error_responses(400, 401, 403)},
        description="Add a client record to the clinic where you are admin or facilitator "
        "(send `clinic` when you are staff in several). You are recorded as its author; a "
        "facilitator keeps seeing the records they created.",
    )
    def create(self, request: Request) -> Response:
        refusal = "Only a clinic's admins and facilitators may add its members."
        clinics = list(staff_clinic_list(user=request.user))
        if not clinics:  # refused before the body is read
            raise PermissionDenied(refusal)
        serializer = MemberCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        clinic = clinic_choose(clinics=clinics, wanted=data.pop("clinic", None), refusal=refusal)
        member = member_create(clinic=clinic, by=request.user, **data)
        return Response(MemberOutputSerializer(member).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="member_update",
        tags=["members"],
        request=MemberUpdateInputSerializer,
        responses={200: MemberOutputSerializer, **error_responses(400, 401, 403, 404)},
        description="Change a record you may manage. `clinic`, `user` and `created_by` cannot "
        "be changed (sent, they are ignored). A member may not change their own record here.",
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        member = self.get_object()
        if not member.can_manage:
            raise PermissionDenied("Only the clinic's staff may change a member record.")
        serializer = MemberUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        member = member_update_with_reminders(
            member=member, by=request.user, **serializer.validated_data
        )
        return Response(MemberOutputSerializer(member).data)

    @extend_schema(
        operation_id="member_anonymise",
        tags=["members"],
        request=None,
        responses={200: MemberOutputSerializer, **error_responses(401, 403, 404, 409)},
        description="Anonymise a discharged member's record once the clinic's retention "
        "period is over: names, contact details, emergency contact, time zone and the "
        "clinical notes about them are erased, reminders stop, a login used for nothing "
        "else is switched off; enrolments, agreement acceptances and attendance stay (and "
        "keep counting). Clinic admins only. 409 codes: `member_still_enrolled` (an "
        "enrolment is not yet ended; `conflict_id` is its id), `retention_period_running`, "
        "`already_anonymised`. Cannot be undone.",
    )
    @action(detail=True, methods=["post"], url_path="anonymise", url_name="anonymise")
    def anonymise(self, request: Request, pk: str) -> Response:
        member = self.get_object()
        if not can_anonymise_member(request.user, member):
            raise PermissionDenied(ADMINS_ONLY)
        member = member_anonymise(member=member, by=request.user)
        return Response(MemberOutputSerializer(member).data)


# --------------------------------------------------------------------------- enrolments


def _action_schema(operation_id: str, description: str, request: Any = None) -> Any:
    return extend_schema(
        operation_id=operation_id,
        tags=["enrolments"],
        request=request,
        responses={
            200: EnrolmentStaffOutputSerializer,
            **error_responses(400, 401, 403, 404, 409),
        },
        description=description,
    )


@extend_schema_view(
    list=extend_schema(
        operation_id="enrolment_list",
        tags=["enrolments"],
        parameters=[EnrolmentListFilterSerializer],
        responses={200: EnrolmentRepresentation, **error_responses(400, 401)},
        description="Enrolments you may see: all of the groups you run (staff view) and your "
        "own (member view: status, group, dates and place in line only).",
    ),
    retrieve=extend_schema(
        operation_id="enrolment_retrieve",
        tags=["enrolments"],
        responses={200: EnrolmentRepresentation, **error_responses(401, 404)},
    ),
)
class EnrolmentViewSet(viewsets.GenericViewSet):
    serializer_class = EnrolmentStaffOutputSerializer

    def get_queryset(self) -> QuerySet[Enrolment]:
        return enrolment_scoped_list(user=self.request.user)

    def _managed(self) -> Enrolment:
        enrolment = self.get_object()
        if not enrolment.can_manage:
            raise PermissionDenied(MANAGERS_ONLY)
        return enrolment

    def _render(self, enrolment: Enrolment, status_code: int = status.HTTP_200_OK) -> Response:
        enrolment = self.get_queryset().get(pk=enrolment.pk)
        return Response(enrolment_representation(enrolment), status=status_code)

    def list(self, request: Request) -> Response:
        filters = EnrolmentListFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        enrolments = enrolment_scoped_list(
            user=request.user,
            group_id=filters.validated_data.get("group"),
            member_id=filters.validated_data.get("member"),
            status=filters.validated_data.get("status"),
        )
        page = self.paginate_queryset(enrolments)
        body = [enrolment_representation(e) for e in page]
        enrolments_viewed(
            by=request.user,
            members=[(e.group.clinic_id, e.member_id) for e in page],
            action=ROSTER_VIEWED,
        )
        return self.get_paginated_response(body)

    def retrieve(self, request: Request, pk: str) -> Response:
        enrolment = self.get_object()
        body = enrolment_representation(enrolment)
        enrolment_viewed(enrolment=enrolment, by=request.user)
        return Response(body)

    @extend_schema(
        operation_id="enrolment_refer",
        tags=["enrolments"],
        request=EnrolmentReferInputSerializer,
        responses={201: EnrolmentStaffOutputSerializer, **error_responses(400, 401, 403, 409)},
        description="Refer a member to a group you run (status `referred`). The member must be "
        "a client of the group's clinic whose record you may manage. A second open enrolment "
        "of the member in the group is a 409 whose `conflict_id` is the open one.",
    )
    def create(self, request: Request) -> Response:
        _refuse_unless_staff(request.user)
        serializer = EnrolmentReferInputSerializer(
            data=request.data,
            context={"user": request.user, "groups": enrolment_group_choices(user=request.user)},
        )
        serializer.is_valid(raise_exception=True)
        enrolment = enrolment_refer(
            group=serializer.validated_data["group"],
            member=serializer.validated_data["member"],
            by=request.user,
        )
        return self._render(enrolment, status.HTTP_201_CREATED)

    # --- screening -----------------------------------------------------------------------

    @extend_schema(
        operation_id="enrolment_screening_retrieve",
        tags=["enrolments"],
        responses={200: ScreeningOutputSerializer, **error_responses(401, 403, 404)},
        description="The latest screening (the one that counts); 404 when none is recorded. "
        "Clinical content: for the staff who run the group only (the member gets 403).",
    )
    @action(detail=True, methods=["get"], url_path="screening", url_name="screening")
    def screening(self, request: Request, pk: str) -> Response:
        enrolment = self._managed()
        screening = screening_latest_detail(enrolment=enrolment)
        if screening is None:
            raise NotFound("No screening is recorded for this enrolment yet.")
        screening_viewed(screening=screening, enrolment=enrolment, by=request.user)
        return Response(ScreeningOutputSerializer(screening).data)

    @extend_schema(
        operation_id="enrolment_screening_record",
        tags=["enrolments"],
        request=ScreeningInputSerializer,
        responses={201: ScreeningOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
        description="Record a screening of an open enrolment: a finding and a note for each "
        "of the four contraindication areas, and the outcome. A referred enrolment moves to "
        "`screening`. `not_suitable` blocks activation unless a clinic admin overrides.",
    )
    @screening.mapping.post
    def screening_record(self, request: Request, pk: str) -> Response:
        enrolment = self._managed()
        serializer = ScreeningInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        screening = screening_record(
            enrolment=enrolment,
            by=request.user,
            findings={
                area: (value["finding"], value["note"]) for area, value in data["findings"].items()
            },
            outcome=data["outcome"],
            support_plan=data["support_plan"],
        )
        screening.screened_by = request.user
        return Response(ScreeningOutputSerializer(screening).data, status=status.HTTP_201_CREATED)

    # --- seats -------------------------------------------------------------------------

    @_action_schema(
        "enrolment_activate",
        "Give the member a seat, or, when the group is full, a place in line: the answer is "
        "200 either way, with `status` `active` or `waitlisted` and `waitlist_position`. "
        "Needs a suitable latest screening, or a clinic admin's `override_reason` (409 "
        "`screening_required` otherwise, also when someone else sends a reason); a group that "
        "takes no new members is a 409 `group_closed`.",
        request=ActivateInputSerializer,
    )
    @action(detail=True, methods=["post"], url_path="activate", url_name="activate")
    def activate(self, request: Request, pk: str) -> Response:
        enrolment = self._managed()
        serializer = ActivateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        enrolment = enrolment_activate(
            enrolment=enrolment,
            by=request.user,
            override_reason=serializer.validated_data["override_reason"],
        )
        return self._render(enrolment)

    @_action_schema(
        "enrolment_waitlist",
        "Put a referred or screened member in line even if a seat is free (the same "
        "screening rule as activation). A free seat is then offered to the first in line.",
    )
    @action(detail=True, methods=["post"], url_path="waitlist", url_name="waitlist")
    def waitlist(self, request: Request, pk: str) -> Response:
        return self._render(enrolment_waitlist(enrolment=self._managed(), by=request.user))

    # --- leaving -----------------------------------------------------------------------

    def _leave(self, request: Request, service: Any) -> Response:
        enrolment = self._managed()
        serializer = LeaveInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        enrolment = service(
            enrolment=enrolment, by=request.user, note=serializer.validated_data["note"]
        )
        return self._render(enrolment)

    @_action_schema(
        "enrolment_withdraw",
        "The member leaves of their own accord (from any open status); a freed seat is "
        "offered to the next in line.",
        request=LeaveInputSerializer,
    )
    @action(detail=True, methods=["post"], url_path="withdraw", url_name="withdraw")
    def withdraw(self, request: Request, pk: str) -> Response:
        return self._leave(request, enrolment_withdraw)

    @_action_schema(
        "enrolment_complete",
        "An active member completes the group; a freed seat is offered to the next in line.",
        request=LeaveInputSerializer,
    )
    @action(detail=True, methods=["post"], url_path="complete", url_name="complete")
    def complete(self, request: Request, pk: str) -> Response:
        return self._leave(request, enrolment_complete)

    @_action_schema(
        "enrolment_discharge",
        "The clinic ends the member's place (from any open status); a freed seat is offered "
        "to the next in line.",
        request=LeaveInputSerializer,
    )
    @action(detail=True, methods=["post"], url_path="discharge", url_name="discharge")
    def discharge(self, request: Request, pk: str) -> Response:
        return self._leave(request, enrolment_discharge)

    @_action_schema(
        "enrolment_decline",
        "The referral is declined before the member joined (referred, screening or "
        "waitlisted); a seat reserved for them goes to the next in line.",
    )
    @action(detail=True, methods=["post"], url_path="decline", url_name="decline")
    def decline(self, request: Request, pk: str) -> Response:
        return self._render(enrolment_decline(enrolment=self._managed(), by=request.user))
