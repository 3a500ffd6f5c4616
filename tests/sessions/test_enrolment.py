import datetime as dt

import pytest
import time_machine

from members.enums import Role
from members.models import AuditEntry
from sessions.enums import (
    EnrolmentPolicy,
    EnrolmentStatus,
    Finding,
    GroupStatus,
    ScreeningOutcome,
    Stage,
)
from sessions.errors import EnrolmentError, GroupClosedError, ScreeningRequiredError
from sessions.models import Enrolment, Screening
from sessions.selectors.enrolment import enrolment_list, waitlist_position
from sessions.services import enrolment as enrolment_services
from sessions.services.enrolment import (
    enrolment_activate,
    enrolment_complete,
    enrolment_decline,
    enrolment_discharge,
    enrolment_refer,
    enrolment_withdraw,
)
from tests.factories.members import ClinicFactory, MemberFactory, UserFactory
from tests.factories.sessions import EnrolmentFactory, GroupFactory

pytestmark = pytest.mark.django_db

# 02:30 UTC on 2 June is still 1 June in New York: the clinic's date is the one that counts.
NOW = dt.datetime(2026, 6, 2, 2, 30, tzinfo=dt.UTC)
CLINIC_TODAY = dt.date(2026, 6, 1)


def _screen(enrolment, outcome=ScreeningOutcome.SUITABLE, **fields):
    areas = dict.fromkeys(Screening.AREAS, Finding.NO_CONCERN)
    return Screening.objects.create(
        enrolment=enrolment,
        outcome=outcome,
        screened_by=enrolment.group.lead_facilitator,
        **areas,
        **fields,
    )


def _screened(group, outcome=ScreeningOutcome.SUITABLE):
    enrolment = EnrolmentFactory(group=group, status=EnrolmentStatus.SCREENING)
    _screen(enrolment, outcome)
    return enrolment


def _actions(enrolment):
    return list(
        AuditEntry.objects.filter(object_type="group_sessions.enrolment", object_id=enrolment.pk)
        .order_by("pk")
        .values_list("action", flat=True)
    )


@pytest.fixture
def group():
    return GroupFactory(clinic=ClinicFactory(timezone="America/New_York"), max_size=2, min_size=1)


@pytest.fixture
def admin(make_user, group):
    return make_user(clinic=group.clinic, role=Role.ADMIN)


# --------------------------------------------------------------------------- referral


def test_refer_creates_a_referred_enrolment_with_an_audit_entry(group):
    member = MemberFactory(clinic=group.clinic)
    by = group.lead_facilitator

    enrolment = enrolment_refer(group=group, member=member, by=by, now=NOW)

    assert (enrolment.group, enrolment.member, enrolment.status, enrolment.referred_at) == (
        group,
        member,
        EnrolmentStatus.REFERRED,
        NOW,
    )
    entry = AuditEntry.objects.get(action="sessions.enrolment.referred")
    assert (entry.actor, entry.clinic, entry.object_id, entry.data) == (
        by,
        group.clinic,
        str(enrolment.pk),
        {"group_id": group.pk, "member_id": member.pk},
    )


def test_refer_refuses_a_member_of_another_clinic(group):
    outsider = MemberFactory(clinic=ClinicFactory())

    with pytest.raises(EnrolmentError, match="not a client of the group's clinic"):
        enrolment_refer(group=group, member=outsider, by=group.lead_facilitator)

    assert Enrolment.objects.count() == 0


def test_refer_refuses_an_adjourned_group(group):
    group.stage = Stage.ADJOURNING
    group.save()

    with pytest.raises(GroupClosedError, match="An adjourned group cannot take new members"):
        enrolment_refer(
            group=group, member=MemberFactory(clinic=group.clinic), by=group.lead_facilitator
        )


def test_refer_refuses_an_archived_group(group):
    group.status = GroupStatus.ARCHIVED
    group.save()

    with pytest.raises(GroupClosedError, match="This group is archived"):
        enrolment_refer(
            group=group, member=MemberFactory(clinic=group.clinic), by=group.lead_facilitator
        )


def test_refer_accepts_a_closed_group_past_forming_for_later_screening(group):
    group.stage = Stage.NORMING
    group.save()

    enrolment = enrolment_refer(
        group=group, member=MemberFactory(clinic=group.clinic), by=group.lead_facilitator
    )

    assert enrolment.status == EnrolmentStatus.REFERRED


def test_refer_refuses_a_second_open_enrolment_naming_the_first(group):
    existing = EnrolmentFactory(group=group, status=EnrolmentStatus.WAITLISTED)

    with pytest.raises(EnrolmentError, match="already has an open enrolment") as refused:
        enrolment_refer(group=group, member=existing.member, by=group.lead_facilitator)

    assert refused.value.conflict_id == existing.pk
    assert Enrolment.objects.count() == 1


def test_refer_again_after_the_previous_enrolment_ended(group):
    ended = EnrolmentFactory(group=group, status=EnrolmentStatus.WITHDRAWN)

    enrolment = enrolment_refer(group=group, member=ended.member, by=group.lead_facilitator)

    assert list(Enrolment.objects.filter(member=ended.member).order_by("pk")) == [ended, enrolment]


def test_refer_turns_a_concurrent_duplicate_into_a_domain_error(group, monkeypatch):
    existing = EnrolmentFactory(group=group, status=EnrolmentStatus.REFERRED)
    real_lookup = enrolment_services.open_enrolment_get
    calls = []

    def lookup_that_misses_the_first_time(**kwargs):
        # The other request commits between our check and our insert.
        calls.append(kwargs)
        return None if len(calls) == 1 else real_lookup(**kwargs)

    monkeypatch.setattr(enrolment_services, "open_enrolment_get", lookup_that_misses_the_first_time)

    with pytest.raises(EnrolmentError, match="already has an open enrolment") as refused:
        enrolment_refer(group=group, member=existing.member, by=group.lead_facilitator)

    assert (refused.value.conflict_id, Enrolment.objects.count()) == (existing.pk, 1)


def test_refer_refuses_the_lead_facilitator_as_a_member(group):
    member = MemberFactory(clinic=group.clinic, user=group.lead_facilitator)

    with pytest.raises(EnrolmentError, match="facilitator of this group cannot be enrolled"):
        enrolment_refer(group=group, member=member, by=group.lead_facilitator)


def test_refer_refuses_a_co_facilitator_as_a_member(group):
    co_facilitator = UserFactory()
    group.co_facilitators.add(co_facilitator)
    member = MemberFactory(clinic=group.clinic, user=co_facilitator)

    with pytest.raises(EnrolmentError, match="facilitator of this group cannot be enrolled"):
        enrolment_refer(group=group, member=member, by=group.lead_facilitator)


def test_refer_accepts_a_facilitator_of_another_group(group):
    other_group = GroupFactory(clinic=group.clinic)
    member = MemberFactory(clinic=group.clinic, user=other_group.lead_facilitator)

    enrolment = enrolment_refer(group=group, member=member, by=group.lead_facilitator)

    assert enrolment.status == EnrolmentStatus.REFERRED


# --------------------------------------------------------------------------- activation


@time_machine.travel(NOW, tick=False)
def test_activate_seats_a_suitable_member_from_the_clinic_local_date(group):
    enrolment = _screened(group)

    activated = enrolment_activate(enrolment=enrolment, by=group.lead_facilitator)

    activated.refresh_from_db()
    assert (activated.status, activated.joined_on, activated.left_on) == (
        EnrolmentStatus.ACTIVE,
        CLINIC_TODAY,
        None,
    )
    assert _actions(enrolment) == ["sessions.enrolment.activated"]


def test_activate_takes_the_given_date(group):
    enrolment = _screened(group)

    activated = enrolment_activate(
        enrolment=enrolment, by=group.lead_facilitator, today=dt.date(2026, 7, 1)
    )

    assert activated.joined_on == dt.date(2026, 7, 1)


def test_activate_accepts_suitable_with_support(group):
    enrolment = EnrolmentFactory(group=group, status=EnrolmentStatus.SCREENING)
    _screen(enrolment, ScreeningOutcome.SUITABLE_WITH_SUPPORT, support_plan="Check-in weekly.")

    activated = enrolment_activate(enrolment=enrolment, by=group.lead_facilitator)

    assert activated.status == EnrolmentStatus.ACTIVE


def test_activate_without_a_screening_is_refused(group):
    enrolment = EnrolmentFactory(group=group, status=EnrolmentStatus.REFERRED)

    with pytest.raises(ScreeningRequiredError, match="no screening yet"):
        enrolment_activate(enrolment=enrolment, by=group.lead_facilitator)

    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.REFERRED


def test_activate_after_a_not_suitable_screening_is_refused(group):
    enrolment = _screened(group, ScreeningOutcome.NOT_SUITABLE)

    with pytest.raises(
        ScreeningRequiredError,
        match="screened not suitable; a clinic admin may override with a reason",
    ):
        enrolment_activate(enrolment=enrolment, by=group.lead_facilitator)


def test_the_latest_screening_is_the_one_that_counts(group):
    enrolment = _screened(group, ScreeningOutcome.SUITABLE)
    _screen(enrolment, ScreeningOutcome.NOT_SUITABLE)

    with pytest.raises(ScreeningRequiredError, match="screened not suitable"):
        enrolment_activate(enrolment=enrolment, by=group.lead_facilitator)


def test_admin_override_with_a_reason_activates_and_is_recorded(group, admin):
    enrolment = _screened(group, ScreeningOutcome.NOT_SUITABLE)

    activated = enrolment_activate(
        enrolment=enrolment, by=admin, override_reason="  Reviewed with the referrer.  "
    )

    activated.refresh_from_db()
    assert (
        activated.status,
        activated.screening_override_reason,
        activated.screening_override_by,
    ) == (EnrolmentStatus.ACTIVE, "Reviewed with the referrer.", admin)
    assert _actions(enrolment) == [
        "sessions.enrolment.screening_overridden",
        "sessions.enrolment.activated",
    ]


def test_the_override_reason_stays_out_of_the_audit_log(group, admin):
    enrolment = _screened(group, ScreeningOutcome.NOT_SUITABLE)

    enrolment_activate(enrolment=enrolment, by=admin, override_reason="Private clinical reason")

    entry = AuditEntry.objects.get(action="sessions.enrolment.screening_overridden")
    assert entry.data == {"group_id": group.pk, "member_id": enrolment.member_id}


def test_admin_override_also_covers_a_member_not_yet_screened(group, admin):
    enrolment = EnrolmentFactory(group=group, status=EnrolmentStatus.REFERRED)

    activated = enrolment_activate(enrolment=enrolment, by=admin, override_reason="Known to us.")

    assert activated.status == EnrolmentStatus.ACTIVE


def test_admin_override_without_a_reason_is_refused(group, admin):
    enrolment = _screened(group, ScreeningOutcome.NOT_SUITABLE)

    with pytest.raises(ScreeningRequiredError, match="screened not suitable"):
        enrolment_activate(enrolment=enrolment, by=admin, override_reason="   ")


def test_facilitator_override_is_refused(group):
    enrolment = _screened(group, ScreeningOutcome.NOT_SUITABLE)

    with pytest.raises(ScreeningRequiredError, match="Only a clinic admin may override"):
        enrolment_activate(
            enrolment=enrolment, by=group.lead_facilitator, override_reason="I know them."
        )

    enrolment.refresh_from_db()
    assert (enrolment.status, enrolment.screening_override_reason) == (
        EnrolmentStatus.SCREENING,
        "",
    )


def test_admin_of_another_clinic_cannot_override(group, make_user):
    enrolment = _screened(group, ScreeningOutcome.NOT_SUITABLE)
    other_admin = make_user(clinic=ClinicFactory(), role=Role.ADMIN)

    with pytest.raises(ScreeningRequiredError, match="Only a clinic admin may override"):
        enrolment_activate(enrolment=enrolment, by=other_admin, override_reason="Reviewed.")


def test_a_recorded_override_keeps_counting(group, admin):
    enrolment = _screened(group, ScreeningOutcome.NOT_SUITABLE)
    enrolment.screening_override_reason = "Reviewed."
    enrolment.screening_override_by = admin
    enrolment.save()

    activated = enrolment_activate(enrolment=enrolment, by=group.lead_facilitator)

    assert activated.status == EnrolmentStatus.ACTIVE


def test_closed_group_after_forming_refuses_new_members(group):
    group.stage = Stage.STORMING
    group.save()
    enrolment = _screened(group)

    with pytest.raises(
        GroupClosedError, match=r"closed group: it takes new members only while forming"
    ):
        enrolment_activate(enrolment=enrolment, by=group.lead_facilitator)


def test_open_group_accepts_new_members_while_performing(group):
    group.stage = Stage.PERFORMING
    group.enrolment_policy = EnrolmentPolicy.OPEN
    group.save()
    enrolment = _screened(group)

    activated = enrolment_activate(enrolment=enrolment, by=group.lead_facilitator)

    assert activated.status == EnrolmentStatus.ACTIVE


def test_adjourned_open_group_refuses_new_members(group):
    group.stage = Stage.ADJOURNING
    group.enrolment_policy = EnrolmentPolicy.OPEN
    group.save()
    enrolment = _screened(group)

    with pytest.raises(GroupClosedError, match="An adjourned group cannot take new members"):
        enrolment_activate(enrolment=enrolment, by=group.lead_facilitator)


def test_archived_group_refuses_activation(group):
    group.status = GroupStatus.ARCHIVED
    group.save()
    enrolment = _screened(group)

    with pytest.raises(GroupClosedError, match="archived"):
        enrolment_activate(enrolment=enrolment, by=group.lead_facilitator)


def test_activating_a_member_who_became_facilitator_is_refused(group):
    enrolment = _screened(group)
    enrolment.member.user = UserFactory()
    enrolment.member.save()
    group.co_facilitators.add(enrolment.member.user)

    with pytest.raises(EnrolmentError, match="facilitator of this group cannot be enrolled"):
        enrolment_activate(enrolment=enrolment, by=group.lead_facilitator)


def test_activating_an_active_member_again_is_refused(group):
    enrolment = _screened(group)
    enrolment_activate(enrolment=enrolment, by=group.lead_facilitator)

    with pytest.raises(EnrolmentError, match="already active"):
        enrolment_activate(enrolment=enrolment, by=group.lead_facilitator)


def test_activating_an_ended_enrolment_is_refused(group):
    enrolment = _screened(group)
    enrolment.status = EnrolmentStatus.WITHDRAWN
    enrolment.save()

    with pytest.raises(EnrolmentError, match="This enrolment is withdrawn; refer the member again"):
        enrolment_activate(enrolment=enrolment, by=group.lead_facilitator)


def test_activating_into_a_full_group_waitlists_in_order(group):
    for _ in range(group.max_size):
        enrolment_activate(enrolment=_screened(group), by=group.lead_facilitator)
    late = [_screened(group) for _ in range(3)]

    results = [enrolment_activate(enrolment=e, by=group.lead_facilitator) for e in late]

    assert [(e.status, waitlist_position(enrolment=e)) for e in results] == [
        (EnrolmentStatus.WAITLISTED, 1),
        (EnrolmentStatus.WAITLISTED, 2),
        (EnrolmentStatus.WAITLISTED, 3),
    ]
    assert _actions(late[0]) == ["sessions.enrolment.waitlisted"]


@time_machine.travel(NOW, tick=False)
def test_waitlisting_stamps_the_time_and_sets_no_joining_date(group):
    for _ in range(group.max_size):
        enrolment_activate(enrolment=_screened(group), by=group.lead_facilitator)

    waiting = enrolment_activate(enrolment=_screened(group), by=group.lead_facilitator)

    waiting.refresh_from_db()
    assert (waiting.status, waiting.waitlisted_at, waiting.joined_on) == (
        EnrolmentStatus.WAITLISTED,
        NOW,
        None,
    )


def test_activating_a_waitlisted_member_while_still_full_keeps_their_place(group):
    for _ in range(group.max_size):
        enrolment_activate(enrolment=_screened(group), by=group.lead_facilitator)
    first = enrolment_activate(enrolment=_screened(group), by=group.lead_facilitator)
    enrolment_activate(enrolment=_screened(group), by=group.lead_facilitator)
    waitlisted_at = Enrolment.objects.get(pk=first.pk).waitlisted_at

    again = enrolment_activate(enrolment=first, by=group.lead_facilitator)

    again.refresh_from_db()
    assert (again.status, again.waitlisted_at, waitlist_position(enrolment=again)) == (
        EnrolmentStatus.WAITLISTED,
        waitlisted_at,
        1,
    )


# --------------------------------------------------------------------------- leaving


@pytest.fixture
def active(group):
    enrolment = _screened(group)
    return enrolment_activate(
        enrolment=enrolment, by=group.lead_facilitator, today=dt.date(2026, 5, 1)
    )


@time_machine.travel(NOW, tick=False)
def test_withdraw_ends_the_enrolment_from_the_clinic_local_date(active):
    withdrawn = enrolment_withdraw(enrolment=active, by=active.group.lead_facilitator)

    withdrawn.refresh_from_db()
    assert (withdrawn.status, withdrawn.joined_on, withdrawn.left_on) == (
        EnrolmentStatus.WITHDRAWN,
        dt.date(2026, 5, 1),
        CLINIC_TODAY,
    )


def test_a_member_who_left_is_not_expected_from_the_leaving_date_on(active):
    enrolment_withdraw(
        enrolment=active, by=active.group.lead_facilitator, today=dt.date(2026, 6, 1)
    )

    expected = Enrolment.objects.filter(pk=active.pk)
    assert (
        expected.active_on(dt.date(2026, 5, 31)).exists(),
        expected.active_on(dt.date(2026, 6, 1)).exists(),
    ) == (True, False)


def test_withdraw_writes_an_audit_entry_without_the_note(active):
    enrolment_withdraw(
        enrolment=active,
        by=active.group.lead_facilitator,
        today=dt.date(2026, 6, 1),
        note="Moved away.",
    )

    entry = AuditEntry.objects.get(action="sessions.enrolment.withdrawn")
    assert entry.data == {
        "group_id": active.group_id,
        "member_id": active.member_id,
        "left_on": "2026-06-01",
    }


def test_withdraw_of_a_referred_member_sets_no_leaving_date(group):
    enrolment = EnrolmentFactory(group=group, status=EnrolmentStatus.REFERRED)

    withdrawn = enrolment_withdraw(enrolment=enrolment, by=group.lead_facilitator)

    assert (withdrawn.status, withdrawn.left_on) == (EnrolmentStatus.WITHDRAWN, None)


@pytest.mark.parametrize("leave", [enrolment_withdraw, enrolment_complete, enrolment_discharge])
@time_machine.travel(NOW, tick=False)
def test_leaving_records_the_instant_of_leaving(active, leave):
    left = leave(enrolment=active, by=active.group.lead_facilitator)

    left.refresh_from_db()
    assert (left.left_on, left.left_at) == (CLINIC_TODAY, NOW)


@time_machine.travel(NOW, tick=False)
def test_withdraw_before_joining_records_the_instant_but_no_leaving_date(group):
    enrolment = EnrolmentFactory(group=group, status=EnrolmentStatus.WAITLISTED)

    withdrawn = enrolment_withdraw(enrolment=enrolment, by=group.lead_facilitator)

    withdrawn.refresh_from_db()
    assert (withdrawn.left_on, withdrawn.left_at) == (None, NOW)


@pytest.mark.parametrize(
    ("leave", "action"),
    [
        (enrolment_withdraw, "sessions.enrolment.withdrawn"),
        (enrolment_complete, "sessions.enrolment.completed"),
        (enrolment_discharge, "sessions.enrolment.discharged"),
    ],
)
def test_the_leave_note_is_kept_on_the_enrolment_and_out_of_the_audit_log(active, leave, action):
    leave(
        enrolment=active,
        by=active.group.lead_facilitator,
        today=dt.date(2026, 6, 1),
        note="  Panic attacks in the last two sessions; referred back to individual care.  ",
    )

    active.refresh_from_db()
    entry = AuditEntry.objects.get(action=action)
    assert (active.leave_note, entry.data) == (
        "Panic attacks in the last two sessions; referred back to individual care.",
        {"group_id": active.group_id, "member_id": active.member_id, "left_on": "2026-06-01"},
    )


def test_complete_ends_an_active_enrolment(active):
    completed = enrolment_complete(
        enrolment=active, by=active.group.lead_facilitator, today=dt.date(2026, 8, 1)
    )

    assert (completed.status, completed.left_on) == (EnrolmentStatus.COMPLETED, dt.date(2026, 8, 1))
    assert _actions(active)[-1] == "sessions.enrolment.completed"


def test_complete_of_a_member_who_never_joined_is_refused(group):
    enrolment = EnrolmentFactory(group=group, status=EnrolmentStatus.WAITLISTED)

    with pytest.raises(
        EnrolmentError, match="This enrolment is waitlisted; it cannot be marked completed"
    ):
        enrolment_complete(enrolment=enrolment, by=group.lead_facilitator)


def test_discharge_ends_an_active_enrolment(active):
    discharged = enrolment_discharge(
        enrolment=active, by=active.group.lead_facilitator, today=dt.date(2026, 6, 15)
    )

    assert (discharged.status, discharged.left_on) == (
        EnrolmentStatus.DISCHARGED,
        dt.date(2026, 6, 15),
    )
    assert _actions(active)[-1] == "sessions.enrolment.discharged"


def test_leaving_before_the_joining_date_is_refused(active):
    with pytest.raises(EnrolmentError, match="joined on 2026-05-01; they cannot leave before"):
        enrolment_withdraw(
            enrolment=active, by=active.group.lead_facilitator, today=dt.date(2026, 4, 30)
        )


def test_leaving_twice_is_refused(active):
    enrolment_withdraw(enrolment=active, by=active.group.lead_facilitator)

    with pytest.raises(
        EnrolmentError, match="This enrolment is withdrawn; it cannot be marked discharged"
    ):
        enrolment_discharge(enrolment=active, by=active.group.lead_facilitator)


def test_decline_closes_a_referral(group):
    enrolment = EnrolmentFactory(group=group, status=EnrolmentStatus.SCREENING)

    declined = enrolment_decline(enrolment=enrolment, by=group.lead_facilitator)

    assert (declined.status, declined.left_on, _actions(enrolment)) == (
        EnrolmentStatus.DECLINED,
        None,
        ["sessions.enrolment.declined"],
    )


def test_decline_records_no_leaving_instant(group):
    enrolment = EnrolmentFactory(group=group, status=EnrolmentStatus.REFERRED)

    declined = enrolment_decline(enrolment=enrolment, by=group.lead_facilitator)

    declined.refresh_from_db()
    assert (declined.left_at, declined.leave_note) == (None, "")


def test_decline_of_an_active_member_is_refused(active):
    with pytest.raises(
        EnrolmentError, match="This enrolment is active; it cannot be marked declined"
    ):
        enrolment_decline(enrolment=active, by=active.group.lead_facilitator)


# --------------------------------------------------------------------------- roster


@pytest.mark.parametrize("size", [1, 5])
def test_roster_takes_one_query_whatever_its_size(django_assert_num_queries, size):
    group = GroupFactory(max_size=10)
    EnrolmentFactory.create_batch(size, group=group, status=EnrolmentStatus.ACTIVE)

    with django_assert_num_queries(1):
        rows = [
            (e.member.preferred_name, e.group.name, e.group.clinic.timezone, e.status)
            for e in enrolment_list(group=group)
        ]

    assert len(rows) == size


def test_roster_lists_only_the_group_filtered_by_status(group):
    active = EnrolmentFactory(group=group, status=EnrolmentStatus.ACTIVE)
    EnrolmentFactory(group=group, status=EnrolmentStatus.WITHDRAWN)
    EnrolmentFactory(status=EnrolmentStatus.ACTIVE)

    roster = enrolment_list(group=group, statuses=(EnrolmentStatus.ACTIVE,))

    assert list(roster) == [active]
