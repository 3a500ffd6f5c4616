import pytest
from django.core.exceptions import ValidationError

from members.enums import Role
from members.models import AuditEntry, Member
from members.services import member_create, member_update
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(clinic, make_user):
    return make_user(clinic=clinic, role=Role.ADMIN)


def test_member_create_records_the_author_and_the_clinic(clinic, admin):
    member = member_create(
        clinic=clinic, by=admin, preferred_name="Ana", legal_name="Ana Lind", timezone=""
    )

    member.refresh_from_db()
    assert (member.clinic, member.created_by, member.preferred_name, member.legal_name) == (
        clinic,
        admin,
        "Ana",
        "Ana Lind",
    )


def test_member_create_writes_an_audit_entry_with_ids_only(clinic, admin):
    member = member_create(
        clinic=clinic, by=admin, preferred_name="Ana", legal_name="Ana Lind", email="a@x.org"
    )

    entry = AuditEntry.objects.get(action="members.member.created")
    assert (entry.actor, entry.clinic, entry.object_id, entry.data) == (
        admin,
        clinic,
        str(member.pk),
        {"member_id": member.pk},
    )


def test_member_create_refuses_an_unknown_time_zone(clinic, admin):
    with pytest.raises(ValidationError) as excinfo:
        member_create(
            clinic=clinic, by=admin, preferred_name="Ana", legal_name="Ana", timezone="Mars/Base"
        )

    assert excinfo.value.message_dict == {
        "timezone": ["Mars/Base is not a known time zone; use an IANA name such as Europe/London."]
    }
    assert not Member.objects.exists()


def test_member_create_refuses_privileged_fields(clinic, admin):
    with pytest.raises(TypeError):
        member_create(clinic=clinic, by=admin, preferred_name="Ana", legal_name="Ana", clinic_id=1)


def test_member_update_changes_the_fields_and_audits_their_names_only(clinic, admin):
    member = MemberFactory(clinic=clinic, phone="1")

    member_update(member=member, by=admin, phone="+44 1234", preferred_name=member.preferred_name)

    member.refresh_from_db()
    entry = AuditEntry.objects.get(action="members.member.updated")
    assert (member.phone, entry.actor, entry.data) == (
        "+44 1234",
        admin,
        {"member_id": member.pk, "fields": ["phone"]},
    )


def test_member_update_without_a_change_writes_nothing(clinic, admin):
    member = MemberFactory(clinic=clinic)

    member_update(member=member, by=admin, preferred_name=member.preferred_name)

    assert not AuditEntry.objects.filter(action="members.member.updated").exists()


def test_member_update_refuses_invalid_reminder_offsets(clinic, admin):
    member = MemberFactory(clinic=clinic)

    with pytest.raises(ValidationError) as excinfo:
        member_update(member=member, by=admin, reminder_offsets=[1])

    assert excinfo.value.message_dict == {
        "reminder_offsets": ["Each reminder offset must be between 5 minutes and 7 days."]
    }
    member.refresh_from_db()
    assert member.reminder_offsets == [24 * 60, 2 * 60]


def test_member_update_refuses_the_clinic(clinic, admin, other_clinic):
    member = MemberFactory(clinic=clinic)

    with pytest.raises(TypeError):
        member_update(member=member, by=admin, clinic=other_clinic)
