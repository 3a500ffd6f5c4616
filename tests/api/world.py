"""One small clinic with every persona the permission matrix asks about.

- ``admin``: clinic admin of the clinic;
- ``facilitator``: leads ``group`` (the group the requests are about);
- ``other_facilitator``: leads ``other_group`` in the same clinic;
- ``member``: an active member of ``group`` (with a login, agreement accepted);
- ``other_member``: an active member of ``other_group``;
- ``other_clinic_admin``: clinic admin of another clinic;
- ``anonymous``: no credentials.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from rest_framework.test import APIClient

from members.enums import Role
from members.models import Clinic, Member, User
from sessions.enums import EnrolmentStatus, Stage
from sessions.models import Agreement, Enrolment, Group, GroupSession, Room
from sessions.services.agreements import agreement_accept, agreement_publish
from tests.factories.members import ClinicFactory, ClinicRoleFactory, MemberFactory, UserFactory
from tests.factories.sessions import (
    EnrolmentFactory,
    GroupFactory,
    GroupSessionFactory,
    RoomFactory,
)

PERSONAS = (
    "admin",
    "facilitator",
    "other_facilitator",
    "member",
    "other_member",
    "other_clinic_admin",
    "anonymous",
)


@dataclass
class World:
    clinic: Clinic
    other_clinic: Clinic
    users: dict[str, User | None]
    room: Room
    group: Group
    other_group: Group
    member_record: Member
    other_member_record: Member
    enrolment: Enrolment
    other_enrolment: Enrolment
    agreement: Agreement
    past_session: GroupSession
    future_session: GroupSession
    other_group_session: GroupSession


def _user(clinic: Clinic, role: Role, email: str, full_name: str) -> User:
    # Fixed names: a random one could contain a member's name that a page must not show.
    user = UserFactory(email=email, full_name=full_name)
    ClinicRoleFactory(user=user, clinic=clinic, role=role)
    return user


def build_world() -> World:
    now = timezone.now()
    clinic = ClinicFactory(name="Riverside", timezone="Europe/London")
    other_clinic = ClinicFactory(name="Hillside", timezone="America/New_York")
    users: dict[str, User | None] = {
        "admin": _user(clinic, Role.ADMIN, "admin@example.org", "Jordan Admin"),
        "facilitator": _user(clinic, Role.FACILITATOR, "facilitator@example.org", "Sam Lead"),
        "other_facilitator": _user(
            clinic, Role.FACILITATOR, "other-facilitator@example.org", "Kim Other"
        ),
        "member": _user(clinic, Role.MEMBER, "member@example.org", "Member Login One"),
        "other_member": _user(clinic, Role.MEMBER, "other-member@example.org", "Member Login Two"),
        "other_clinic_admin": _user(
            other_clinic, Role.ADMIN, "hillside-admin@example.org", "Pat Hillside"
        ),
        "anonymous": None,
    }
    room = RoomFactory(clinic=clinic, name="Room 1")
    group = GroupFactory(
        clinic=clinic,
        name="Tuesday Group",
        lead_facilitator=users["facilitator"],
        room=room,
        stage=Stage.FORMING,
        planned_start=(now - dt.timedelta(days=30)).date(),
    )
    other_group = GroupFactory(
        clinic=clinic,
        name="Thursday Group",
        lead_facilitator=users["other_facilitator"],
        room=RoomFactory(clinic=clinic, name="Room 2"),
        planned_start=(now - dt.timedelta(days=30)).date(),
    )
    joined = (now - dt.timedelta(days=20)).date()
    member_record = MemberFactory(
        clinic=clinic, user=users["member"], preferred_name="Alex", legal_name="Alexandra Stone"
    )
    other_member_record = MemberFactory(
        clinic=clinic, user=users["other_member"], preferred_name="Bo", legal_name="Bo Reyes"
    )
    enrolment = EnrolmentFactory(
        group=group, member=member_record, status=EnrolmentStatus.ACTIVE, joined_on=joined
    )
    other_enrolment = EnrolmentFactory(
        group=other_group,
        member=other_member_record,
        status=EnrolmentStatus.ACTIVE,
        joined_on=joined,
    )
    agreement = agreement_publish(
        group=group, text="We keep what is said here confidential.", by=users["facilitator"]
    )
    agreement_accept(agreement=agreement, member=member_record, by=users["member"])
    other_agreement = agreement_publish(
        group=other_group, text="We keep what is said here.", by=users["other_facilitator"]
    )
    agreement_accept(
        agreement=other_agreement, member=other_member_record, by=users["other_member"]
    )
    hour = now.replace(minute=0, second=0, microsecond=0)
    past_session = GroupSessionFactory(group=group, start=hour - dt.timedelta(days=2))
    future_session = GroupSessionFactory(group=group, start=hour + dt.timedelta(days=5))
    other_group_session = GroupSessionFactory(group=other_group, start=hour + dt.timedelta(days=6))
    return World(
        clinic=clinic,
        other_clinic=other_clinic,
        users=users,
        room=room,
        group=group,
        other_group=other_group,
        member_record=member_record,
        other_member_record=other_member_record,
        enrolment=enrolment,
        other_enrolment=other_enrolment,
        agreement=agreement,
        past_session=past_session,
        future_session=future_session,
        other_group_session=other_group_session,
    )


def signed_in(api: APIClient, user: User) -> APIClient:
    """``api`` (a DRF test client) signed in as ``user`` with a browser session."""
    api.force_login(user)
    return api
