"""Every read of the API, as its callers make it (a Bearer token, so authentication counts
too), runs at most ten queries. Lists are also checked at two page sizes in their area's
tests; this one keeps any new read within the budget."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from members.services import api_token_issue
from tests.api.matrix import Case
from tests.api.test_persona_matrix import CASES
from tests.api.world import build_world
from tests.factories.members import mfa_enrol

pytestmark = pytest.mark.django_db

# The token (2), the read, and for a read of member data its audit entry (savepoint, chain
# head lock, insert, head update, release).
QUERY_BUDGET = 10

READS = [
    pytest.param(case, persona, id=f"{case.route}-{persona}")
    for case in CASES
    for persona in ("admin", "facilitator", "member")
    if case.method == "get" and case.expect[persona] == 200
]


def test_reads_are_covered():
    assert len(READS) > 20


@pytest.mark.parametrize(("case", "persona"), READS)
def test_a_read_stays_within_the_query_budget(case: Case, persona: str):
    world = build_world()
    mfa_enrol(world.users[persona])  # a token needs a second factor behind it
    _, raw = api_token_issue(user=world.users[persona], name="budget")
    api = APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}")
    url = case.url(world)

    with CaptureQueriesContext(connection) as queries:
        response = api.get(url, case.query)
        if response.streaming:
            b"".join(response.streaming_content)

    assert response.status_code == 200
    assert len(queries) <= QUERY_BUDGET, "\n".join(q["sql"][:200] for q in queries)
