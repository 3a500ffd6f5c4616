"""Who may see and run a group: every persona, both predicates."""

import pytest
from django.contrib.auth.models import AnonymousUser

from members.enums import Role
from sessions.enums import EnrolmentStatus
from sessions.permissions import (
    can_create_group,
    can_manage_group,
    can_view_group,
    group_queryset_for,
)
from tests.factories.members import ClinicFactory, ClinicRoleFactory, MemberFactory
from tests.factories.sessions import EnrolmentFactory, GroupFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    group = GroupFactory()
    clinic = group.clinic
    other_group = GroupFactory(clinic=clinic)
    co = ClinicRoleFactory(clinic=clinic, role=Role.FACILITATOR).user
    group.co_facilitators.add(co)

    def member_of(target, status=EnrolmentStatus.ACTIVE):
        role = ClinicRoleFactory(clinic=clinic, role=Role.MEMBER)
        member = MemberFactory(clinic=clinic, user=role.user)
        EnrolmentFactory(group=target, member=member, status=status)
        return role.user

    foreign_admin = ClinicRoleFactory(clinic=ClinicFactory(), role=Role.ADMIN).user
    return group, {
        "clinic admin": ClinicRoleFactory(clinic=clinic, role=Role.ADMIN).user,
        "lead facilitator": group.lead_facilitator,
        "co-facilitator": co,
        "facilitator of another group": other_group.lead_facilitator,
        "member of this group": member_of(group),
        "waitlisted member": member_of(group, EnrolmentStatus.WAITLISTED),
        "referred member": member_of(group, EnrolmentStatus.REFERRED),
        "member of another group": member_of(other_group),
        "admin of another clinic": foreign_admin,
        "anonymous": AnonymousUser(),
    }


EXPECTED = {
    # persona: (may view, may manage)
    "clinic admin": (True, True),
    "lead facilitator": (True, True),
    "co-facilitator": (True, True),
    "facilitator of another group": (False, False),
    "member of this group": (True, False),
    "waitlisted member": (True, False),
    "referred member": (False, False),
    "member of another group": (False, False),
    "admin of another clinic": (False, False),
    "anonymous": (False, False),
}


def test_group_visibility_and_management_per_persona(world):
    group, personas = world

    actual = {
        name: (can_view_group(user, group), can_manage_group(user, group))
        for name, user in personas.items()
    }

    assert actual == EXPECTED


def test_a_facilitator_who_lost_the_role_no_longer_runs_the_group(world):
    group, personas = world
    lead = personas["lead facilitator"]
    lead.clinic_roles.filter(clinic=group.clinic).delete()

    assert (can_view_group(lead, group), can_manage_group(lead, group)) == (False, False)


def test_scoped_queryset_lists_each_group_once(world):
    group, personas = world

    assert list(group_queryset_for(personas["co-facilitator"])) == [group]


def test_inactive_users_see_nothing(world):
    _group, personas = world
    admin = personas["clinic admin"]
    admin.is_active = False
    admin.save()

    assert list(group_queryset_for(admin)) == []


@pytest.mark.parametrize(
    ("persona", "allowed"),
    [
        ("clinic admin", True),
        ("lead facilitator", True),
        ("member of this group", False),
        ("admin of another clinic", False),
        ("anonymous", False),
    ],
)
def test_who_may_create_a_group_in_the_clinic(world, persona, allowed):
    group, personas = world

    assert can_create_group(personas[persona], group.clinic) is allowed
