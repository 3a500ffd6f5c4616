"""Every API route, method and persona answers the status of the permission matrix, and a
refusal carries nothing of the object refused.

The cases live in ``tests/api/matrix/<area>.py``. The list of routes comes from the URL conf:
a route under /api/v1/ without a case for each of its methods fails
``test_every_api_route_has_a_case``.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from tests.api import matrix
from tests.api.matrix import Case
from tests.api.world import PERSONAS, World, build_world

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def _all_cases() -> list[Case]:
    cases: list[Case] = []
    for module_info in pkgutil.iter_modules(matrix.__path__):
        module = importlib.import_module(f"{matrix.__name__}.{module_info.name}")
        cases.extend(module.CASES)
    return cases


CASES = _all_cases()


def _methods(pattern: URLPattern) -> set[str]:
    callback = pattern.callback
    actions = getattr(callback, "actions", None)
    if actions is not None:  # a viewset route
        return {method for method in actions if method in HTTP_METHODS}
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    return {method for method in HTTP_METHODS if hasattr(view_class, method)}


def _api_routes(patterns=None, prefix: str = "") -> set[tuple[str, str]]:
    routes: set[tuple[str, str]] = set()
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes |= _api_routes(pattern.url_patterns, route)
        elif route.startswith("api/v1/"):
            assert pattern.name, f"the API route {route} has no name"
            routes |= {(pattern.name, method) for method in _methods(pattern)}
    return routes


def test_every_api_route_has_a_case():
    covered = {(case.route, case.method) for case in CASES}

    assert sorted(_api_routes() - covered) == []
    assert sorted(covered - _api_routes()) == []


def _leak_markers(world: World) -> list[str]:
    """Words an error body must never carry: names and contact details of the world."""
    markers = [world.group.name, world.other_group.name]
    for record in (world.member_record, world.other_member_record):
        markers += [record.preferred_name, record.legal_name, record.email]
    return markers


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_persona_matrix(case: Case, persona: str):
    world = build_world()
    client = APIClient()
    user = world.users[persona]
    if user is not None:
        client.force_login(user)
    body = case.body(world) if case.body is not None else None

    response = getattr(client, case.method)(
        case.url(world),
        data=body,
        format="json",
        QUERY_STRING="&".join(f"{key}={value}" for key, value in case.query.items()),
    )

    assert response.status_code == case.expect[persona], response.content[:500]
    if response.status_code in (401, 403, 404):
        payload = response.json()
        if payload.get("code") == "mfa_required":
            # A clinic rule's refusal names itself: set up MFA first.
            assert list(payload) == ["detail", "code", "conflict_id"]
        else:
            assert list(payload) == ["detail"]
        assert not [marker for marker in _leak_markers(world) if marker in payload["detail"]]
