from tests.api.matrix import (
    CREATED,
    FORBIDDEN,
    NO_CONTENT,
    NOT_FOUND,
    OK,
    Case,
    everyone,
    expect,
)


def _own_token_url(world):
    from members.services import api_token_issue
    from tests.factories.members import mfa_enrol

    mfa_enrol(world.users["member"])
    token, _ = api_token_issue(user=world.users["member"], name="phone")
    return f"/api/v1/me/tokens/{token.pk}/"


CASES = [
    Case("api-me", "get", lambda w: "/api/v1/me/", everyone()),
    Case("api-me-tokens", "get", lambda w: "/api/v1/me/tokens/", everyone()),
    Case(
        "api-me-tokens",
        "post",
        lambda w: "/api/v1/me/tokens/",
        expect(
            admin=CREATED,
            facilitator=CREATED,
            other_facilitator=CREATED,
            # Members have not opted in to MFA here, and a token needs a second factor.
            member=FORBIDDEN,
            other_member=FORBIDDEN,
            other_clinic_admin=CREATED,
        ),
        body=lambda w: {"name": "laptop"},
    ),
    # The token belongs to ``member``: nobody else may know it exists.
    Case(
        "api-me-token",
        "get",
        _own_token_url,
        expect(
            admin=NOT_FOUND,
            facilitator=NOT_FOUND,
            other_facilitator=NOT_FOUND,
            member=OK,
            other_member=NOT_FOUND,
            other_clinic_admin=NOT_FOUND,
        ),
    ),
    Case(
        "api-me-token",
        "delete",
        _own_token_url,
        expect(
            admin=NOT_FOUND,
            facilitator=NOT_FOUND,
            other_facilitator=NOT_FOUND,
            member=NO_CONTENT,
            other_member=NOT_FOUND,
            other_clinic_admin=NOT_FOUND,
        ),
    ),
]
