import datetime as dt

import factory
from factory.django import DjangoModelFactory

from members.enums import Role
from sessions.enums import EnrolmentStatus, SessionStatus, Stage
from sessions.models import (
    Enrolment,
    Group,
    GroupSession,
    Modality,
    Room,
    SessionFacilitator,
)
from tests.factories.members import ClinicFactory, ClinicRoleFactory, MemberFactory, UserFactory


class RoomFactory(DjangoModelFactory):
    class Meta:
        model = Room

    clinic = factory.SubFactory(ClinicFactory)
    name = factory.Sequence(lambda n: f"Room {n}")
    capacity = 12


class ModalityFactory(DjangoModelFactory):
    class Meta:
        model = Modality

    clinic = None
    slug = factory.Sequence(lambda n: f"modality-{n}")
    name = factory.Sequence(lambda n: f"Modality {n}")


def _facilitator(group_stub) -> object:
    user = UserFactory()
    ClinicRoleFactory(user=user, clinic=group_stub.clinic, role=Role.FACILITATOR)
    return user


class GroupFactory(DjangoModelFactory):
    """A forming, closed group of 4-8 in its own room, led by a facilitator of its clinic."""

    class Meta:
        model = Group
        skip_postgeneration_save = True

    clinic = factory.SubFactory(ClinicFactory)
    name = factory.Sequence(lambda n: f"Group {n}")
    modality = factory.SubFactory(ModalityFactory)
    lead_facilitator = factory.LazyAttribute(_facilitator)
    min_size = 4
    max_size = 8
    room = factory.SubFactory(RoomFactory, clinic=factory.SelfAttribute("..clinic"))
    planned_start = dt.date(2026, 1, 6)
    stage = Stage.FORMING


class GroupSessionFactory(DjangoModelFactory):
    """A scheduled 90-minute session with the group's lead as its facilitator."""

    class Meta:
        model = GroupSession
        skip_postgeneration_save = True

    group = factory.SubFactory(GroupFactory)
    start = dt.datetime(2026, 6, 2, 17, 0, tzinfo=dt.UTC)
    end = factory.LazyAttribute(lambda o: o.start + dt.timedelta(minutes=90))
    room = factory.SelfAttribute("group.room")
    status = SessionStatus.SCHEDULED
    stage = factory.SelfAttribute("group.stage")

    @factory.post_generation
    def facilitators(obj, create, extracted, **kwargs):
        if not create:
            return
        for user in extracted if extracted is not None else [obj.group.lead_facilitator]:
            SessionFacilitator.objects.create(
                session=obj,
                facilitator=user,
                start=obj.start,
                end=obj.end,
                is_cancelled=obj.status == SessionStatus.CANCELLED,
            )


class EnrolmentFactory(DjangoModelFactory):
    class Meta:
        model = Enrolment

    group = factory.SubFactory(GroupFactory)
    member = factory.SubFactory(MemberFactory, clinic=factory.SelfAttribute("..group.clinic"))
    status = EnrolmentStatus.REFERRED
