import datetime as dt

import pytest

from members.enums import Role
from members.models import AuditEntry
from sessions.enums import AcceptanceMethod, EnrolmentStatus, GroupStatus
from sessions.errors import AgreementError
from sessions.models import Agreement, AgreementAcceptance
from sessions.selectors.enrolment import agreement_current, agreement_is_accepted
from sessions.services.agreements import agreement_accept, agreement_publish
from tests.factories.members import MemberFactory, UserFactory
from tests.factories.sessions import EnrolmentFactory, GroupFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 18, 0, tzinfo=dt.UTC)
TEXT = "What is said in the group stays in the group. We listen without interrupting."


@pytest.fixture
def group():
    return GroupFactory()


@pytest.fixture
def member(group):
    member = MemberFactory(clinic=group.clinic, user=UserFactory())
    EnrolmentFactory(group=group, member=member, status=EnrolmentStatus.ACTIVE)
    return member


@pytest.fixture
def agreement(group):
    return agreement_publish(group=group, text=TEXT, by=group.lead_facilitator)


# --------------------------------------------------------------------------- publishing


def test_the_first_agreement_is_version_one(group):
    agreement = agreement_publish(group=group, text=f"  {TEXT}  ", by=group.lead_facilitator)

    assert (agreement.group, agreement.version, agreement.text, agreement.created_by) == (
        group,
        1,
        TEXT,
        group.lead_facilitator,
    )


def test_each_publication_is_the_next_version(group, agreement):
    second = agreement_publish(group=group, text="Version two.", by=group.lead_facilitator)

    assert (
        list(Agreement.objects.filter(group=group).values_list("version", flat=True)),
        agreement_current(group=group),
    ) == ([2, 1], second)


def test_versions_are_counted_per_group(group, agreement):
    other = agreement_publish(group=GroupFactory(), text=TEXT, by=group.lead_facilitator)

    assert other.version == 1


def test_publishing_is_audited_with_the_version(group, agreement):
    entry = AuditEntry.objects.get(action="sessions.agreement.published")

    assert (entry.object_id, entry.actor, entry.clinic, entry.data) == (
        str(agreement.pk),
        group.lead_facilitator,
        group.clinic,
        {"group_id": group.pk, "version": 1},
    )


def test_an_empty_agreement_is_refused(group):
    with pytest.raises(AgreementError, match="An agreement needs its text"):
        agreement_publish(group=group, text="   ", by=group.lead_facilitator)


def test_an_archived_group_cannot_publish(group):
    group.status = GroupStatus.ARCHIVED
    group.save()

    with pytest.raises(AgreementError, match="archived; its agreement can no longer change"):
        agreement_publish(group=group, text=TEXT, by=group.lead_facilitator)


# --------------------------------------------------------------------------- accepting


def test_a_member_accepts_online_themselves(agreement, member):
    acceptance = agreement_accept(agreement=agreement, member=member, by=member.user, now=NOW)

    assert (
        acceptance.agreement,
        acceptance.member,
        acceptance.method,
        acceptance.recorded_by,
        acceptance.accepted_at,
    ) == (agreement, member, AcceptanceMethod.ONLINE, member.user, NOW)


def test_acceptance_is_audited_with_version_and_method(agreement, member):
    acceptance = agreement_accept(agreement=agreement, member=member, by=member.user)

    entry = AuditEntry.objects.get(action="sessions.agreement.accepted")
    assert (entry.object_id, entry.actor, entry.data) == (
        str(acceptance.pk),
        member.user,
        {
            "group_id": agreement.group_id,
            "member_id": member.pk,
            "version": 1,
            "method": "online",
        },
    )


def test_staff_cannot_accept_online_for_a_member(group, agreement, member):
    with pytest.raises(AgreementError, match="online acceptance must be made by the member"):
        agreement_accept(agreement=agreement, member=member, by=group.lead_facilitator)


def test_a_member_without_a_login_cannot_accept_online(group, agreement):
    member = MemberFactory(clinic=group.clinic)
    EnrolmentFactory(group=group, member=member, status=EnrolmentStatus.ACTIVE)

    with pytest.raises(AgreementError, match="online acceptance must be made by the member"):
        agreement_accept(agreement=agreement, member=member, by=UserFactory())


def test_the_facilitator_records_a_paper_signature(group, agreement, member):
    acceptance = agreement_accept(
        agreement=agreement, member=member, by=group.lead_facilitator, method="paper"
    )

    assert (acceptance.method, acceptance.recorded_by) == (
        AcceptanceMethod.PAPER,
        group.lead_facilitator,
    )


def test_a_clinic_admin_records_a_paper_signature(group, agreement, member, make_user):
    admin = make_user(clinic=group.clinic, role=Role.ADMIN)

    acceptance = agreement_accept(agreement=agreement, member=member, by=admin, method="paper")

    assert acceptance.recorded_by == admin


def test_a_member_cannot_record_a_paper_signature(agreement, member):
    with pytest.raises(AgreementError, match="paper signature must be recorded by the group's"):
        agreement_accept(agreement=agreement, member=member, by=member.user, method="paper")


def test_a_facilitator_of_another_group_cannot_record_a_paper_signature(group, agreement, member):
    outsider = GroupFactory(clinic=group.clinic).lead_facilitator

    with pytest.raises(AgreementError, match="paper signature must be recorded by the group's"):
        agreement_accept(agreement=agreement, member=member, by=outsider, method="paper")


def test_an_unknown_method_is_refused(agreement, member):
    with pytest.raises(AgreementError, match="'fax' is not a way to accept"):
        agreement_accept(agreement=agreement, member=member, by=member.user, method="fax")


def test_only_the_current_version_can_be_accepted(group, agreement, member):
    agreement_publish(group=group, text="Version two.", by=group.lead_facilitator)

    with pytest.raises(AgreementError, match=r"Only the current version \(v2\).*not v1"):
        agreement_accept(agreement=agreement, member=member, by=member.user)


def test_a_member_without_an_open_enrolment_cannot_accept(group, agreement):
    member = MemberFactory(clinic=group.clinic, user=UserFactory())
    EnrolmentFactory(group=group, member=member, status=EnrolmentStatus.WITHDRAWN)

    with pytest.raises(AgreementError, match="no open enrolment in this group"):
        agreement_accept(agreement=agreement, member=member, by=member.user)


def test_a_member_of_another_group_cannot_accept(group, agreement):
    member = MemberFactory(clinic=group.clinic, user=UserFactory())
    EnrolmentFactory(group=GroupFactory(clinic=group.clinic), member=member)

    with pytest.raises(AgreementError, match="no open enrolment in this group"):
        agreement_accept(agreement=agreement, member=member, by=member.user)


def test_accepting_twice_returns_the_first_acceptance(group, agreement, member):
    first = agreement_accept(agreement=agreement, member=member, by=member.user, now=NOW)

    again = agreement_accept(
        agreement=agreement, member=member, by=group.lead_facilitator, method="paper"
    )

    assert (again, AgreementAcceptance.objects.count()) == (first, 1)
    assert AuditEntry.objects.filter(action="sessions.agreement.accepted").count() == 1


def test_a_waitlisted_member_may_accept_ahead_of_joining(group, agreement):
    member = MemberFactory(clinic=group.clinic, user=UserFactory())
    EnrolmentFactory(group=group, member=member, status=EnrolmentStatus.WAITLISTED)

    acceptance = agreement_accept(agreement=agreement, member=member, by=member.user)

    assert acceptance.member == member


# --------------------------------------------------------------------------- is accepted


def test_nothing_is_accepted_before_an_agreement_is_published(group, member):
    assert agreement_is_accepted(group=group, member=member) is False


def test_a_member_who_accepted_the_current_version_has_accepted(group, agreement, member):
    agreement_accept(agreement=agreement, member=member, by=member.user)

    assert agreement_is_accepted(group=group, member=member) is True


def test_a_new_version_needs_a_new_acceptance(group, agreement, member):
    agreement_accept(agreement=agreement, member=member, by=member.user)

    second = agreement_publish(group=group, text="Version two.", by=group.lead_facilitator)
    before = agreement_is_accepted(group=group, member=member)
    agreement_accept(agreement=second, member=member, by=member.user)
    after = agreement_is_accepted(group=group, member=member)

    assert (before, after) == (False, True)


def test_acceptance_in_one_group_says_nothing_about_another(group, agreement, member):
    other = GroupFactory(clinic=group.clinic)
    agreement_publish(group=other, text=TEXT, by=other.lead_facilitator)
    agreement_accept(agreement=agreement, member=member, by=member.user)

    assert agreement_is_accepted(group=other, member=member) is False
