from __future__ import annotations

import time
from typing import Any

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.authentication import get_authentication_records
from allauth.core import context
from allauth.mfa.adapter import DefaultMFAAdapter
from django.http import HttpRequest

from groupcare import crypto
from members.mfa import user_has_mfa
from members.models import User


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Accounts are created by the clinic (staff accounts, member invitations); a
        # stranger signing up would otherwise be one step from a clinical system.
        return False

    def is_reauthentication_required(self, *, app: str, **kwargs: Any) -> bool:
        """allauth asks for the password again before a sensitive change (a second factor
        added or removed, recovery codes, the e-mail address) unless the person confirmed
        it in the last ``ACCOUNT_REAUTHENTICATION_TIMEOUT`` seconds.

        One exception: the first second factor of someone who typed their password to sign
        in within that time (allauth's own record of this session's sign-in). Staff are
        sent to set up a factor as soon as they sign in, and are not asked again for the
        password they have just typed. Everything else still asks."""
        request = self.request or context.request
        user = getattr(request, "user", None)
        if (
            app == "allauth.mfa"
            and user is not None
            and user.is_authenticated
            and not user_has_mfa(user)
            and _password_typed_within(request, user, account_settings.REAUTHENTICATION_TIMEOUT)
        ):
            return False
        return super().is_reauthentication_required(app=app, **kwargs)


def _password_typed_within(request: HttpRequest, user: User, seconds: int) -> bool:
    """Whether this session's sign-in, with ``user``'s password, was less than ``seconds``
    ago (allauth records each sign-in step in the session)."""
    now = time.time()
    return any(
        record.get("method") == "password" and now - record.get("at", 0) < seconds
        for record in get_authentication_records(request, user)
    )


class MFAAdapter(DefaultMFAAdapter):
    """Keeps MFA secrets (the TOTP key, the recovery-code seed) encrypted at rest, with the
    keys of ``GROUPCARE_FIELD_ENCRYPTION_KEYS``; ``manage.py encryption_rotate`` rotates them
    with the clinical notes. allauth's default stores them in the clear."""

    def encrypt(self, text: str) -> str:
        return crypto.encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        # A secret stored before this adapter is in the clear (base32 or hex, never shaped
        # like a token): it still works until encryption_rotate encrypts it.
        if not crypto.looks_encrypted(encrypted_text):
            return encrypted_text
        return crypto.decrypt(encrypted_text, what="An MFA secret")
