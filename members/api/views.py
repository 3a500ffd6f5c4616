from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from groupcare.api import error_responses
from members.api.serializers import (
    ApiTokenInputSerializer,
    ApiTokenIssuedSerializer,
    ApiTokenOutputSerializer,
    MeOutputSerializer,
)
from members.models import ApiToken
from members.selectors import api_token_list, clinic_role_list
from members.services import api_token_issue, api_token_revoke


class MeView(APIView):
    """Who the caller is and which role they hold in which clinic."""

    @extend_schema(
        responses={200: MeOutputSerializer, **error_responses(401)},
        operation_id="me_retrieve",
        tags=["me"],
        description="Who you are and the role you hold in each clinic.",
    )
    def get(self, request: Request) -> Response:
        user = request.user
        user.roles = clinic_role_list(user=user)
        return Response(MeOutputSerializer(user).data)


class ApiTokenListView(GenericAPIView):
    """The caller's personal API tokens (never the tokens themselves), and issuing one."""

    serializer_class = ApiTokenOutputSerializer

    def get_queryset(self) -> QuerySet[ApiToken]:
        return api_token_list(user=self.request.user)

    @extend_schema(
        responses={200: ApiTokenOutputSerializer(many=True), **error_responses(401)},
        operation_id="me_tokens_list",
        tags=["me"],
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ApiTokenOutputSerializer(page, many=True).data)

    @extend_schema(
        request=ApiTokenInputSerializer,
        responses={201: ApiTokenIssuedSerializer, **error_responses(400, 401, 403)},
        operation_id="me_tokens_create",
        tags=["me"],
    )
    def post(self, request: Request) -> Response:
        if isinstance(request.auth, ApiToken):
            # A leaked token must not be able to mint its own successors.
            raise PermissionDenied(
                "Issue tokens from a signed-in browser session, not with a token."
            )
        serializer = ApiTokenInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, raw = api_token_issue(user=request.user, name=serializer.validated_data["name"])
        token.token = raw
        return Response(ApiTokenIssuedSerializer(token).data, status=status.HTTP_201_CREATED)


class ApiTokenDetailView(GenericAPIView):
    serializer_class = ApiTokenOutputSerializer

    def get_queryset(self) -> QuerySet[ApiToken]:
        return api_token_list(user=self.request.user)

    @extend_schema(
        responses={200: ApiTokenOutputSerializer, **error_responses(401, 404)},
        operation_id="me_tokens_retrieve",
        tags=["me"],
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(
            ApiTokenOutputSerializer(get_object_or_404(self.get_queryset(), pk=pk)).data
        )

    @extend_schema(
        request=None,
        responses={204: None, **error_responses(401, 404)},
        operation_id="me_tokens_revoke",
        tags=["me"],
        description="Revoke the token at once: requests that send it get 401 from now on.",
    )
    def delete(self, request: Request, pk: int) -> Response:
        api_token_revoke(token=get_object_or_404(self.get_queryset(), pk=pk), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
