"""A facilitator or a room is never in two non-cancelled sessions at once."""

import datetime as dt
import threading

import pytest
from django.db import IntegrityError, connection, connections, transaction

from members.enums import Role
from sessions.enums import SessionStatus
from sessions.errors import DoubleBookingError
from sessions.models import GroupSession, SessionFacilitator
from sessions.services import scheduling
from sessions.services.scheduling import (
    group_session_cancel,
    group_session_move,
    schedule_set,
)
from tests.factories.members import ClinicFactory, ClinicRoleFactory
from tests.factories.sessions import GroupFactory

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
TUESDAY = dt.date(2026, 6, 2)


def _utc(*args):
    return dt.datetime(*args, tzinfo=dt.UTC)


def _facilitator(clinic, name="Alex Example"):
    return ClinicRoleFactory(clinic=clinic, role=Role.FACILITATOR, user__full_name=name).user


def _once(group, start_time, *, minutes=90, day=TUESDAY):
    """One weekly session on ``day`` at ``start_time`` London time."""
    return schedule_set(
        group=group,
        rrule="FREQ=WEEKLY;BYDAY=TU;COUNT=1",
        first_date=day,
        start_time=start_time,
        duration_minutes=minutes,
        by=group.lead_facilitator,
        now=NOW,
    )


@pytest.fixture
def clinic():
    return ClinicFactory(timezone="Europe/London")


@pytest.fixture
def alex(clinic):
    return _facilitator(clinic, "Alex Example")


@pytest.fixture
def booked(clinic, alex):
    """Alex runs "Tuesday group" 18:00-19:30 London time (17:00-18:30 UTC) in its room."""
    group = GroupFactory(clinic=clinic, name="Tuesday group", lead_facilitator=alex)
    [session] = _once(group, dt.time(18, 0))
    return session


def _group(clinic, lead, **kwargs):
    return GroupFactory(clinic=clinic, name="Second group", lead_facilitator=lead, **kwargs)


@pytest.mark.django_db
def test_the_same_facilitator_in_overlapping_sessions_is_refused_naming_the_session(
    clinic, alex, booked
):
    group = _group(clinic, alex)

    with pytest.raises(DoubleBookingError) as refused:
        _once(group, dt.time(19, 0))

    assert (str(refused.value), refused.value.conflict_id) == (
        f"Facilitator Alex Example is already booked: Tuesday group, Tue 2026-06-02 18:00 "
        f"(session #{booked.pk}).",
        booked.pk,
    )
    assert list(GroupSession.objects.filter(group=group)) == []


@pytest.mark.django_db
def test_back_to_back_sessions_are_allowed(clinic, alex, booked):
    group = _group(clinic, alex, room=booked.room)

    [session] = _once(group, dt.time(19, 30))

    assert (session.start, booked.end) == (_utc(2026, 6, 2, 18, 30), _utc(2026, 6, 2, 18, 30))


@pytest.mark.django_db
def test_a_session_ending_when_the_other_starts_is_allowed(clinic, alex, booked):
    group = _group(clinic, alex, room=booked.room)

    [session] = _once(group, dt.time(16, 30))

    assert (session.end, booked.start) == (_utc(2026, 6, 2, 17, 0), _utc(2026, 6, 2, 17, 0))


@pytest.mark.django_db
def test_the_same_room_in_overlapping_sessions_is_refused(clinic, booked):
    group = _group(clinic, _facilitator(clinic, "Sam Other"), room=booked.room)

    with pytest.raises(DoubleBookingError) as refused:
        _once(group, dt.time(17, 0))

    # Whoever books here does not run the group that stands in the way: neither it nor
    # its session is named.
    assert (str(refused.value), refused.value.conflict_id) == (
        f"Room {booked.room.name} is not available at that time.",
        None,
    )


@pytest.mark.django_db
def test_a_cancelled_session_blocks_nobody(clinic, alex, booked):
    group_session_cancel(session=booked, by=alex, reason="Room flooded", now=NOW)
    group = _group(clinic, alex, room=booked.room)

    [session] = _once(group, dt.time(18, 0))

    assert (session.start, session.room) == (booked.start, booked.room)


@pytest.mark.django_db
def test_a_co_facilitator_already_booked_is_refused(clinic, alex, booked):
    group = _group(clinic, _facilitator(clinic, "Sam Other"))
    group.co_facilitators.add(alex)

    with pytest.raises(DoubleBookingError) as refused:
        _once(group, dt.time(18, 0))

    # Whoever books here does not run the group that stands in the way: neither it nor
    # its session is named.
    assert (str(refused.value), refused.value.conflict_id) == (
        "Facilitator Alex Example is not available at that time.",
        None,
    )


@pytest.mark.django_db
def test_a_substitute_already_booked_is_refused(clinic, alex, booked):
    sam = _facilitator(clinic, "Sam Other")
    [session] = _once(_group(clinic, sam), dt.time(18, 0))

    with pytest.raises(DoubleBookingError) as refused:
        group_session_move(session=session, by=sam, facilitators=[alex], now=NOW)

    # Whoever books here does not run the group that stands in the way: neither it nor
    # its session is named.
    assert (str(refused.value), refused.value.conflict_id) == (
        "Facilitator Alex Example is not available at that time.",
        None,
    )
    assert list(
        SessionFacilitator.objects.filter(session=session).values_list("facilitator_id")
    ) == [(sam.pk,)]


@pytest.mark.django_db
def test_moving_into_a_conflict_is_refused_and_changes_nothing(clinic, alex, booked):
    [session] = _once(_group(clinic, alex), dt.time(20, 0))

    with pytest.raises(DoubleBookingError) as refused:
        group_session_move(session=session, by=alex, start=_utc(2026, 6, 2, 18, 0), now=NOW)

    assert refused.value.conflict_id == booked.pk
    session.refresh_from_db()
    assert (session.start, session.is_moved) == (_utc(2026, 6, 2, 19, 0), False)


@pytest.mark.django_db
def test_moving_into_a_booked_room_is_refused(clinic, booked):
    sam = _facilitator(clinic, "Sam Other")
    [session] = _once(_group(clinic, sam), dt.time(18, 0))

    with pytest.raises(DoubleBookingError) as refused:
        group_session_move(session=session, by=sam, room=booked.room, now=NOW)

    # Sam does not run the Tuesday group: the room is busy, and that is all he is told.
    assert (str(refused.value), refused.value.conflict_id) == (
        f"Room {booked.room.name} is not available at that time.",
        None,
    )


@pytest.mark.django_db
def test_the_clinic_admin_is_told_which_session_holds_the_room(clinic, booked):
    admin = ClinicRoleFactory(clinic=clinic, role=Role.ADMIN).user
    [session] = _once(_group(clinic, _facilitator(clinic, "Sam Other")), dt.time(18, 0))

    with pytest.raises(DoubleBookingError) as refused:
        group_session_move(session=session, by=admin, room=booked.room, now=NOW)

    assert refused.value.conflict_id == booked.pk
    assert "Tuesday group" in str(refused.value)


@pytest.mark.django_db
def test_moving_within_its_own_slot_does_not_conflict_with_itself(clinic, alex, booked):
    moved = group_session_move(session=booked, by=alex, end=_utc(2026, 6, 2, 18, 45), now=NOW)

    assert (moved.start, moved.end) == (_utc(2026, 6, 2, 17, 0), _utc(2026, 6, 2, 18, 45))


@pytest.mark.django_db
def test_a_booking_in_another_clinic_is_refused_without_naming_it(clinic, alex, booked):
    elsewhere = ClinicFactory(timezone="Europe/London")
    ClinicRoleFactory(clinic=elsewhere, user=alex, role=Role.FACILITATOR)
    group = GroupFactory(clinic=elsewhere, name="Other clinic group", lead_facilitator=alex)

    with pytest.raises(DoubleBookingError) as refused:
        _once(group, dt.time(18, 0))

    assert (str(refused.value), refused.value.conflict_id) == (
        "Facilitator Alex Example is not available at that time.",
        None,
    )


@pytest.mark.django_db
def test_one_conflict_anywhere_in_the_series_refuses_the_whole_series(clinic, alex):
    first = GroupFactory(clinic=clinic, name="Tuesday group", lead_facilitator=alex)
    [late] = _once(first, dt.time(18, 0), day=dt.date(2026, 7, 7))
    group = _group(clinic, alex)

    with pytest.raises(DoubleBookingError) as refused:
        schedule_set(
            group=group,
            rrule="FREQ=WEEKLY;BYDAY=TU;COUNT=8",
            first_date=TUESDAY,
            start_time=dt.time(18, 0),
            duration_minutes=60,
            by=alex,
            now=NOW,
        )

    assert (refused.value.conflict_id, GroupSession.objects.filter(group=group).count()) == (
        late.pk,
        0,
    )


@pytest.mark.django_db
def test_editing_the_series_into_a_clash_is_refused_and_changes_nothing(clinic, alex, booked):
    group = _group(clinic, alex)
    [session] = _once(group, dt.time(20, 0))

    with pytest.raises(DoubleBookingError) as refused:
        _once(group, dt.time(18, 30))

    assert (str(refused.value), refused.value.conflict_id) == (
        f"Facilitator Alex Example is already booked: Tuesday group, Tue 2026-06-02 18:00 "
        f"(session #{booked.pk}).",
        booked.pk,
    )
    assert list(GroupSession.objects.filter(group=group).values_list("pk", "start")) == [
        (session.pk, _utc(2026, 6, 2, 19, 0))
    ]


@pytest.mark.django_db
def test_editing_the_series_checks_a_substitute_at_the_new_time(clinic, alex, booked):
    sam = _facilitator(clinic, "Sam Other")
    group = _group(clinic, sam)
    [session] = _once(group, dt.time(20, 0))
    group_session_move(session=session, by=sam, facilitators=[alex], now=NOW)

    with pytest.raises(DoubleBookingError) as refused:
        _once(group, dt.time(18, 30))

    # Whoever books here does not run the group that stands in the way: neither it nor
    # its session is named.
    assert (str(refused.value), refused.value.conflict_id) == (
        "Facilitator Alex Example is not available at that time.",
        None,
    )


@pytest.mark.django_db
def test_editing_the_series_checks_a_sessions_own_room_at_the_new_time(clinic, booked):
    sam = _facilitator(clinic, "Sam Other")
    group = _group(clinic, sam)
    [session] = _once(group, dt.time(20, 0))
    group_session_move(session=session, by=sam, room=booked.room, now=NOW)

    with pytest.raises(DoubleBookingError) as refused:
        _once(group, dt.time(18, 30))

    # Whoever books here does not run the group that stands in the way: neither it nor
    # its session is named.
    assert (str(refused.value), refused.value.conflict_id) == (
        f"Room {booked.room.name} is not available at that time.",
        None,
    )


# --- PostgreSQL: the database has the last word --------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_overlap_exclusion_constraints_exist_in_the_schema():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, contype, conrelid::regclass::text FROM pg_constraint "
            "WHERE conname IN ('facilitator_no_overlap', 'session_room_no_overlap') "
            "ORDER BY conname"
        )
        rows = cursor.fetchall()

    assert rows == [
        ("facilitator_no_overlap", "x", SessionFacilitator._meta.db_table),
        ("session_room_no_overlap", "x", GroupSession._meta.db_table),
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_bookings_of_one_facilitator_let_exactly_one_through(monkeypatch):
    clinic = ClinicFactory(timezone="Europe/London")
    alex = _facilitator(clinic, "Alex Example")
    groups = [
        GroupFactory(clinic=clinic, name="First group", lead_facilitator=alex),
        GroupFactory(clinic=clinic, name="Second group", lead_facilitator=alex),
    ]
    # Both requests pass the application's check before either writes, so only the
    # exclusion constraint can stop the second one.
    both_checked = threading.Barrier(2, timeout=10)
    checked = threading.local()
    find = scheduling.booking_conflict_find
    looks = []

    def find_then_wait(**kwargs):
        conflict = find(**kwargs)
        looks.append(threading.get_ident())
        if not getattr(checked, "done", False):
            checked.done = True
            both_checked.wait()
        return conflict

    monkeypatch.setattr(scheduling, "booking_conflict_find", find_then_wait)
    outcomes = {}

    def book(group):
        try:
            outcomes[group.pk] = _once(group, dt.time(18, 0))
        except DoubleBookingError as error:
            outcomes[group.pk] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=book, args=(group,)) for group in groups]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    winners = [v for v in outcomes.values() if isinstance(v, list)]
    losers = [v for v in outcomes.values() if isinstance(v, DoubleBookingError)]
    assert (len(winners), len(losers)) == (1, 1)
    [[winner]] = winners
    assert (str(losers[0]), losers[0].conflict_id) == (
        f"Facilitator Alex Example is already booked: {winner.group.name}, "
        f"Tue 2026-06-02 18:00 (session #{winner.pk}).",
        winner.pk,
    )
    assert list(GroupSession.objects.values_list("pk", flat=True)) == [winner.pk]
    # The loser looked twice: once before writing, once after the constraint refused it.
    assert sorted(looks.count(ident) for ident in set(looks)) == [1, 2]


def _insert(group, start, minutes=90, status=SessionStatus.SCHEDULED):
    """A session written straight to the database, past every check of the services."""
    return GroupSession.objects.create(
        group=group,
        start=start,
        end=start + dt.timedelta(minutes=minutes),
        room=group.room,
        status=status,
        stage=group.stage,
    )


def _insert_facilitation(session, user):
    return SessionFacilitator.objects.create(
        session=session,
        facilitator=user,
        start=session.start,
        end=session.end,
        is_cancelled=session.status == SessionStatus.CANCELLED,
    )


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_database_allows_back_to_back_sessions_in_one_room_with_one_facilitator(clinic, alex):
    first = GroupFactory(clinic=clinic, lead_facilitator=alex)
    second = GroupFactory(clinic=clinic, lead_facilitator=alex, room=first.room)
    earlier = _insert(first, _utc(2026, 6, 2, 17, 0))
    later = _insert(second, _utc(2026, 6, 2, 18, 30))

    _insert_facilitation(earlier, alex)
    _insert_facilitation(later, alex)

    assert list(GroupSession.objects.values_list("room_id", "start", "end")) == [
        (first.room_id, _utc(2026, 6, 2, 17, 0), _utc(2026, 6, 2, 18, 30)),
        (first.room_id, _utc(2026, 6, 2, 18, 30), _utc(2026, 6, 2, 20, 0)),
    ]


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_database_lets_a_cancelled_session_block_nobody(clinic, alex):
    first = GroupFactory(clinic=clinic, lead_facilitator=alex)
    second = GroupFactory(clinic=clinic, lead_facilitator=alex, room=first.room)
    cancelled = _insert(first, _utc(2026, 6, 2, 17, 0), status=SessionStatus.CANCELLED)
    _insert_facilitation(cancelled, alex)

    overlapping = _insert(second, _utc(2026, 6, 2, 17, 30))
    _insert_facilitation(overlapping, alex)

    assert sorted(GroupSession.objects.values_list("status", flat=True)) == [
        SessionStatus.CANCELLED,
        SessionStatus.SCHEDULED,
    ]


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_database_refuses_one_room_in_overlapping_sessions(clinic, alex):
    first = GroupFactory(clinic=clinic, lead_facilitator=alex)
    second = GroupFactory(clinic=clinic, room=first.room)
    _insert(first, _utc(2026, 6, 2, 17, 0))

    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        _insert(second, _utc(2026, 6, 2, 18, 0))

    assert refused.value.__cause__.diag.constraint_name == "session_room_no_overlap"
    assert GroupSession.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_database_refuses_one_facilitator_in_overlapping_sessions(clinic, alex):
    first = _insert(GroupFactory(clinic=clinic), _utc(2026, 6, 2, 17, 0))
    second = _insert(GroupFactory(clinic=clinic), _utc(2026, 6, 2, 18, 0))
    _insert_facilitation(first, alex)

    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        _insert_facilitation(second, alex)

    assert refused.value.__cause__.diag.constraint_name == "facilitator_no_overlap"
    assert SessionFacilitator.objects.count() == 1
