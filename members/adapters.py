from __future__ import annotations

from typing import Any

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from allauth.mfa.adapter import DefaultMFAAdapter
from django.http import HttpRequest

from groupcare import crypto
from members.session_timeouts import SIGNED_IN_KEY, now_seconds


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Accounts are created by the clinic (staff accounts, member invitations); a
        # stranger signing up would otherwise be one step from a clinical system.
        return False

    def is_reauthentication_required(self, *, app: str, **kwargs: Any) -> bool:
        """allauth asks for the password again before a sensitive change (adding or removing
        a second factor, changing the e-mail address) unless the person confirmed it in the
        last ``ACCOUNT_REAUTHENTICATION_TIMEOUT`` seconds. Signing in counts as confirming
        it: staff, who are sent to set up a second factor as soon as they sign in, are not
        asked for the password they have just typed."""
        request = self.request or context.request
        session = getattr(request, "session", None)
        signed_in_at = session.get(SIGNED_IN_KEY) if session is not None else None
        if (
            isinstance(signed_in_at, int)
            and now_seconds() - signed_in_at < account_settings.REAUTHENTICATION_TIMEOUT
        ):
            return False
        return super().is_reauthentication_required(app=app, **kwargs)


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
