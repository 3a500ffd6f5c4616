"""Seats and the waitlist under real concurrent requests (PostgreSQL, real threads).

Each worker thread opens its own database connection and closes it at the end of each
task; a ``threading.Barrier`` releases the workers together so their transactions overlap.
"""

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from members.models import Member
from sessions.enums import EnrolmentStatus, Finding, ScreeningOutcome, WaitlistOfferStatus
from sessions.errors import EnrolmentError
from sessions.models import Enrolment, Screening, WaitlistOffer
from sessions.services.enrolment import enrolment_activate, enrolment_refer, enrolment_withdraw
from tests.factories.members import MemberFactory
from tests.factories.sessions import GroupFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 25
T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


def _run_together(calls):
    """Run each call in a worker thread, WORKERS at a time released by a barrier; return
    each call's result or the exception it raised, in order."""
    barrier = threading.Barrier(WORKERS)

    def task(call):
        try:
            barrier.wait(timeout=30)
            return call()
        except Exception as exc:  # the caller asserts on refusals too
            return exc
        finally:
            connection.close()

    assert len(calls) % WORKERS == 0
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(task, calls))


def _screened_enrolments(group, count, status=EnrolmentStatus.SCREENING, **fields):
    members = Member.objects.bulk_create(
        Member(clinic=group.clinic, preferred_name=f"M{i}", legal_name=f"Member {i}")
        for i in range(count)
    )
    enrolments = Enrolment.objects.bulk_create(
        Enrolment(group=group, member=member, status=status, **fields) for member in members
    )
    areas = dict.fromkeys(Screening.AREAS, Finding.NO_CONCERN)
    Screening.objects.bulk_create(
        Screening(
            enrolment=enrolment,
            outcome=ScreeningOutcome.SUITABLE,
            screened_by=group.lead_facilitator,
            **areas,
        )
        for enrolment in enrolments
    )
    return enrolments


def _statuses(group):
    return {
        status: Enrolment.objects.filter(group=group, status=status).count()
        for status in (EnrolmentStatus.ACTIVE, EnrolmentStatus.WAITLISTED)
    }


def test_fifty_simultaneous_activations_fill_eight_seats_and_waitlist_the_rest():
    for _ in range(20):
        group = GroupFactory(max_size=8, min_size=1)
        enrolments = _screened_enrolments(group, 50)
        by = group.lead_facilitator

        results = _run_together(
            [lambda e=e, by=by: enrolment_activate(enrolment=e, by=by) for e in enrolments]
        )

        assert [r for r in results if isinstance(r, Exception)] == []
        assert _statuses(group) == {EnrolmentStatus.ACTIVE: 8, EnrolmentStatus.WAITLISTED: 42}


def test_simultaneous_withdrawals_offer_each_freed_seat_to_the_next_in_line_once():
    group = GroupFactory(max_size=25, min_size=1)
    active = _screened_enrolments(
        group, 25, status=EnrolmentStatus.ACTIVE, joined_on=dt.date(2026, 5, 1)
    )
    line = _screened_enrolments(group, 40, status=EnrolmentStatus.WAITLISTED)
    for place, enrolment in enumerate(line):
        enrolment.waitlisted_at = T0 + dt.timedelta(minutes=place)
    Enrolment.objects.bulk_update(line, ["waitlisted_at"])
    by = group.lead_facilitator

    results = _run_together([lambda e=e: enrolment_withdraw(enrolment=e, by=by) for e in active])

    assert [r for r in results if isinstance(r, Exception)] == []
    offered = WaitlistOffer.objects.filter(status=WaitlistOfferStatus.PENDING)
    assert sorted(offered.values_list("enrolment_id", flat=True)) == [e.pk for e in line[:25]]


def test_simultaneous_referrals_of_one_member_create_one_enrolment():
    group = GroupFactory()
    member = MemberFactory(clinic=group.clinic)
    by = group.lead_facilitator

    results = _run_together([lambda: enrolment_refer(group=group, member=member, by=by)] * WORKERS)

    refusals = [r for r in results if isinstance(r, EnrolmentError)]
    assert (len(refusals), Enrolment.objects.filter(member=member).count()) == (WORKERS - 1, 1)
    assert {str(r) for r in refusals} == {
        "This member already has an open enrolment in this group."
    }
