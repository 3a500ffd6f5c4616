"""``Authorization: Bearer <token>`` with a personal API token."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from members.mfa import mfa_enrolled_filter
from members.models import ApiToken, User
from members.services import api_token_digest

# Write last_used_at at most this often per token, not on every request.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """A request with a Bearer token is that token's user, or 401: an unknown, revoked or
    malformed token never falls back to anonymous."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the header as 'Authorization: Bearer <token>', with one token."
            )
        try:
            raw = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token is not valid.") from None
        token = (
            ApiToken.objects.select_related("user")
            .annotate(user_has_mfa=mfa_enrolled_filter("user"))
            .filter(digest=api_token_digest(raw), revoked_at__isnull=True)
            .first()
        )
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("The token is not valid, or it was revoked.")
        if not token.user_has_mfa:
            # Tokens are issued only to accounts with a second factor; without it they
            # would be a way around MFA.
            raise exceptions.AuthenticationFailed(
                "This token's account no longer has two-factor authentication; set it up "
                "again and create a new token."
            )
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "members.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token: `python manage.py issue_token EMAIL`, "
            "or POST /api/v1/me/tokens/.",
        }
