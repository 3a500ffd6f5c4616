import factory
from factory.django import DjangoModelFactory

from members.enums import Role
from members.models import Clinic, ClinicRole, Member, User

TEST_PASSWORD = "correct-horse-battery-staple"


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

    user = factory.SubFactory(UserFactory)
    clinic = factory.SubFactory(ClinicFactory)
    role = Role.FACILITATOR


class MemberFactory(DjangoModelFactory):
    class Meta:
        model = Member

    clinic = factory.SubFactory(ClinicFactory)
    preferred_name = factory.Sequence(lambda n: f"Mem{n:05d}")
    legal_name = factory.Sequence(lambda n: f"Mem{n:05d} Legalname")
    email = factory.Sequence(lambda n: f"member{n}@example.org")
