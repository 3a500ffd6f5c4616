"""The demo clinic that `make run` loads: enough people and groups to look like a real clinic.

Everything is looked up by a natural key before it is created, so seeding twice changes
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from members.enums import Role
from members.models import Clinic, Member, User
from members.services import clinic_role_grant, user_get_or_create

DEMO_DOMAIN = "demo.groupcare.test"
DEMO_PASSWORD = "demo-password"  # noqa: S105 -- public on purpose; seed_demo refuses without DEBUG


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str


DEMO_LOGINS = (
    DemoLogin("Clinic admin", f"admin@{DEMO_DOMAIN}"),
    DemoLogin("Facilitator", f"facilitator@{DEMO_DOMAIN}"),
    DemoLogin("Member", f"member@{DEMO_DOMAIN}"),
)

_STAFF = (
    (f"admin@{DEMO_DOMAIN}", "Alex Morgan", Role.ADMIN),
    (f"facilitator@{DEMO_DOMAIN}", "Dr Sam Rivera", Role.FACILITATOR),
    (f"facilitator2@{DEMO_DOMAIN}", "Jordan Lee", Role.FACILITATOR),
)

# (preferred name, legal name, has a login)
_MEMBERS = (
    ("Casey", "Casey Thompson", True),
    ("Robin", "Robin Okafor", False),
    ("Jamie", "James Whitfield", False),
    ("Priya", "Priya Natarajan", False),
    ("Mo", "Mohammed Haddad", False),
    ("Lena", "Lena Fischer", False),
    ("Tom", "Thomas Brennan", False),
    ("Ana", "Ana Sousa", False),
    ("Kit", "Christopher Young", False),
    ("Noor", "Noor Rahman", False),
)


def _account(*, email: str, full_name: str, password: str) -> User:
    user, _ = user_get_or_create(email=email, full_name=full_name)
    # Only touch the row when something differs, so a second run writes nothing.
    if not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


def demo_seed(*, password: str = DEMO_PASSWORD) -> Clinic:
    """Create (or find) the demo clinic, its staff and its members. Idempotent."""
    with transaction.atomic():
        clinic, _ = Clinic.objects.get_or_create(
            slug="demo",
            defaults={"name": "Riverside Community Clinic", "timezone": "America/New_York"},
        )
        for email, full_name, role in _STAFF:
            user = _account(email=email, full_name=full_name, password=password)
            clinic_role_grant(user=user, clinic=clinic, role=role)

        for index, (preferred, legal, has_login) in enumerate(_MEMBERS):
            email = f"member@{DEMO_DOMAIN}" if index == 0 else f"member{index + 1}@{DEMO_DOMAIN}"
            user = None
            if has_login:
                user = _account(email=email, full_name=legal, password=password)
                clinic_role_grant(user=user, clinic=clinic, role=Role.MEMBER)
            Member.objects.get_or_create(
                clinic=clinic,
                legal_name=legal,
                defaults={
                    "preferred_name": preferred,
                    "email": email,
                    "phone": f"+1 555 010 {index:04d}",
                    "user": user,
                },
            )
    return clinic
