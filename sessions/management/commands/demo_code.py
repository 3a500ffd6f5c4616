"""Print the demo staff's current one-time code (they must use MFA, like all staff)."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sessions.demo import DEMO_TOTP_SECRET, demo_totp_code


class Command(BaseCommand):
    help = "Print the current one-time code of the demo staff accounts (admin@, facilitator@)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force", action="store_true", help="Print it even with DJANGO_DEBUG off."
        )

    def handle(self, *args: Any, force: bool, **options: Any) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "demo_code is for the demo accounts of a development server; it refuses to "
                "run with DJANGO_DEBUG off. Pass --force if this really is a demo server."
            )
        code, seconds_left = demo_totp_code(at=time.time())
        self.stdout.write(code)
        self.stderr.write(
            f"The demo staff's one-time code, valid for {seconds_left} more seconds (each code "
            f"works once). An authenticator app can hold the secret instead: {DEMO_TOTP_SECRET}"
        )
