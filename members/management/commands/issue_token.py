"""Issue a personal API token for an account and print it once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from members.models import User
from members.services import MFARequiredError, api_token_issue


class Command(BaseCommand):
    help = "Issue a personal API token for the account with this e-mail; prints it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--name", default="Issued from the command line")

    def handle(self, *args: Any, email: str, name: str, **options: Any) -> None:
        user = User.objects.filter(email__iexact=email.strip()).first()
        if user is None:
            raise CommandError(f"No account has the e-mail address {email}.")
        if not user.is_active:
            raise CommandError(f"The account {user.email} is deactivated.")
        try:
            _, raw = api_token_issue(user=user, name=name)
        except (ValueError, MFARequiredError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(raw)
        self.stderr.write(
            f"Token for {user.email}. It is shown only now; send it as "
            "'Authorization: Bearer <token>'."
        )
