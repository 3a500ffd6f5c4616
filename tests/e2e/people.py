"""The people, groups and seats the browser tests start from, made with the factories and
the services (never the demo seed)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from members.enums import Role
from members.models import Clinic, Member, User
from sessions.enums import AcceptanceMethod, EnrolmentStatus, Stage
from sessions.models import Group, Room
from sessions.services.agreements import agreement_accept, agreement_publish
from tests.factories.members import (
    TEST_PASSWORD,
    ClinicFactory,
    ClinicRoleFactory,
    MemberFactory,
    UserFactory,
)
from tests.factories.sessions import EnrolmentFactory, GroupFactory, ModalityFactory, RoomFactory


def person(clinic: Clinic, role: Role, email: str, full_name: str) -> User:
    """A user who signs in with ``TEST_PASSWORD`` and holds ``role`` in ``clinic``."""
    user = UserFactory(email=email, full_name=full_name)
    user.set_password(TEST_PASSWORD)
    user.save(update_fields=["password"])
    ClinicRoleFactory(user=user, clinic=clinic, role=role)
    return user


def member_with_login(clinic: Clinic, preferred: str, legal: str, email: str) -> Member:
    user = person(clinic, Role.MEMBER, email, legal)
    return MemberFactory(
        clinic=clinic, user=user, preferred_name=preferred, legal_name=legal, email=email
    )


@dataclass
class Site:
    clinic: Clinic
    room: Room
    admin: User
    facilitator: User


def riverside() -> Site:
    clinic = ClinicFactory(name="Riverside Clinic", timezone="Europe/London")
    return Site(
        clinic=clinic,
        room=RoomFactory(clinic=clinic, name="Garden Room", capacity=10),
        admin=person(clinic, Role.ADMIN, "ada@riverside.example", "Ada Admin"),
        facilitator=person(clinic, Role.FACILITATOR, "fay@riverside.example", "Fay Field"),
    )


def running_group(site: Site, name: str = "Tuesday Evening Group") -> Group:
    """A performing group in the Garden Room led by the clinic's facilitator, with a
    published agreement (members must accept it before they attend)."""
    group = GroupFactory(
        clinic=site.clinic,
        name=name,
        modality=ModalityFactory(clinic=site.clinic, name="Support"),
        lead_facilitator=site.facilitator,
        room=site.room,
        stage=Stage.PERFORMING,
        planned_start=timezone.localdate() - dt.timedelta(days=60),
    )
    agreement_publish(group=group, text="What is said here stays here.", by=site.facilitator)
    return group


def seat(group: Group, member: Member) -> None:
    """An active enrolment whose member accepted the group's agreement (online with their
    own login, else on paper entered by the facilitator)."""
    EnrolmentFactory(
        group=group,
        member=member,
        status=EnrolmentStatus.ACTIVE,
        joined_on=timezone.localdate() - dt.timedelta(days=30),
    )
    agreement = group.agreements.latest("version")
    if member.user is not None:
        agreement_accept(agreement=agreement, member=member, by=member.user)
    else:
        agreement_accept(
            agreement=agreement,
            member=member,
            by=group.lead_facilitator,
            method=AcceptanceMethod.PAPER,
        )


def hour_from_now(days: int) -> dt.datetime:
    return timezone.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=days)
