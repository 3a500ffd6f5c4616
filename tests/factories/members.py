import time

import factory
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from factory.django import DjangoModelFactory

from members.enums import STAFF_ROLES, Role
from members.models import Clinic, ClinicRole, Member, User

TEST_PASSWORD = "correct-horse-battery-staple"
# The one-time-code secret of every test account enrolled in MFA (base32).
TEST_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def current_totp_code(secret: str = TEST_TOTP_SECRET) -> str:
    """The code an authenticator app holding ``secret`` shows now."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def mfa_enrol(user: User) -> None:
    """Give ``user`` a one-time-code app, as staff must have before anything else opens."""
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, TEST_TOTP_SECRET)


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    # Fixed-width sequences, not random names: a random name could contain a name that a
    # leak check looks for ("Alex" in "Alexander"), and no name is a prefix of another.
    full_name = factory.Sequence(lambda n: f"Staff {n:05d}")
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def _save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save(update_fields=["password"])


class ClinicFactory(DjangoModelFactory):
    class Meta:
        model = Clinic

    name = factory.Sequence(lambda n: f"Clinic {n}")
    slug = factory.Sequence(lambda n: f"clinic-{n}")
    timezone = "Europe/London"


class ClinicRoleFactory(DjangoModelFactory):
    class Meta:
        model = ClinicRole
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    clinic = factory.SubFactory(ClinicFactory)
    role = Role.FACILITATOR

    @factory.post_generation
    def _mfa(obj, create, extracted, **kwargs):
        # Staff cannot use GroupCare before enrolling in MFA; test staff arrive enrolled.
        # ``ClinicRoleFactory(..., _mfa=False)`` makes one who has not enrolled yet.
        if create and extracted is not False and obj.role in STAFF_ROLES:
            mfa_enrol(obj.user)


class MemberFactory(DjangoModelFactory):
    class Meta:
        model = Member

    clinic = factory.SubFactory(ClinicFactory)
    preferred_name = factory.Sequence(lambda n: f"Mem{n:05d}")
    legal_name = factory.Sequence(lambda n: f"Mem{n:05d} Legalname")
    email = factory.Sequence(lambda n: f"member{n}@example.org")
