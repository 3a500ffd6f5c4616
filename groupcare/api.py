"""What every endpoint under /api/v1/ shares: error shapes, pagination, schema components.

Error bodies carry a message and codes, never data of the object refused:
- 400 ``{"field": ["message", ...], ...}`` for invalid input (``non_field_errors`` for a
  rule across fields), or ``{"detail": "...", "code": "..."}`` for a refused value;
- 409 ``{"detail": "...", "code": "...", "conflict_id": 12}`` when a clinic rule refuses
  (double booking, screening missing, closed group…); ``conflict_id`` is the id of what stands
  in the way, or null;
- 401 / 403 / 404 ``{"detail": "..."}``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from groupcare.errors import DomainError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus domain refusals (409/400) and model validation (400)."""
    if isinstance(exc, DomainError):
        return Response(
            {"detail": exc.message, "code": exc.code, "conflict_id": exc.conflict_id},
            status=exc.status,
        )
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            detail: Any = {
                ("non_field_errors" if field == "__all__" else field): messages
                for field, messages in exc.message_dict.items()
            }
        else:
            detail = {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    return drf_exception_handler(exc, context)


class PagePagination(PageNumberPagination):
    """``?page=N`` and ``?page_size=N`` (at most 200); the body says the total count."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class TimeCursorPagination(CursorPagination):
    """Opaque cursors over a time-ordered list (sessions, attendance): stable while rows are
    added, and no COUNT over a large table."""

    ordering = ("start", "pk")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


ErrorSerializer = inline_serializer(name="Error", fields={"detail": serializers.CharField()})
DomainErrorSerializer = inline_serializer(
    name="DomainError",
    fields={
        "detail": serializers.CharField(),
        "code": serializers.CharField(),
        "conflict_id": serializers.IntegerField(allow_null=True),
    },
)
ValidationErrorSerializer = inline_serializer(
    name="ValidationError",
    fields={
        "field_name": serializers.ListField(
            child=serializers.CharField(), help_text="Messages for each invalid field."
        )
    },
)


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """The documented error responses of an operation, for ``extend_schema(responses=…)``."""
    described = {
        400: OpenApiResponse(ValidationErrorSerializer, description="Invalid input."),
        401: OpenApiResponse(ErrorSerializer, description="No valid credentials."),
        403: OpenApiResponse(ErrorSerializer, description="Visible, but not yours to change."),
        404: OpenApiResponse(ErrorSerializer, description="Not found, or not visible to you."),
        409: OpenApiResponse(DomainErrorSerializer, description="A clinic rule refused it."),
    }
    return {status: described[status] for status in statuses}
