import datetime as dt

import pytest
import time_machine

from members.models import AuditEntry
from sessions.enums import (
    EnrolmentPolicy,
    EnrolmentStatus,
    Finding,
    ScreeningOutcome,
    Stage,
    WaitlistOfferStatus,
)
from sessions.errors import EnrolmentError, GroupClosedError, ScreeningRequiredError
from sessions.models import Enrolment, Screening, WaitlistOffer
from sessions.selectors.enrolment import seats_taken, waitlist_position, waitlist_round_start
from sessions.services.enrolment import (
    enrolment_activate,
    enrolment_complete,
    enrolment_decline,
    enrolment_discharge,
    enrolment_waitlist,
    enrolment_withdraw,
)
from sessions.services.waitlist import (
    waitlist_offer_accept,
    waitlist_offer_decline,
    waitlist_offer_next,
    waitlist_offers_expire,
)
from tests.factories.members import ClinicFactory
from tests.factories.sessions import EnrolmentFactory, GroupFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
THREE_DAYS = dt.timedelta(days=3)


def _screen(enrolment, outcome=ScreeningOutcome.SUITABLE):
    areas = dict.fromkeys(Screening.AREAS, Finding.NO_CONCERN)
    Screening.objects.create(
        enrolment=enrolment, outcome=outcome, screened_by=enrolment.group.lead_facilitator, **areas
    )
    return enrolment


def _waitlisted(group, minutes_ago):
    return EnrolmentFactory(
        group=group,
        status=EnrolmentStatus.WAITLISTED,
        waitlisted_at=T0 - dt.timedelta(minutes=minutes_ago),
    )


def _offers(group):
    return list(
        WaitlistOffer.objects.filter(enrolment__group=group)
        .order_by("pk")
        .values_list("enrolment_id", "status", "offered_at", "expires_at")
    )


@pytest.fixture
def group():
    """A full group of two with two members in line, first and second."""
    group = GroupFactory(max_size=2, min_size=1, clinic=ClinicFactory(waitlist_offer_days=3))
    EnrolmentFactory.create_batch(
        2, group=group, status=EnrolmentStatus.ACTIVE, joined_on=dt.date(2026, 5, 1)
    )
    return group


@pytest.fixture
def first(group):
    return _waitlisted(group, minutes_ago=60)


@pytest.fixture
def second(group, first):
    return _waitlisted(group, minutes_ago=30)


def _leaver(group):
    return Enrolment.objects.filter(group=group, status=EnrolmentStatus.ACTIVE).first()


def _free_a_seat(group):
    return enrolment_withdraw(enrolment=_leaver(group), by=group.lead_facilitator)


@pytest.fixture
def traveller():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


# --------------------------------------------------------------------------- offering


def test_freeing_a_seat_offers_it_to_the_first_in_line(group, first, second, traveller):
    _free_a_seat(group)

    assert _offers(group) == [(first.pk, WaitlistOfferStatus.PENDING, T0, T0 + THREE_DAYS)]


@pytest.mark.parametrize("leave", [enrolment_withdraw, enrolment_complete, enrolment_discharge])
def test_every_way_of_leaving_frees_the_seat(group, first, traveller, leave):
    leave(enrolment=_leaver(group), by=group.lead_facilitator)

    assert _offers(group) == [(first.pk, WaitlistOfferStatus.PENDING, T0, T0 + THREE_DAYS)]


def test_an_offer_lasts_the_clinic_waitlist_offer_days(group, first, traveller):
    group.clinic.waitlist_offer_days = 7
    group.clinic.save()

    _free_a_seat(group)

    assert WaitlistOffer.objects.get().expires_at == T0 + dt.timedelta(days=7)


def test_an_offer_is_audited_with_ids_only(group, first):
    _free_a_seat(group)

    offer = WaitlistOffer.objects.get()
    entry = AuditEntry.objects.get(action="sessions.waitlist.offered")
    assert (entry.object_id, entry.actor, entry.clinic, entry.data) == (
        str(offer.pk),
        None,
        group.clinic,
        {"enrolment_id": first.pk, "group_id": group.pk, "member_id": first.member_id},
    )


def test_withdrawing_a_waitlisted_member_frees_no_seat(group, first, second):
    enrolment_withdraw(enrolment=first, by=group.lead_facilitator)

    assert (_offers(group), waitlist_position(enrolment=second)) == ([], 1)


def test_no_offer_when_nobody_is_waiting(group):
    _free_a_seat(group)

    assert (_offers(group), seats_taken(group=group)) == ([], 1)


def test_no_offer_while_the_group_is_full(group, first):
    assert (waitlist_offer_next(group=group), _offers(group)) == (None, [])


def test_a_larger_group_offers_the_new_seat_to_the_first_in_line(group, first, second):
    group.max_size = 3
    group.save()

    offer = waitlist_offer_next(group=group, now=T0)

    assert (offer.enrolment, offer.expires_at) == (first, T0 + THREE_DAYS)


def test_a_seat_is_offered_only_once(group, first, second):
    _free_a_seat(group)

    assert (waitlist_offer_next(group=group), len(_offers(group))) == (None, 1)


def test_a_closed_group_past_forming_offers_no_seat(group, first):
    group.stage = Stage.STORMING
    group.save()

    _free_a_seat(group)

    assert _offers(group) == []


def test_an_open_group_past_forming_offers_the_seat(group, first):
    group.stage = Stage.PERFORMING
    group.enrolment_policy = EnrolmentPolicy.OPEN
    group.save()

    _free_a_seat(group)

    assert [row[:2] for row in _offers(group)] == [(first.pk, WaitlistOfferStatus.PENDING)]


# --------------------------------------------------------------------------- reserved seats


def test_an_offered_seat_is_reserved_against_new_activations(group, first):
    _free_a_seat(group)
    newcomer = _screen(EnrolmentFactory(group=group, status=EnrolmentStatus.SCREENING))

    result = enrolment_activate(enrolment=newcomer, by=group.lead_facilitator)

    assert (result.status, waitlist_position(enrolment=result), seats_taken(group=group)) == (
        EnrolmentStatus.WAITLISTED,
        2,
        2,
    )


def test_activating_a_member_with_a_pending_offer_uses_their_reserved_seat(group, first):
    _screen(first)
    _free_a_seat(group)

    result = enrolment_activate(enrolment=first, by=group.lead_facilitator)

    assert (result.status, WaitlistOffer.objects.get().status) == (
        EnrolmentStatus.ACTIVE,
        WaitlistOfferStatus.ACCEPTED,
    )


def test_withdrawing_a_member_with_a_pending_offer_passes_the_seat_on(group, first, second):
    _free_a_seat(group)

    enrolment_withdraw(enrolment=first, by=group.lead_facilitator)

    assert [row[:2] for row in _offers(group)] == [
        (first.pk, WaitlistOfferStatus.DECLINED),
        (second.pk, WaitlistOfferStatus.PENDING),
    ]


def test_declining_a_member_with_a_pending_offer_passes_the_seat_on(group, first, second):
    _free_a_seat(group)

    enrolment_decline(enrolment=first, by=group.lead_facilitator)

    assert [row[:2] for row in _offers(group)] == [
        (first.pk, WaitlistOfferStatus.DECLINED),
        (second.pk, WaitlistOfferStatus.PENDING),
    ]


# --------------------------------------------------------------------------- accepting


def test_accepting_an_offer_activates_the_member(group, first, traveller):
    _free_a_seat(group)
    offer = WaitlistOffer.objects.get()
    traveller.shift(dt.timedelta(days=1))

    enrolment = waitlist_offer_accept(offer=offer, by=group.lead_facilitator)

    offer.refresh_from_db()
    assert (enrolment.status, enrolment.joined_on, offer.status, offer.responded_at) == (
        EnrolmentStatus.ACTIVE,
        dt.date(2026, 6, 2),
        WaitlistOfferStatus.ACCEPTED,
        T0 + dt.timedelta(days=1),
    )
    assert list(
        AuditEntry.objects.filter(action__startswith="sessions.")
        .order_by("pk")
        .values_list("action", flat=True)
    )[-2:] == ["sessions.waitlist.accepted", "sessions.enrolment.activated"]


def test_accepting_an_expired_offer_is_refused_and_the_seat_moves_on(
    group, first, second, traveller
):
    _free_a_seat(group)
    offer = WaitlistOffer.objects.get()
    traveller.shift(THREE_DAYS)

    # 09:00 UTC is 10:00 in London in summer: the message speaks the clinic's time.
    with pytest.raises(
        EnrolmentError,
        match=r"^This offer expired on 2026-06-04 at 10:00; the seat has moved on to the next",
    ):
        waitlist_offer_accept(offer=offer, by=group.lead_facilitator)

    first.refresh_from_db()
    assert (first.status, [row[:2] for row in _offers(group)]) == (
        EnrolmentStatus.WAITLISTED,
        [(first.pk, WaitlistOfferStatus.EXPIRED), (second.pk, WaitlistOfferStatus.PENDING)],
    )


def test_accepting_an_answered_offer_is_refused(group, first):
    _free_a_seat(group)
    offer = WaitlistOffer.objects.get()
    waitlist_offer_decline(offer=offer, by=group.lead_facilitator)

    with pytest.raises(EnrolmentError, match=r"no longer open \(it was declined\)"):
        waitlist_offer_accept(offer=offer, by=group.lead_facilitator)


def test_accepting_after_a_closed_group_moved_past_forming_is_refused(group, first):
    _free_a_seat(group)
    group.stage = Stage.STORMING
    group.save()

    with pytest.raises(GroupClosedError, match="takes new members only while forming"):
        waitlist_offer_accept(offer=WaitlistOffer.objects.get(), by=group.lead_facilitator)


def test_accepting_after_the_group_shrank_is_refused(group, first):
    _free_a_seat(group)
    group.max_size = 1
    group.save()

    with pytest.raises(EnrolmentError, match="The group is full; this member stays"):
        waitlist_offer_accept(offer=WaitlistOffer.objects.get(), by=group.lead_facilitator)


# --------------------------------------------------------------------------- declining


def test_declining_offers_the_seat_to_the_next_in_line(group, first, second, traveller):
    _free_a_seat(group)

    waitlist_offer_decline(offer=WaitlistOffer.objects.get(), by=group.lead_facilitator)

    assert _offers(group) == [
        (first.pk, WaitlistOfferStatus.DECLINED, T0, T0 + THREE_DAYS),
        (second.pk, WaitlistOfferStatus.PENDING, T0, T0 + THREE_DAYS),
    ]


def test_a_member_who_declined_keeps_their_place_in_line(group, first, second):
    _free_a_seat(group)

    waitlist_offer_decline(offer=WaitlistOffer.objects.get(), by=group.lead_facilitator)

    first.refresh_from_db()
    assert (first.status, waitlist_position(enrolment=first)) == (EnrolmentStatus.WAITLISTED, 1)


def test_a_member_who_passed_is_not_offered_the_same_seat_again(group, first, second):
    _free_a_seat(group)
    waitlist_offer_decline(offer=first.offers.get(), by=group.lead_facilitator)

    waitlist_offer_decline(offer=second.offers.get(), by=group.lead_facilitator)

    assert [row[:2] for row in _offers(group)] == [
        (first.pk, WaitlistOfferStatus.DECLINED),
        (second.pk, WaitlistOfferStatus.DECLINED),
    ]


def test_the_next_freed_seat_is_offered_from_the_front_of_the_line_again(
    group, first, second, traveller
):
    _free_a_seat(group)
    waitlist_offer_decline(offer=first.offers.get(), by=group.lead_facilitator)
    waitlist_offer_decline(offer=second.offers.get(), by=group.lead_facilitator)
    traveller.shift(dt.timedelta(days=10))

    _free_a_seat(group)

    assert [row[:2] for row in _offers(group)][2:] == [(first.pk, WaitlistOfferStatus.PENDING)]


def test_a_round_starts_when_an_active_member_leaves(group, first, traveller):
    before = waitlist_round_start(group=group)
    traveller.shift(dt.timedelta(hours=1))

    _free_a_seat(group)

    assert (before, waitlist_round_start(group=group)) == (None, T0 + dt.timedelta(hours=1))


def test_a_waitlisted_member_leaving_starts_no_round(group, first, second, traveller):
    enrolment_withdraw(enrolment=first, by=group.lead_facilitator)

    assert waitlist_round_start(group=group) is None


def test_editing_the_departed_enrolment_later_does_not_start_a_new_round(
    group, first, second, traveller
):
    leaver = _free_a_seat(group)
    waitlist_offer_decline(offer=first.offers.get(), by=group.lead_facilitator)
    waitlist_offer_decline(offer=second.offers.get(), by=group.lead_facilitator)
    traveller.shift(dt.timedelta(days=10))
    leaver.leave_note = "Corrected later."
    leaver.save()

    offer = waitlist_offer_next(group=group)

    assert (offer, waitlist_round_start(group=group)) == (None, T0)


# --------------------------------------------------------------------------- expiry


def test_expiry_marks_overdue_offers_and_offers_the_seat_to_the_next(
    group, first, second, traveller
):
    _free_a_seat(group)
    traveller.shift(THREE_DAYS)

    expired = waitlist_offers_expire()

    later = T0 + THREE_DAYS
    assert (expired, _offers(group)) == (
        1,
        [
            (first.pk, WaitlistOfferStatus.EXPIRED, T0, T0 + THREE_DAYS),
            (second.pk, WaitlistOfferStatus.PENDING, later, later + THREE_DAYS),
        ],
    )
    assert AuditEntry.objects.filter(action="sessions.waitlist.expired").count() == 1


def test_expiry_leaves_offers_that_are_not_yet_due(group, first, traveller):
    _free_a_seat(group)

    expired = waitlist_offers_expire(now=T0 + THREE_DAYS - dt.timedelta(seconds=1))

    assert (expired, [row[1] for row in _offers(group)]) == (0, [WaitlistOfferStatus.PENDING])


def test_expiry_runs_twice_without_expiring_twice(group, first, second):
    _free_a_seat(group)
    later = WaitlistOffer.objects.get().expires_at

    counts = [waitlist_offers_expire(now=later), waitlist_offers_expire(now=later)]

    assert (counts, AuditEntry.objects.filter(action="sessions.waitlist.expired").count()) == (
        [1, 0],
        1,
    )


def test_a_member_whose_offer_expired_keeps_their_place(group, first, second, traveller):
    _free_a_seat(group)
    traveller.shift(THREE_DAYS)

    waitlist_offers_expire()

    assert (waitlist_position(enrolment=first), waitlist_position(enrolment=second)) == (1, 2)


def test_expiry_handles_several_groups(group, first, traveller):
    other = GroupFactory(max_size=1, min_size=1)
    EnrolmentFactory(group=other, status=EnrolmentStatus.ACTIVE, joined_on=dt.date(2026, 5, 1))
    _waitlisted(other, minutes_ago=10)
    _free_a_seat(group)
    _free_a_seat(other)

    expired = waitlist_offers_expire(now=T0 + THREE_DAYS)

    assert (expired, WaitlistOffer.objects.filter(status=WaitlistOfferStatus.EXPIRED).count()) == (
        2,
        2,
    )


# --------------------------------------------------------------------------- explicit waitlisting


def test_waitlist_puts_a_screened_member_in_line(group, first, traveller):
    enrolment = _screen(EnrolmentFactory(group=group, status=EnrolmentStatus.SCREENING))

    enrolment_waitlist(enrolment=enrolment, by=group.lead_facilitator)

    enrolment.refresh_from_db()
    assert (enrolment.status, enrolment.waitlisted_at, waitlist_position(enrolment=enrolment)) == (
        EnrolmentStatus.WAITLISTED,
        T0,
        2,
    )


def test_waitlist_offers_a_free_seat_at_once(group):
    _free_a_seat(group)
    enrolment = _screen(EnrolmentFactory(group=group, status=EnrolmentStatus.SCREENING))

    enrolment_waitlist(enrolment=enrolment, by=group.lead_facilitator)

    assert [row[:2] for row in _offers(group)] == [(enrolment.pk, WaitlistOfferStatus.PENDING)]


def test_waitlist_needs_a_suitable_screening(group):
    enrolment = _screen(
        EnrolmentFactory(group=group, status=EnrolmentStatus.SCREENING),
        ScreeningOutcome.NOT_SUITABLE,
    )

    with pytest.raises(ScreeningRequiredError, match="screened not suitable"):
        enrolment_waitlist(enrolment=enrolment, by=group.lead_facilitator)


def test_waitlisting_a_waitlisted_member_is_refused(group, first):
    with pytest.raises(EnrolmentError, match="already on the waitlist"):
        enrolment_waitlist(enrolment=first, by=group.lead_facilitator)


def test_waitlisting_an_active_member_is_refused(group):
    with pytest.raises(EnrolmentError, match="This enrolment is active; only a referred"):
        enrolment_waitlist(enrolment=_leaver(group), by=group.lead_facilitator)


# --------------------------------------------------------------------------- position


def test_position_is_none_for_a_member_not_in_line(group):
    assert waitlist_position(enrolment=_leaver(group)) is None


def test_position_breaks_ties_by_enrolment_order(group):
    same_time = [_waitlisted(group, minutes_ago=5) for _ in range(3)]

    assert [waitlist_position(enrolment=e) for e in same_time] == [1, 2, 3]
