from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from django.http import HttpRequest

from groupcare import crypto


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Accounts are created by the clinic (staff accounts, member invitations); a
        # stranger signing up would otherwise be one step from a clinical system.
        return False


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
