"""Property-based tests of the whole API against its own OpenAPI document (Schemathesis).

Every operation drf-spectacular documents is called with generated requests, valid and
invalid, by a clinic admin and by a member (each with a Bearer token), against a small clinic
with real groups, sessions and an enrolment (tests/api/world.py). Every default check runs:
no 5xx; status code, content type, headers and body as documented; invalid input rejected;
valid input not refused (but see ``positive_data_accepted_unless_an_id_is_unknown``);
authentication enforced (each success is replayed without and with a wrong credential).

New endpoints are picked up on their own: the schema is built from the URL conf when pytest
collects this module. Runs on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, settings

from members.models import ApiToken
from members.services import api_token_issue
from tests.api.schemathesis_support import (
    ADDED_CHECKS,
    REPLACED_CHECKS,
    connection_kept_across_requests,
    export_range_within_limits,
    load_schema,
)
from tests.api.world import World, build_world
from tests.factories.members import mfa_enrol

schema = load_schema()

# Not transactional: requests run in this thread, on this connection, inside the test's
# transaction (see connection_kept_across_requests), and everything is rolled back after.
pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
def bearer_for(world: World) -> Callable[[str], dict[str, str]]:
    """The Authorization header of a persona. A generated DELETE /api/v1/me/tokens/{id}/ may
    revoke the very token in use; then the next example gets a fresh one."""
    issued: dict[str, tuple[ApiToken, str]] = {}

    def header(persona: str) -> dict[str, str]:
        token, raw = issued.get(persona, (None, ""))
        if token is None or not ApiToken.objects.filter(pk=token.pk, revoked_at=None).exists():
            mfa_enrol(world.users[persona])
            token, raw = api_token_issue(user=world.users[persona], name="schemathesis")
            issued[persona] = (token, raw)
        return {"Authorization": f"Bearer {raw}"}

    return header


@pytest.mark.parametrize("persona", ["admin", "member"])
@schema.hooks.apply(export_range_within_limits, name="map_query")
@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,  # derandomized runs need no example database; keep .hypothesis/ out
    # The world is built once per operation and persona, and every example of that
    # operation runs against it: that is intended, not a fixture-reset mistake.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_honours_its_schema(case, persona, bearer_for):
    with connection_kept_across_requests():
        case.call_and_validate(
            headers=bearer_for(persona),
            excluded_checks=REPLACED_CHECKS,
            additional_checks=ADDED_CHECKS,
        )
