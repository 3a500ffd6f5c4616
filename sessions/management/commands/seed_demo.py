from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sessions.demo import (
    DEMO_LOGINS,
    DEMO_PASSWORD,
    DEMO_TOTP_SECRET,
    demo_calendar_feeds,
    demo_seed,
)


class Command(BaseCommand):
    help = "Load the demo clinic with an account for each role. Safe to run again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password",
            default=DEMO_PASSWORD,
            help=f"Password for every demo account (default: {DEMO_PASSWORD}).",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Seed even with DJANGO_DEBUG off (the demo password is public).",
        )

    def handle(self, *args: Any, password: str, force: bool, **options: Any) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates accounts whose password is published in the README, so it "
                "refuses to run with DJANGO_DEBUG off. Pass --force if this really is a demo "
                "server."
            )
        if not password:
            raise CommandError("--password must not be empty.")
        clinic = demo_seed(password=password)
        self.stdout.write(f"Demo clinic ready: {clinic.name}")
        self.stdout.write(f"Demo logins (password: {password}):")
        for login in DEMO_LOGINS:
            self.stdout.write(f"  {login.role:<13} {login.email}")
        self.stdout.write(
            "Staff sign in with a one-time code too: `python manage.py demo_code` prints it "
            f"(or add the secret {DEMO_TOTP_SECRET} to an authenticator app)."
        )
        feeds = demo_calendar_feeds()
        if feeds:
            self.stdout.write("Calendar feeds (subscribe in a calendar app):")
            for email, url in feeds:
                self.stdout.write(f"  {email:<31} {url}")
