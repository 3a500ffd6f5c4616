"""Encryption at rest with the keys in ``GROUPCARE_FIELD_ENCRYPTION_KEYS``.

The list is newest first: the first key encrypts, every key decrypts, so a key is rotated by
putting a new one in front, running ``manage.py encryption_rotate`` (which rewrites every
value under the new key) and only then dropping the old one. Values are Fernet tokens
(AES-128-CBC with an HMAC-SHA256, a fresh IV each time), so equal texts encrypt differently
and encrypted text cannot be searched.
"""

from __future__ import annotations

import functools
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

SETTING = "GROUPCARE_FIELD_ENCRYPTION_KEYS"

# Every Fernet token starts with the version byte 0x80 and a 64-bit timestamp whose top bytes
# are zero for millennia, which is "gAAAAA" in URL-safe base64.
FERNET_PREFIX = "gAAAAA"


class MissingEncryptionKeyError(Exception):
    """No key in ``GROUPCARE_FIELD_ENCRYPTION_KEYS`` decrypts a value."""

    def __init__(self, what: str = "A value") -> None:
        super().__init__(
            f"{what} cannot be decrypted: the key it was encrypted with is missing from "
            f"{SETTING} (or the stored value is not an encrypted value, or was altered). "
            "Put the old key back in the list, after the current one, and run "
            "`manage.py encryption_rotate` before dropping it."
        )


@functools.cache
def _fernets() -> tuple[Fernet, MultiFernet]:
    keys = getattr(settings, SETTING, None)
    if isinstance(keys, str):
        keys = [keys]
    if not keys:
        raise ImproperlyConfigured(f"{SETTING} is empty: GroupCare needs at least one key.")
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError):
            # The key itself stays out of the message (and out of the logs).
            raise ImproperlyConfigured(
                f"Key {position} of {SETTING} is not a Fernet key (32 URL-safe base64-encoded "
                "bytes); make one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`."
            ) from None
    return fernets[0], MultiFernet(fernets)


@receiver(setting_changed)
def _keys_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING:
        _fernets.cache_clear()


def check_keys() -> None:
    """Raise ImproperlyConfigured unless every configured key is a usable Fernet key."""
    _fernets()


def encrypt(text: str) -> str:
    """Encrypt ``text`` with the newest key; the token is ASCII."""
    return _fernets()[1].encrypt(text.encode()).decode("ascii")


def decrypt(token: str, *, what: str = "A value") -> str:
    """Decrypt a token made with any configured key.

    Raises MissingEncryptionKeyError (naming ``what``) when no configured key decrypts it.
    """
    try:
        return _fernets()[1].decrypt(token.encode()).decode()
    except InvalidToken:
        raise MissingEncryptionKeyError(what) from None


def rotate(token: str, *, what: str = "A value") -> str:
    """Re-encrypt a token under the newest key, keeping its original timestamp."""
    try:
        return _fernets()[1].rotate(token.encode()).decode("ascii")
    except InvalidToken:
        raise MissingEncryptionKeyError(what) from None


def is_current(token: str) -> bool:
    """Whether ``token`` is already encrypted with the newest key."""
    try:
        _fernets()[0].decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def is_encrypted(value: str) -> bool:
    """Whether ``value`` is a token that a configured key decrypts."""
    if not looks_encrypted(value):
        return False
    try:
        _fernets()[1].decrypt(value.encode())
    except InvalidToken:
        return False
    return True


def looks_encrypted(value: str) -> bool:
    """Whether ``value`` has the shape of a Fernet token (says nothing of its key)."""
    return value.startswith(FERNET_PREFIX)
