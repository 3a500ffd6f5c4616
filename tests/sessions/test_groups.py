import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from members.enums import Role
from members.models import AuditEntry
from sessions.enums import EnrolmentPolicy, Stage
from sessions.errors import GroupError, NameInUseError
from sessions.models import Modality, StageTransition
from sessions.services.groups import group_create, modality_create, room_create
from tests.factories.members import ClinicFactory, ClinicRoleFactory, UserFactory
from tests.factories.sessions import RoomFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def facilitator(clinic):
    return ClinicRoleFactory(clinic=clinic, role=Role.FACILITATOR).user


def _create(clinic, facilitator, **overrides):
    fields = {
        "clinic": clinic,
        "by": facilitator,
        "name": "Tuesday evening group",
        "modality": Modality.objects.get(slug="cbt"),
        "lead_facilitator": facilitator,
        "planned_start": dt.date(2026, 9, 1),
    }
    fields.update(overrides)
    return group_create(**fields)


def test_the_six_modalities_are_built_in():
    assert sorted(Modality.objects.filter(clinic=None).values_list("slug", flat=True)) == [
        "cbt",
        "dbt-skills",
        "process-oriented",
        "psychoeducational",
        "support",
        "trauma-focused",
    ]


def test_a_clinic_may_add_its_own_modality(clinic, facilitator):
    modality = modality_create(clinic=clinic, name="Compassion-focused", by=facilitator)

    assert (modality.clinic, modality.slug) == (clinic, "compassion-focused")


def test_a_clinic_cannot_add_the_same_modality_twice(clinic, facilitator):
    modality_create(clinic=clinic, name="Compassion-focused", by=facilitator)

    with pytest.raises(NameInUseError) as excinfo:
        modality_create(clinic=clinic, name="compassion-FOCUSED", by=facilitator)

    assert excinfo.value.conflict_id == Modality.objects.get(name="Compassion-focused").pk


def test_room_capacity_must_be_at_least_one(clinic, facilitator):
    with pytest.raises(ValidationError) as excinfo:
        room_create(clinic=clinic, name="Room 2", capacity=0, by=facilitator)

    assert list(excinfo.value.message_dict) == ["capacity"]


def test_group_create_starts_forming_with_defaults_and_a_first_transition(clinic, facilitator):
    group = _create(clinic, facilitator)

    assert (group.stage, group.billing_code, group.enrolment_policy) == (
        Stage.FORMING,
        "90853",
        EnrolmentPolicy.CLOSED,
    )
    assert list(StageTransition.objects.values_list("from_stage", "to_stage")) == [
        ("", Stage.FORMING)
    ]
    assert AuditEntry.objects.filter(
        action="sessions.group.created", object_id=str(group.pk)
    ).exists()


def test_group_create_takes_co_facilitators(clinic, facilitator):
    colleague = ClinicRoleFactory(clinic=clinic, role=Role.FACILITATOR).user

    group = _create(clinic, facilitator, co_facilitators=[colleague, facilitator])

    assert list(group.co_facilitators.all()) == [colleague]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"min_size": 6, "max_size": 4}, "max_size", "cannot be below the minimum"),
        ({"planned_end": dt.date(2026, 8, 1)}, "planned_end", "cannot be before the planned"),
        ({"max_size": 0}, "max_size", "greater than or equal to 1"),
        ({"billing_code": "9085"}, "billing_code", "five digits or letters"),
    ],
)
def test_group_create_rejects_invalid_fields(clinic, facilitator, overrides, field, message):
    with pytest.raises(ValidationError) as excinfo:
        _create(clinic, facilitator, **overrides)

    assert field in excinfo.value.message_dict
    assert message in " ".join(excinfo.value.message_dict[field])


def test_group_cannot_meet_in_a_room_and_by_video(clinic, facilitator):
    room = RoomFactory(clinic=clinic)

    with pytest.raises(ValidationError) as excinfo:
        _create(clinic, facilitator, room=room, video_link="https://video.example.org/g1")

    assert excinfo.value.message_dict == {
        "video_link": ["A group meets in a room or by video link, not both."]
    }


def test_group_video_link_must_be_https(clinic, facilitator):
    with pytest.raises(ValidationError) as excinfo:
        _create(clinic, facilitator, room=None, video_link="http://video.example.org/g1")

    assert excinfo.value.message_dict == {
        "video_link": ["Enter a video link that starts with https://."]
    }


def test_group_cannot_use_another_clinics_room(clinic, facilitator):
    with pytest.raises(ValidationError) as excinfo:
        _create(clinic, facilitator, room=RoomFactory(clinic=ClinicFactory()))

    assert excinfo.value.message_dict == {"room": ["This room belongs to another clinic."]}


def test_group_cannot_use_another_clinics_modality(clinic, facilitator):
    foreign = Modality.objects.create(clinic=ClinicFactory(), slug="x", name="X")

    with pytest.raises(ValidationError) as excinfo:
        _create(clinic, facilitator, modality=foreign)

    assert excinfo.value.message_dict == {"modality": ["This modality belongs to another clinic."]}


def test_group_lead_must_be_a_facilitator_of_the_clinic(clinic, facilitator):
    outsider = UserFactory()

    with pytest.raises(GroupError, match=f"user ids without that role: {outsider.pk}"):
        _create(clinic, facilitator, lead_facilitator=outsider)
