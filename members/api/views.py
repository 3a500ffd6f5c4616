from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from members.api.serializers import MeOutputSerializer
from members.selectors import clinic_role_list


class MeView(APIView):
    """Who the caller is and which role they hold in which clinic."""

    @extend_schema(responses=MeOutputSerializer, operation_id="me_retrieve")
    def get(self, request: Request) -> Response:
        user = request.user
        user.roles = clinic_role_list(user=user)
        return Response(MeOutputSerializer(user).data)
