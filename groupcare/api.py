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

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Page
from django.core.validators import MaxValueValidator, RegexValidator
from drf_spectacular.utils import OpenApiResponse, extend_schema_field, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import exception_handler as drf_exception_handler

from groupcare.errors import DomainError
from groupcare.forms import EARLIEST_DAY, LATEST_DAY
from groupcare.parsers import RequestTooLarge, too_large


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus domain refusals (409/400), model validation (400) and a body
    over the size limit (413)."""
    if isinstance(exc, RequestDataTooBig):
        exc = too_large()
    if isinstance(exc, RequestTooLarge):
        return Response({"detail": str(exc.detail), "code": "too_large"}, status=413)
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


def query_int(request: Any, name: str, *, minimum: int, maximum: int | None = None) -> int | None:
    """The whole number in query parameter ``name``, or None when it is absent; anything else
    (a sign, a fraction, a word, a number out of range) is a 400 naming the parameter."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    bound = f"from {minimum} to {maximum}" if maximum is not None else f"{minimum} or more"
    value = int(raw) if raw.isascii() and raw.isdigit() else None
    if value is None or value < minimum or (maximum is not None and value > maximum):
        raise exceptions.ValidationError({name: [f"Give a whole number {bound}."]})
    return value


def _page_size_parameter(paginator: Any) -> dict[str, Any]:
    return {
        "name": paginator.page_size_query_param,
        "required": False,
        "in": "query",
        "description": f"Rows per page (default {paginator.page_size}).",
        "schema": {"type": "integer", "minimum": 1, "maximum": paginator.max_page_size},
    }


class PagePagination(PageNumberPagination):
    """``?page=N`` and ``?page_size=N`` (at most 200); the body says the total count. A page
    number or size that is not a whole number in range is a 400."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request: Any) -> int:
        size = query_int(request, self.page_size_query_param, minimum=1, maximum=self.max_page_size)
        return size or self.page_size

    def get_page_number(self, request: Any, paginator: Any) -> int:
        return query_int(request, self.page_query_param, minimum=1) or 1

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list[Any]:
        """A page past the last is empty (its ``previous`` link goes to the last page)."""
        self.request = request
        paginator = self.django_paginator_class(queryset, self.get_page_size(request))
        number = self.get_page_number(request, paginator)
        if number > paginator.num_pages:
            self.page = Page([], number, paginator)
            return []
        self.page = paginator.page(number)
        return list(self.page)

    def get_previous_link(self) -> str | None:
        last = self.page.paginator.num_pages
        if self.page.number > last:
            url = self.request.build_absolute_uri()
            return replace_query_param(url, self.page_query_param, last)
        return super().get_previous_link()

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "Page number, from 1.",
                "schema": {"type": "integer", "minimum": 1},
            },
            _page_size_parameter(self),
        ]


class TimeCursorPagination(CursorPagination):
    """Opaque cursors over a time-ordered list (sessions, attendance): stable while rows are
    added, and no COUNT over a large table. A cursor that was not given by the API is a 400."""

    ordering = ("start", "pk")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request: Any) -> int:
        size = query_int(request, self.page_size_query_param, minimum=1, maximum=self.max_page_size)
        return size or self.page_size

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list[Any] | None:
        try:
            return super().paginate_queryset(queryset, request, view)
        except exceptions.NotFound:
            raise exceptions.ValidationError(
                {
                    self.cursor_query_param: [
                        "This cursor does not exist: follow a `next` or `previous` link "
                        "of the list."
                    ]
                }
            ) from None

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "The cursor of the next or previous page, from that link.",
                "schema": {"type": "string"},
            },
            _page_size_parameter(self),
        ]


ErrorSerializer = inline_serializer(name="Error", fields={"detail": serializers.CharField()})
DomainErrorSerializer = inline_serializer(
    name="DomainError",
    fields={
        "detail": serializers.CharField(),
        "code": serializers.CharField(),
        "conflict_id": serializers.IntegerField(allow_null=True),
    },
)
# A 400 names each invalid field with its messages (a list of strings, or for a list or
# nested field, the same shape again per item or key); a refused value as a whole gets
# ``detail`` and ``code`` (and ``conflict_id`` when something stands in the way).
VALIDATION_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Each invalid field with its messages; `non_field_errors` for a rule "
    "across fields; or `detail` and `code` for a refused value.",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "non_field_errors": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": {},
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """The documented error responses of an operation, for ``extend_schema(responses=…)``."""
    described = {
        400: OpenApiResponse(VALIDATION_ERROR_SCHEMA, description="Invalid input."),
        401: OpenApiResponse(ErrorSerializer, description="No valid credentials."),
        403: OpenApiResponse(ErrorSerializer, description="Visible, but not yours to change."),
        404: OpenApiResponse(ErrorSerializer, description="Not found, or not visible to you."),
        409: OpenApiResponse(DomainErrorSerializer, description="A clinic rule refused it."),
    }
    return {status: described[status] for status in statuses}


# --------------------------------------------------------------------------- input shapes


#: The largest id (a 64-bit primary key); integer parameters without a bound of their own
#: stop here, so a number the database cannot hold is a 400, not an overflow.
MAX_ID = 2**63 - 1


#: What Python's ``str.strip()`` (and so DRF's trimming) removes, spelled out so the same
#: class means the same in the schema's (ECMA) patterns and in Python's.
_SPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
#: Text with something besides spaces, and no NUL (which PostgreSQL cannot store).
TEXT_PATTERN = rf"^[^\x00]*[^\x00{_SPACE}][^\x00]*$"
#: Text that may be empty, and has no NUL.
BLANK_TEXT_PATTERN = r"^[^\x00]*$"


def _tighten(field: serializers.Field) -> None:
    """Say in the schema what the field already refuses: an integer has the id's bounds, and
    text has a pattern for "not only spaces" and "no NUL"."""
    if isinstance(field, serializers.ListField):
        _tighten(field.child)
    elif isinstance(field, serializers.IntegerField) and field.max_value is None:
        field.max_value = MAX_ID
        message = field.error_messages["max_value"].format(max_value=MAX_ID)
        field.validators.append(MaxValueValidator(MAX_ID, message=message))
    elif type(field) is serializers.CharField and not field.read_only:
        pattern = BLANK_TEXT_PATTERN if field.allow_blank else TEXT_PATTERN
        field.validators.append(
            RegexValidator(pattern, message="Enter text without NUL characters.")
        )


def _tightened(fields: Any) -> Any:
    for field in fields.values():
        _tighten(field)
    return fields


def _json_type_error(field: serializers.Field, value: Any) -> Any:
    """The message for ``value`` when its JSON type is not the one ``field`` documents, else
    None. DRF would turn ``12`` into ``"12"`` or ``"true"`` into ``True``; the schema says
    which type each field takes, and that is the type the API accepts."""
    if value is None:
        return None  # null is the field's own business (allow_null)
    if isinstance(field, serializers.ListField):
        if not isinstance(value, list):
            return ["Expected a list of items."]
        items = {i: _json_type_error(field.child, item) for i, item in enumerate(value)}
        items = {i: error for i, error in items.items() if error}
        return items or None
    if isinstance(field, serializers.ManyRelatedField):
        if not isinstance(value, list):
            return ["Expected a list of items."]
        items = {i: _json_type_error(field.child_relation, item) for i, item in enumerate(value)}
        items = {i: error for i, error in items.items() if error}
        return items or None
    if isinstance(field, serializers.PrimaryKeyRelatedField):
        if not isinstance(value, int) or isinstance(value, bool):
            return ["A valid integer is required."]
        if not -MAX_ID <= value <= MAX_ID:  # no row has it; the database could not say so
            return [field.error_messages["does_not_exist"].format(pk_value=value)]
        return None
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else ["Must be a valid boolean."]
    if isinstance(field, serializers.IntegerField):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else ["A valid integer is required."]
    if isinstance(field, serializers.FloatField | serializers.DecimalField):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else ["A valid number is required."]
    if isinstance(
        field,
        serializers.CharField
        | serializers.DateField
        | serializers.DateTimeField
        | serializers.TimeField
        | serializers.DurationField,
    ):
        return None if isinstance(value, str) else ["Not a valid string."]
    if isinstance(field, serializers.ChoiceField):
        wanted = {type(choice) for choice in field.choices}
        if wanted == {str} and not isinstance(value, str):
            return ["Not a valid string."]
        if wanted == {int} and (not isinstance(value, int) or isinstance(value, bool)):
            return ["A valid integer is required."]
    return None


class InputSerializer(serializers.Serializer):
    # A JSON request body: each field takes the JSON type the schema gives it (a string for
    # text, a number for a number, true/false for a flag), not a value DRF could coerce.
    # (A comment, not a docstring: the schema would show it on every request body.)

    def get_fields(self) -> dict[str, serializers.Field]:
        return _tightened(super().get_fields())

    def to_internal_value(self, data: Any) -> Any:
        wrong_type: dict[str, Any] = {}
        if isinstance(data, dict):
            for name, field in self.fields.items():
                if not field.read_only and name in data:
                    error = _json_type_error(field, data[name])
                    if error:
                        wrong_type[name] = error
        try:
            value = super().to_internal_value(data)
        except exceptions.ValidationError as exc:
            if not isinstance(exc.detail, dict):
                raise
            raise exceptions.ValidationError({**exc.detail, **wrong_type}) from None
        if wrong_type:
            raise exceptions.ValidationError(wrong_type)
        return value


class QueryParameters(serializers.Serializer):
    """Query parameters of a list. A parameter given without a value (``?status=``) is a 400
    naming it: leave it out to mean "any"."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return _tightened(super().get_fields())

    def to_internal_value(self, data: Any) -> Any:
        empty = [name for name in self.fields if name in data and data.get(name) == ""]
        if empty:
            raise exceptions.ValidationError(
                {name: ["Give a value, or leave out the parameter."] for name in empty}
            )
        return super().to_internal_value(data)


class OptionalURLField(serializers.URLField):
    """An optional link for output: stored as "" when there is none, given as null, so a
    value in a response is always a URL."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str | None:
        return value or None


def document_query_errors(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """Schema hook: an operation that takes query parameters (a page, a filter) answers a bad
    one with 400, so every such operation documents that 400."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            takes_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
            responses = operation.get("responses", {})
            if takes_query and "400" not in responses:
                responses["400"] = {
                    "content": {"application/json": {"schema": VALIDATION_ERROR_SCHEMA}},
                    "description": "A query parameter is not valid.",
                }
    return result


# The schema states the range as a pattern (OpenAPI has no bounds for dates); "format: date"
# is left out, since together they leave generators and validators almost nothing to try.
@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
    }
)
class DayField(serializers.DateField):
    """A calendar day in a request, in the years a clinic plans in (2000 to 2099): a slip
    such as the year 0001 or 9999 is a 400 naming the field, never time-zone arithmetic
    that cannot hold it."""

    default_error_messages = {"out_of_range": "Give a date between the years 2000 and 2099."}

    def to_internal_value(self, value: Any) -> Any:
        day = super().to_internal_value(value)
        if not EARLIEST_DAY <= day <= LATEST_DAY:
            self.fail("out_of_range")
        return day
