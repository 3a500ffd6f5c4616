"""What the Schemathesis suite needs besides the test itself: the schema, the app, one check
adapted to a house rule, and a way to send requests through the WSGI handler inside a
pytest-django test transaction."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from schemathesis.specs.openapi.checks import positive_data_acceptance
from schemathesis.specs.openapi.schemas import OpenApiSchema

from groupcare.wsgi import application


def openapi_document() -> dict[str, Any]:
    """The document /api/schema/?format=json serves, built without a request (so nothing
    touches the database while pytest collects) and round-tripped through JSON as served."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document, renderer_context={}))


def load_schema() -> OpenApiSchema:
    schema = schemathesis.openapi.from_dict(openapi_document())
    # Requests go in-process to the real WSGI handler: every middleware, no network.
    schema.app = application
    return schema


@contextmanager
def connection_kept_across_requests() -> Iterator[None]:
    """Keep Django from closing the database connection around each WSGI request.

    The handler's request_started/request_finished signals call close_old_connections, which,
    inside pytest-django's per-test transaction (autocommit off), closes the connection and
    so loses the transaction. Django's own test client disconnects the same receiver for the
    same reason (django.test.client.ClientHandler); this does it for the plain WSGI app.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _messages(errors: Any) -> list[str]:
    if isinstance(errors, str):
        return [errors]
    if isinstance(errors, dict):
        return [message for value in errors.values() for message in _messages(value)]
    if isinstance(errors, list):
        return [message for value in errors for message in _messages(value)]
    return [str(errors)]


#: The house's 400s that a schema cannot rule out: an id the caller cannot see (or that does
#: not exist), and a day the date pattern admits but the calendar lacks (2026-02-30).
_UNKNOWABLE_FROM_THE_SCHEMA = ("does not exist", "Date has wrong format")


def _only_unknown_ids(response: schemathesis.Response) -> bool:
    try:
        messages = _messages(response.json())
    except ValueError:
        return False
    return bool(messages) and all(
        any(reason in message for reason in _UNKNOWABLE_FROM_THE_SCHEMA) for message in messages
    )


def positive_data_accepted_unless_an_id_is_unknown(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Schemathesis' ``positive_data_acceptance``, except for one answer the house rules
    require: an id in the body that the caller cannot see (or that does not exist) is a 400
    "does not exist" on that field. A schema cannot say which ids exist, so a generated
    ``"room": 0`` is schema-valid; nor which days a month has, so a day pattern admits
    2026-02-30. Every other 400 to schema-valid data still fails."""
    if response.status_code == 400 and _only_unknown_ids(response):
        return None
    return positive_data_acceptance(ctx, response, case)


REPLACED_CHECKS = [positive_data_acceptance]
ADDED_CHECKS = [positive_data_accepted_unless_an_id_is_unknown]


EXPORT_PATH = "/api/v1/exports/attendance/"


def export_range_within_limits(ctx: Any, query: dict[str, Any] | None) -> dict[str, Any] | None:
    """A schema cannot say that ``to`` is on or after ``from`` and at most 366 days on: keep
    generated ranges inside that rule, so schema-valid requests reach the export. (A range
    outside it is a 400 naming ``to``; tests/api/test_exports_api.py checks that.)"""
    if not query or ctx.operation is None or ctx.operation.path != EXPORT_PATH:
        return query
    days = [query.get(name) for name in ("from", "to")]
    if not all(isinstance(day, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", day) for day in days):
        return query
    try:
        first, last = sorted(dt.date.fromisoformat(day) for day in days)
    except ValueError:
        return query
    last = first + dt.timedelta(days=(last - first).days % 366)
    return {**query, "from": first.isoformat(), "to": last.isoformat()}
