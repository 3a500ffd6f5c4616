"""Anonymisation under real concurrent requests (PostgreSQL, real threads): a referral or
an edit of the record that races it either lands before it (and anonymisation is refused
or clears it) or is refused after it; never a live enrolment or a name in a cleared record.
"""

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.utils import timezone

from members.enums import Role
from members.models import Member
from members.services import member_update
from sessions.enums import OPEN_ENROLMENT_STATUSES, EnrolmentStatus
from sessions.models import Enrolment
from sessions.services.enrolment import enrolment_refer
from sessions.services.member_privacy import member_anonymise
from tests.factories.members import ClinicRoleFactory, MemberFactory, UserFactory
from tests.factories.sessions import EnrolmentFactory, GroupFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 15


def _together(*calls):
    """Run the calls at once, one thread each; return each result or the exception."""
    barrier = threading.Barrier(len(calls))

    def task(call):
        try:
            barrier.wait(timeout=30)
            return call()
        except Exception as exc:  # the caller asserts on refusals too
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(task, calls))


@pytest.fixture
def setting(settings):
    settings.GROUPCARE_RETENTION_DAYS = 30
    group = GroupFactory()
    admin = UserFactory()
    ClinicRoleFactory(user=admin, clinic=group.clinic, role=Role.ADMIN)
    return group, admin


def _discharged(group):
    member = MemberFactory(clinic=group.clinic, preferred_name="Robin")
    left_at = timezone.now() - dt.timedelta(days=40)
    EnrolmentFactory(
        group=GroupFactory(clinic=group.clinic),
        member=member,
        status=EnrolmentStatus.DISCHARGED,
        left_at=left_at,
    )
    return member


def test_a_referral_racing_anonymisation_never_leaves_an_open_enrolment_behind(setting):
    group, admin = setting
    for _ in range(ROUNDS):
        member = _discharged(group)

        _together(
            lambda m=member: member_anonymise(member=m, by=admin),
            lambda m=member: enrolment_refer(group=group, member=m, by=admin),
        )

        anonymised = Member.objects.get(pk=member.pk).anonymised_at is not None
        still_open = Enrolment.objects.filter(
            member=member, status__in=OPEN_ENROLMENT_STATUSES
        ).exists()
        assert anonymised != still_open


def test_an_edit_racing_anonymisation_never_writes_a_name_back(setting):
    group, admin = setting
    for _ in range(ROUNDS):
        member = _discharged(group)
        stale = Member.objects.get(pk=member.pk)

        _together(
            lambda m=member: member_anonymise(member=m, by=admin),
            lambda m=stale: member_update(member=m, by=admin, phone="+44 7700 900123"),
        )

        row = Member.objects.get(pk=member.pk)
        assert row.anonymised_at is not None
        assert (row.preferred_name, row.phone) == (f"Anonymised member #{member.pk}", "")
