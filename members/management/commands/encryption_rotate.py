"""Re-encrypt everything encrypted at rest under the newest key of
GROUPCARE_FIELD_ENCRYPTION_KEYS, or (``--check``) count what is not under it yet."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction

from groupcare import crypto
from groupcare.fields import EncryptedTextField, store_values, stored_page

# The keys of allauth's Authenticator.data that hold encrypted text (members.adapters).
MFA_SECRET_KEYS = ("secret", "seed")
MFA_SECRET_LIST_KEYS = ("migrated_codes",)


@dataclass
class Tally:
    label: str
    current: int = 0
    renewed: int = 0
    failed: list[str] = field(default_factory=list)


def encrypted_fields() -> Iterator[tuple[type[models.Model], EncryptedTextField]]:
    """Every EncryptedTextField of every installed model, found by scanning the models."""
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for model_field in model._meta.local_concrete_fields:
            if isinstance(model_field, EncryptedTextField):
                yield model, model_field


def renew(value: str, *, clear_allowed: bool = False) -> str | None:
    """``value`` under the newest key, or None when it is under it already.

    With ``clear_allowed`` a value not shaped like a token is clear text from before it was
    encrypted (an MFA secret), and is encrypted. Raises MissingEncryptionKeyError.
    """
    if clear_allowed and not crypto.looks_encrypted(value):
        return crypto.encrypt(value)
    if crypto.is_current(value):
        return None
    return crypto.rotate(value)


class Command(BaseCommand):
    help = (
        "Re-encrypt every value encrypted at rest (clinical notes, MFA secrets) with the first "
        "key of GROUPCARE_FIELD_ENCRYPTION_KEYS, so the older keys can then be dropped. "
        "Idempotent. With --check, change nothing: count the values not yet under the first "
        "key and exit with status 1 if there are any."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Only count the values not under the newest key; exit 1 if there are any.",
        )
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, check: bool, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        try:
            crypto.check_keys()
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from None
        tallies = [
            self._rotate_field(model, model_field, check=check, batch_size=batch_size)
            for model, model_field in encrypted_fields()
        ]
        if apps.is_installed("allauth.mfa"):
            tallies.append(self._rotate_mfa(check=check, batch_size=batch_size))

        for tally in tallies:
            if check:
                total = tally.current + tally.renewed + len(tally.failed)
                line = f"{tally.label}: {total - tally.current} of {total} not under the newest key"
            else:
                line = f"{tally.label}: {tally.renewed} re-encrypted, {tally.current} current"
            if tally.failed:
                line += f", {len(tally.failed)} cannot be decrypted"
            self.stdout.write(line)

        failed = [what for tally in tallies for what in tally.failed]
        if failed:
            shown = ", ".join(failed[:10]) + (" …" if len(failed) > 10 else "")
            raise CommandError(
                f"{len(failed)} value(s) cannot be decrypted with any key in "
                f"{crypto.SETTING} ({shown}). Put back the key they were written with, after "
                "the newest one, and run this again."
            )
        pending = sum(tally.renewed for tally in tallies)
        if check and pending:
            raise CommandError(
                f"{pending} value(s) are not under the newest key yet: run "
                "`manage.py encryption_rotate` before dropping an older key."
            )

    def _rotate_field(
        self,
        model: type[models.Model],
        model_field: EncryptedTextField,
        *,
        check: bool,
        batch_size: int,
    ) -> Tally:
        label = f"{model._meta.label}.{model_field.name}"
        tally = Tally(label)
        after = None
        while True:
            # One transaction and row lock per page: a note edited meanwhile is not
            # overwritten with its older text, and a stopped run keeps what it did.
            with transaction.atomic():
                queryset = model._default_manager.all()
                if not check:
                    queryset = queryset.select_for_update()
                page = stored_page(
                    queryset, model_field.attname, after=after, batch_size=batch_size
                )
                changed = self._renew_all(
                    page, tally, what=lambda pk: f"{label} #{pk}", clear_allowed=False
                )
                if changed and not check:
                    store_values(model, model_field.attname, changed, batch_size=batch_size)
            if not page:
                return tally
            after = page[-1][0]

    def _rotate_mfa(self, *, check: bool, batch_size: int) -> Tally:
        from allauth.mfa.models import Authenticator

        label = "mfa.Authenticator.data"
        tally = Tally(label)
        after = None
        while True:
            with transaction.atomic():
                queryset = Authenticator.objects.order_by("pk").only("pk", "data")
                if not check:
                    queryset = queryset.select_for_update()
                if after is not None:
                    queryset = queryset.filter(pk__gt=after)
                page = list(queryset[:batch_size])
                changed = []
                for authenticator in page:
                    if self._renew_mfa(authenticator, tally):
                        changed.append(authenticator)
                if changed and not check:
                    Authenticator.objects.bulk_update(changed, ["data"], batch_size=batch_size)
            if not page:
                return tally
            after = page[-1].pk

    def _renew_mfa(self, authenticator: Any, tally: Tally) -> bool:
        data = authenticator.data
        what = f"mfa.Authenticator #{authenticator.pk} ({authenticator.type})"
        changed = False
        for key in MFA_SECRET_KEYS:
            if isinstance(data.get(key), str) and data[key]:
                new = self._renew_one(data[key], tally, what=what, clear_allowed=True)
                if new is not None:
                    data[key] = new
                    changed = True
        for key in MFA_SECRET_LIST_KEYS:
            values = data.get(key)
            if isinstance(values, list):
                for index, value in enumerate(values):
                    if isinstance(value, str) and value:
                        new = self._renew_one(value, tally, what=what, clear_allowed=True)
                        if new is not None:
                            values[index] = new
                            changed = True
        return changed

    def _renew_all(
        self,
        page: list[tuple[Any, str]],
        tally: Tally,
        *,
        what: Callable[[Any], str],
        clear_allowed: bool,
    ) -> dict[Any, str]:
        changed = {}
        for pk, stored in page:
            new = self._renew_one(stored, tally, what=what(pk), clear_allowed=clear_allowed)
            if new is not None:
                changed[pk] = new
        return changed

    def _renew_one(self, value: str, tally: Tally, *, what: str, clear_allowed: bool) -> str | None:
        try:
            new = renew(value, clear_allowed=clear_allowed)
        except crypto.MissingEncryptionKeyError:
            tally.failed.append(what)
            return None
        if new is None:
            tally.current += 1
        else:
            tally.renewed += 1
        return new
