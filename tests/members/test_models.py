import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from members.enums import Role
from members.models import User
from members.validators import validate_reminder_offsets
from tests.factories.members import ClinicFactory, ClinicRoleFactory, MemberFactory

pytestmark = pytest.mark.django_db


def test_email_is_the_login_and_is_stored_lower_case():
    user = User.objects.create_user(email="  Sam.Rivera@Example.ORG ", password="x" * 12)

    assert user.email == "sam.rivera@example.org"
    assert User.USERNAME_FIELD == "email"


def test_two_accounts_cannot_differ_only_by_case():
    User.objects.create_user(email="sam@example.org")

    with pytest.raises(IntegrityError):
        User.objects.create(email="SAM@example.org")


def test_create_superuser_opens_the_admin_site():
    user = User.objects.create_superuser(email="root@example.org", password="x" * 12)

    assert (user.is_staff, user.is_superuser) == (True, True)


def test_clinic_rejects_an_unknown_time_zone():
    clinic = ClinicFactory.build(timezone="Mars/Olympus_Mons")

    with pytest.raises(ValidationError) as excinfo:
        clinic.full_clean()

    assert excinfo.value.message_dict == {
        "timezone": [
            "Mars/Olympus_Mons is not a known time zone; use an IANA name such as Europe/London."
        ]
    }


def test_a_person_holds_each_role_once_per_clinic_but_may_hold_several():
    clinic = ClinicFactory()
    role = ClinicRoleFactory(clinic=clinic, role=Role.ADMIN)
    ClinicRoleFactory(user=role.user, clinic=clinic, role=Role.FACILITATOR)
    ClinicRoleFactory(user=role.user, role=Role.MEMBER)  # another clinic

    with pytest.raises(IntegrityError):
        ClinicRoleFactory(user=role.user, clinic=clinic, role=Role.ADMIN)


def test_member_defaults_to_reminders_a_day_and_two_hours_before():
    member = MemberFactory()

    assert (member.reminders_enabled, member.reminder_offsets) == (True, [1440, 120])
    assert member.effective_timezone == member.clinic.timezone


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("24h", "Reminder offsets must be a list of whole minutes."),
        ([60, 60], "Reminder offsets must not repeat."),
        ([1], "Each reminder offset must be between 5 minutes and 7 days."),
        ([True], "Reminder offsets must be a list of whole minutes."),
    ],
)
def test_reminder_offsets_are_validated(value, message):
    with pytest.raises(ValidationError) as excinfo:
        validate_reminder_offsets(value)

    assert excinfo.value.messages == [message]
