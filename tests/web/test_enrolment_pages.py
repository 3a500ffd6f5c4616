"""The enrolment pages: adding a member to a group, an enrolment's page and its next steps,
the screening form. Who may see them, what they show, and that every button calls its
service (the rules themselves are tested in tests/sessions)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from members.models import AuditEntry, Member
from members.templatetags.viewer import local_datetime
from sessions.enums import (
    AcceptanceMethod,
    EnrolmentStatus,
    Finding,
    ScreeningOutcome,
    Stage,
    WaitlistOfferStatus,
)
from sessions.models import AgreementAcceptance, Enrolment, Screening, WaitlistOffer
from sessions.services.enrolment import enrolment_activate, screening_record
from sessions.services.waitlist import waitlist_offer_next
from tests.factories.members import MemberFactory
from tests.factories.sessions import EnrolmentFactory
from tests.web.pages import (
    assert_no_inline_code,
    assert_not_in,
    assert_strict_csp,
    redirects_to_login,
)

pytestmark = pytest.mark.django_db

MANAGERS = {"admin": 200, "facilitator": 200}
#: A manager of the group sees the page; the member (who sees their enrolment and the
#: group) is refused; everyone else cannot see it at all.
EXPECTED = {
    **MANAGERS,
    "other_facilitator": 404,
    "member": 403,
    "other_member": 404,
    "other_clinic_admin": 404,
    "anonymous": "login",
}
PERSONA_MATRIX = list(EXPECTED.items())


def _assert_status(response, expected):
    if expected == "login":
        assert redirects_to_login(response)
    else:
        assert response.status_code == expected


def _referred(world, **member_fields) -> Enrolment:
    fields = {"preferred_name": "Casey", "legal_name": "Casey Morgan", **member_fields}
    member = MemberFactory(clinic=world.clinic, **fields)
    return EnrolmentFactory(group=world.group, member=member, status=EnrolmentStatus.REFERRED)


def _screen(world, enrolment, outcome=ScreeningOutcome.SUITABLE, **kwargs) -> Screening:
    return screening_record(
        enrolment=enrolment,
        by=world.users["facilitator"],
        findings=dict.fromkeys(Screening.AREAS, (Finding.NO_CONCERN, "")),
        outcome=outcome,
        **kwargs,
    )


def _screening_post(**overrides) -> dict[str, str]:
    data = dict.fromkeys(Screening.AREAS, Finding.NO_CONCERN)
    data.update({f"{area}_note": "" for area in Screening.AREAS})
    data.update({"outcome": ScreeningOutcome.SUITABLE, "support_plan": ""})
    data.update(overrides)
    return data


def _seats(world, max_size: int) -> None:
    world.group.min_size = 1
    world.group.max_size = max_size
    world.group.save(update_fields=["min_size", "max_size"])


def _audit(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("pk"))


# --------------------------------------------------------------------------- who


@pytest.mark.parametrize(("persona", "expected"), PERSONA_MATRIX)
def test_add_page_is_for_the_groups_managers(client_as, world, persona, expected):
    response = client_as(persona).get(f"/groups/{world.group.pk}/enrol/")

    _assert_status(response, expected)


@pytest.mark.parametrize(("persona", "expected"), PERSONA_MATRIX)
def test_enrolment_page_is_for_the_groups_managers(client_as, world, persona, expected):
    response = client_as(persona).get(f"/enrolments/{world.enrolment.pk}/")

    _assert_status(response, expected)


@pytest.mark.parametrize(("persona", "expected"), PERSONA_MATRIX)
def test_screening_page_is_for_the_groups_managers(client_as, world, persona, expected):
    _screen(world, world.enrolment)

    response = client_as(persona).get(f"/enrolments/{world.enrolment.pk}/screening/")

    _assert_status(response, expected)
    if expected != 200:
        assert _audit("sessions.screening.viewed") == []


ACTIONS = [
    "activate",
    "waitlist",
    "offer/accept",
    "offer/decline",
    "offer/next",
    "agreement/paper",
    "complete",
    "withdraw",
    "discharge",
    "decline",
    "screening",
]


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize(
    ("persona", "expected"), [(p, e) for p, e in PERSONA_MATRIX if p not in MANAGERS]
)
def test_no_one_but_the_groups_managers_may_act_on_an_enrolment(
    client_as, world, action, persona, expected
):
    enrolment = world.enrolment

    response = client_as(persona).post(
        f"/enrolments/{enrolment.pk}/{action}/", {"note": "x", **_screening_post()}
    )

    _assert_status(response, expected)
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.ACTIVE
    assert not Screening.objects.exists()
    assert (
        not AgreementAcceptance.objects.filter(recorded_by__in=world.users.values())
        .exclude(method=AcceptanceMethod.ONLINE)
        .exists()
    )


@pytest.mark.parametrize("action", ["complete", "withdraw", "discharge", "decline"])
@pytest.mark.parametrize(("persona", "expected"), PERSONA_MATRIX)
def test_confirmation_pages_follow_the_same_rules(client_as, world, action, persona, expected):
    response = client_as(persona).get(f"/enrolments/{world.enrolment.pk}/{action}/")

    _assert_status(response, expected)


# --------------------------------------------------------------------------- add


@pytest.mark.parametrize("persona", list(MANAGERS))
def test_add_page_lists_only_the_records_the_viewer_may_manage(client_as, world, persona):
    MemberFactory(clinic=world.other_clinic, preferred_name="Hidden", legal_name="Hidden Hill")

    response = client_as(persona).get(f"/groups/{world.group.pk}/enrol/")

    body = response.content.decode()
    assert_strict_csp(response)
    assert_no_inline_code(body)
    assert "<h1>Add a member to Tuesday Group</h1>" in body
    assert "Alexandra Stone" in body
    assert_not_in(body, "Hidden Hill", "Hillside")
    if persona == "facilitator":
        # Bo is a member of another facilitator's group: not this facilitator's record.
        assert_not_in(body, "Bo Reyes", world.other_member_record.email)
    else:
        assert "Bo Reyes" in body


def test_add_page_audits_the_records_it_lists(client_as, world):
    client_as("facilitator").get(f"/groups/{world.group.pk}/enrol/")

    [entry] = _audit("members.member.listed")
    assert entry.data == {"member_ids": [world.member_record.pk]}
    assert entry.actor == world.users["facilitator"]


def test_add_page_searches_by_name(client_as, world):
    response = client_as("admin").get(f"/groups/{world.group.pk}/enrol/", {"q": "bo"})

    body = response.content.decode()
    assert "Bo Reyes" in body
    assert_not_in(body, "Alexandra Stone")


def test_add_page_search_answers_htmx_with_the_results_only(client_as, world):
    response = client_as("admin").get(
        f"/groups/{world.group.pk}/enrol/", {"q": "alex"}, HTTP_HX_REQUEST="true"
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="member-results">')
    assert "Alexandra Stone" in body
    assert "<html" not in body
    assert_not_in(body, "Bo Reyes")


@pytest.mark.parametrize("size", [1, 5])
def test_add_page_costs_the_same_queries_for_any_number_of_members(
    client_as, world, django_assert_num_queries, size
):
    client = client_as("admin")
    Member.objects.exclude(pk=world.member_record.pk).update(clinic=world.other_clinic)
    for _ in range(size - 1):
        MemberFactory(clinic=world.clinic)

    # of which the audit entry of the records shown takes 3 (chain head lock, insert, head update)
    with django_assert_num_queries(14):
        response = client.get(f"/groups/{world.group.pk}/enrol/")

    assert response.content.decode().count('<th scope="row">') == size


def test_referring_an_existing_member_creates_the_enrolment(client_as, world):
    casey = MemberFactory(clinic=world.clinic, preferred_name="Casey", legal_name="Casey Morgan")

    response = client_as("admin").post(
        f"/groups/{world.group.pk}/enrol/", {"intent": "existing", "member": casey.pk}
    )

    enrolment = Enrolment.objects.get(group=world.group, member=casey)
    assert enrolment.status == EnrolmentStatus.REFERRED
    assert response.status_code == 302
    assert response["Location"] == f"/enrolments/{enrolment.pk}/"


def test_referring_another_clinics_member_is_refused_next_to_the_choice(client_as, world):
    stranger = MemberFactory(clinic=world.other_clinic)

    response = client_as("admin").post(
        f"/groups/{world.group.pk}/enrol/", {"intent": "existing", "member": stranger.pk}
    )

    assert response.status_code == 200
    assert "Choose a member of this group&#x27;s clinic." in response.content.decode()
    assert not Enrolment.objects.filter(member=stranger).exists()


def test_referring_a_member_already_enrolled_shows_the_refusal_and_links_the_enrolment(
    client_as, world
):
    response = client_as("facilitator").post(
        f"/groups/{world.group.pk}/enrol/",
        {"intent": "existing", "member": world.member_record.pk},
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "This member already has an open enrolment in this group." in body
    assert f'<a href="/enrolments/{world.enrolment.pk}/">Open their current enrolment</a>' in body
    assert Enrolment.objects.filter(member=world.member_record).count() == 1


def test_adding_a_new_member_creates_the_record_and_refers_them(client_as, world):
    response = client_as("facilitator").post(
        f"/groups/{world.group.pk}/enrol/",
        {
            "intent": "new",
            "preferred_name": "Dee",
            "legal_name": "Deirdre Quinn",
            "email": "dee@example.org",
            "phone": "+44 20 7946 0000",
        },
    )

    member = Member.objects.get(legal_name="Deirdre Quinn")
    assert (member.clinic, member.preferred_name, member.email, member.phone) == (
        world.clinic,
        "Dee",
        "dee@example.org",
        "+44 20 7946 0000",
    )
    assert member.created_by == world.users["facilitator"]
    enrolment = Enrolment.objects.get(member=member)
    assert (enrolment.group, enrolment.status) == (world.group, EnrolmentStatus.REFERRED)
    assert response["Location"] == f"/enrolments/{enrolment.pk}/"


def test_a_new_member_with_bad_input_shows_errors_next_to_fields_and_stores_nothing(
    client_as, world
):
    count = Member.objects.count()

    response = client_as("admin").post(
        f"/groups/{world.group.pk}/enrol/",
        {"intent": "new", "preferred_name": "Dee", "legal_name": "", "email": "not-an-address"},
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert (
        '<ul class="errorlist" id="id_legal_name_error"><li>This field is required.</li></ul>'
        in body
    )
    assert (
        '<ul class="errorlist" id="id_email_error"><li>Enter a valid email address.</li></ul>'
        in body
    )
    assert Member.objects.count() == count


def test_a_refused_referral_of_a_new_member_leaves_no_record_behind(client_as, world):
    world.group.stage = Stage.ADJOURNING
    world.group.save(update_fields=["stage"])
    count = Member.objects.count()

    response = client_as("admin").post(
        f"/groups/{world.group.pk}/enrol/",
        {"intent": "new", "preferred_name": "Dee", "legal_name": "Deirdre Quinn"},
    )

    assert response.status_code == 200
    assert "An adjourned group cannot take new members." in response.content.decode()
    assert Member.objects.count() == count


# --------------------------------------------------------------------------- detail


@pytest.mark.parametrize("persona", list(MANAGERS))
def test_enrolment_page_shows_the_member_group_status_and_agreement(client_as, world, persona):
    response = client_as(persona).get(f"/enrolments/{world.enrolment.pk}/")

    body = response.content.decode()
    assert_strict_csp(response)
    assert_no_inline_code(body)
    assert "Alexandra Stone" in body
    assert f'<a href="mailto:{world.member_record.email}">' in body
    assert '<span class="badge ok">Active</span>' in body
    assert "Accepted version 1 on" in body
    assert "Not screened yet." in body
    assert_not_in(body, "Bo Reyes", world.other_member_record.email, "Thursday Group")


def test_enrolment_page_audits_the_member_record_it_shows(client_as, world):
    client_as("facilitator").get(f"/enrolments/{world.enrolment.pk}/")

    [entry] = _audit("members.member.viewed")
    assert (entry.actor, entry.object_id) == (
        world.users["facilitator"],
        str(world.member_record.pk),
    )


def test_enrolment_page_shows_the_latest_screening_outcome_only(client_as, world):
    enrolment = _referred(world)
    _screen(world, enrolment, ScreeningOutcome.NOT_SUITABLE)
    Screening.objects.filter(enrolment=enrolment).update(acute_illness_note="Private note")

    body = client_as("facilitator").get(f"/enrolments/{enrolment.pk}/").content.decode()

    assert '<span class="badge danger">Not suitable</span>' in body
    assert_not_in(body, "Private note")
    assert _audit("sessions.screening.viewed") == []


def test_a_not_suitable_screening_hides_the_seat_button_from_a_facilitator(client_as, world):
    enrolment = _referred(world)
    _screen(world, enrolment, ScreeningOutcome.NOT_SUITABLE)

    body = client_as("facilitator").get(f"/enrolments/{enrolment.pk}/").content.decode()

    assert "only a clinic admin may give them a seat, with a reason" in body
    assert f'action="/enrolments/{enrolment.pk}/activate/"' not in body


def test_a_not_suitable_screening_offers_a_clinic_admin_the_override(client_as, world):
    enrolment = _referred(world)
    _screen(world, enrolment, ScreeningOutcome.NOT_SUITABLE)

    body = client_as("admin").get(f"/enrolments/{enrolment.pk}/").content.decode()

    assert 'name="override_reason"' in body
    assert "Override and give a seat" in body


# --------------------------------------------------------------------------- seats


def test_activating_a_suitable_member_gives_them_a_seat(client_as, world):
    enrolment = _referred(world)
    _screen(world, enrolment)

    response = client_as("facilitator").post(f"/enrolments/{enrolment.pk}/activate/")

    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.ACTIVE
    assert response["Location"] == f"/enrolments/{enrolment.pk}/"


def test_activating_when_the_group_is_full_puts_the_member_in_line(client_as, world):
    _seats(world, 1)
    enrolment = _referred(world)
    _screen(world, enrolment)
    client = client_as("facilitator")

    client.post(f"/enrolments/{enrolment.pk}/activate/")
    body = client.get(f"/enrolments/{enrolment.pk}/").content.decode()

    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.WAITLISTED
    assert "The group is full: Casey is on the waitlist." in body
    assert "Place on the waitlist: <strong>1</strong>" in body


def test_activating_without_a_screening_shows_the_refusal(client_as, world):
    enrolment = _referred(world)

    response = client_as("facilitator").post(f"/enrolments/{enrolment.pk}/activate/")

    assert response.status_code == 200
    assert (
        "This member has no screening yet; record a screening before they join."
        in response.content.decode()
    )
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.REFERRED


def test_a_clinic_admin_overrides_a_not_suitable_screening_with_a_reason(client_as, world):
    enrolment = _referred(world)
    _screen(world, enrolment, ScreeningOutcome.NOT_SUITABLE)

    client_as("admin").post(
        f"/enrolments/{enrolment.pk}/activate/", {"override_reason": "Agreed at team review."}
    )

    enrolment.refresh_from_db()
    assert (enrolment.status, enrolment.screening_override_reason) == (
        EnrolmentStatus.ACTIVE,
        "Agreed at team review.",
    )
    assert enrolment.screening_override_by == world.users["admin"]


def test_a_facilitators_override_is_refused_next_to_the_reason(client_as, world):
    enrolment = _referred(world)
    _screen(world, enrolment, ScreeningOutcome.NOT_SUITABLE)

    response = client_as("facilitator").post(
        f"/enrolments/{enrolment.pk}/activate/", {"override_reason": "I think it is fine."}
    )

    assert response.status_code == 200
    assert "Only a clinic admin may override the screening." in response.content.decode()
    enrolment.refresh_from_db()
    assert (enrolment.status, enrolment.screening_override_reason) == (
        EnrolmentStatus.SCREENING,
        "",
    )


def test_putting_a_screened_member_on_the_waitlist(client_as, world):
    enrolment = _referred(world)
    _screen(world, enrolment)

    client_as("facilitator").post(f"/enrolments/{enrolment.pk}/waitlist/")

    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.WAITLISTED


def _waitlisted_with_offer(world) -> tuple[Enrolment, WaitlistOffer]:
    _seats(world, 1)
    enrolment = _referred(world, email="casey@example.org")
    _screen(world, enrolment)
    enrolment_activate(enrolment=enrolment, by=world.users["facilitator"])
    _seats(world, 2)
    offer = waitlist_offer_next(group=world.group)
    assert offer is not None
    return enrolment, offer


def test_enrolment_page_shows_a_pending_offer_with_its_answers(client_as, world):
    enrolment, offer = _waitlisted_with_offer(world)

    body = client_as("facilitator").get(f"/enrolments/{enrolment.pk}/").content.decode()

    with timezone.override("Europe/London"):
        expires = local_datetime(offer.expires_at, "Europe/London")
    assert "<h3>A seat is offered</h3>" in body
    assert expires in body
    assert f'action="/enrolments/{enrolment.pk}/offer/accept/"' in body
    assert f'href="/enrolments/{enrolment.pk}/offer/decline/"' in body


def test_accepting_an_offer_on_the_members_behalf_gives_them_the_seat(client_as, world):
    enrolment, offer = _waitlisted_with_offer(world)

    client_as("facilitator").post(f"/enrolments/{enrolment.pk}/offer/accept/")

    enrolment.refresh_from_db()
    offer.refresh_from_db()
    assert (enrolment.status, offer.status) == (
        EnrolmentStatus.ACTIVE,
        WaitlistOfferStatus.ACCEPTED,
    )


def test_declining_an_offer_asks_first_then_keeps_the_member_in_line(client_as, world):
    enrolment, offer = _waitlisted_with_offer(world)
    client = client_as("facilitator")

    page = client.get(f"/enrolments/{enrolment.pk}/offer/decline/").content.decode()
    client.post(f"/enrolments/{enrolment.pk}/offer/decline/")

    assert "<h1>Decline the seat offered to Casey</h1>" in page
    assert "The seat is offered to the next member in line" in page
    enrolment.refresh_from_db()
    offer.refresh_from_db()
    assert (enrolment.status, offer.status) == (
        EnrolmentStatus.WAITLISTED,
        WaitlistOfferStatus.DECLINED,
    )


def test_an_expired_offer_cannot_be_accepted_and_says_so(client_as, world, time_machine):
    enrolment, offer = _waitlisted_with_offer(world)
    time_machine.move_to(offer.expires_at + dt.timedelta(minutes=1))

    response = client_as("facilitator").post(f"/enrolments/{enrolment.pk}/offer/accept/")

    assert response.status_code == 200
    assert "This offer expired on" in response.content.decode()
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.WAITLISTED


def test_offering_a_free_seat_to_the_next_in_line(client_as, world):
    _seats(world, 1)
    enrolment = _referred(world)
    _screen(world, enrolment)
    enrolment_activate(enrolment=enrolment, by=world.users["facilitator"])
    _seats(world, 2)
    client = client_as("facilitator")

    body = client.get(f"/enrolments/{enrolment.pk}/").content.decode()
    client.post(f"/enrolments/{enrolment.pk}/offer/next/")

    assert "Offer the free seat to the next in line" in body
    assert WaitlistOffer.objects.get(enrolment=enrolment).status == WaitlistOfferStatus.PENDING
    entry = AuditEntry.objects.get(action="sessions.waitlist.offered")
    assert (entry.actor, entry.data["member_id"]) == (
        world.users["facilitator"],
        enrolment.member_id,
    )


def test_offering_when_no_seat_is_free_says_so(client_as, world):
    _seats(world, 1)
    enrolment = _referred(world)
    _screen(world, enrolment)
    enrolment_activate(enrolment=enrolment, by=world.users["facilitator"])

    response = client_as("facilitator").post(f"/enrolments/{enrolment.pk}/offer/next/")

    assert response.status_code == 200
    assert "No seat was offered" in response.content.decode()
    assert not WaitlistOffer.objects.exists()


# --------------------------------------------------------------------------- agreement


def test_recording_a_paper_signature_of_the_current_agreement(client_as, world):
    enrolment = _referred(world)

    client_as("facilitator").post(f"/enrolments/{enrolment.pk}/agreement/paper/")

    acceptance = AgreementAcceptance.objects.get(member=enrolment.member)
    assert (acceptance.agreement, acceptance.method, acceptance.recorded_by) == (
        world.agreement,
        AcceptanceMethod.PAPER,
        world.users["facilitator"],
    )


def test_a_paper_signature_for_a_closed_enrolment_is_refused(client_as, world):
    enrolment = _referred(world)
    enrolment.status = EnrolmentStatus.DECLINED
    enrolment.save(update_fields=["status"])

    response = client_as("facilitator").post(f"/enrolments/{enrolment.pk}/agreement/paper/")

    assert response.status_code == 200
    assert "This member has no open enrolment in this group." in response.content.decode()
    assert not AgreementAcceptance.objects.filter(member=enrolment.member).exists()


# --------------------------------------------------------------------------- leaving


def test_withdrawing_asks_first_saying_who_is_told(client_as, world):
    response = client_as("facilitator").get(f"/enrolments/{world.enrolment.pk}/withdraw/")

    body = response.content.decode()
    assert_no_inline_code(body)
    assert "<h1>Withdraw Alex from Tuesday Group</h1>" in body
    assert "Alex is not sent a message about this; tell them yourself." in body
    assert "who is told by e-mail" in body


def test_withdrawing_closes_the_enrolment_with_its_note(client_as, world):
    response = client_as("facilitator").post(
        f"/enrolments/{world.enrolment.pk}/withdraw/", {"note": "Moved away."}
    )

    world.enrolment.refresh_from_db()
    assert (world.enrolment.status, world.enrolment.leave_note) == (
        EnrolmentStatus.WITHDRAWN,
        "Moved away.",
    )
    assert response["Location"] == f"/enrolments/{world.enrolment.pk}/"


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("complete", EnrolmentStatus.COMPLETED),
        ("discharge", EnrolmentStatus.DISCHARGED),
    ],
)
def test_completing_and_discharging_an_active_member(client_as, world, action, status):
    client_as("admin").post(f"/enrolments/{world.enrolment.pk}/{action}/")

    world.enrolment.refresh_from_db()
    assert world.enrolment.status == status


def test_declining_a_referral(client_as, world):
    enrolment = _referred(world)

    client_as("facilitator").post(f"/enrolments/{enrolment.pk}/decline/")

    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.DECLINED


def test_a_refused_ending_is_shown_on_the_confirmation_page(client_as, world):
    enrolment = _referred(world)

    response = client_as("facilitator").post(f"/enrolments/{enrolment.pk}/complete/")

    assert response.status_code == 200
    assert "This enrolment is referred; it cannot be marked completed." in response.content.decode()
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.REFERRED


def test_a_closed_enrolment_offers_no_next_steps(client_as, world):
    enrolment = _referred(world)
    enrolment.status = EnrolmentStatus.DECLINED
    enrolment.save(update_fields=["status"])

    body = client_as("facilitator").get(f"/enrolments/{enrolment.pk}/").content.decode()

    assert '<span class="badge">Declined</span>' in body
    assert "End this enrolment" not in body
    assert "/activate/" not in body


# --------------------------------------------------------------------------- screening


@pytest.mark.parametrize("persona", list(MANAGERS))
def test_screening_page_shows_the_latest_findings_and_audits_the_reading(client_as, world, persona):
    enrolment = _referred(world)
    screening = _screen(
        world, enrolment, ScreeningOutcome.SUITABLE_WITH_SUPPORT, support_plan="Weekly check-in."
    )
    Screening.objects.filter(pk=screening.pk).update(
        anxiety_or_trauma=Finding.MANAGEABLE, anxiety_or_trauma_note="Crowds are hard."
    )

    response = client_as(persona).get(f"/enrolments/{enrolment.pk}/screening/")

    body = response.content.decode()
    assert_strict_csp(response)
    assert_no_inline_code(body)
    assert '<span class="badge warn">Suitable with support plan</span>' in body
    assert "Crowds are hard." in body
    assert "Weekly check-in." in body
    assert_not_in(body, "Bo Reyes", "Alexandra Stone")
    [entry] = _audit("sessions.screening.viewed")
    assert (entry.actor, entry.object_id, entry.data) == (
        world.users[persona],
        str(screening.pk),
        {"enrolment_id": enrolment.pk, "member_ids": [enrolment.member_id]},
    )


def test_screening_page_without_a_screening_audits_the_enrolment_it_shows(client_as, world):
    enrolment = _referred(world)

    body = client_as("facilitator").get(f"/enrolments/{enrolment.pk}/screening/").content.decode()

    assert "<legend>Severe or acute mental illness needing more intensive care</legend>" in body
    assert "<legend>Outcome</legend>" in body
    assert _audit("sessions.screening.viewed") == []
    [entry] = _audit("sessions.enrolment.viewed")
    assert entry.data == {"member_ids": [enrolment.member_id]}


def test_recording_a_screening_stores_all_four_areas_and_the_outcome(client_as, world):
    enrolment = _referred(world)
    data = _screening_post(
        disruptive_behaviour=Finding.SIGNIFICANT,
        disruptive_behaviour_note="Shouted at staff last month.",
        outcome=ScreeningOutcome.NOT_SUITABLE,
    )

    response = client_as("facilitator").post(f"/enrolments/{enrolment.pk}/screening/", data)

    screening = Screening.objects.get(enrolment=enrolment)
    assert {area: getattr(screening, area) for area in Screening.AREAS} == {
        "acute_illness": Finding.NO_CONCERN,
        "anxiety_or_trauma": Finding.NO_CONCERN,
        "disruptive_behaviour": Finding.SIGNIFICANT,
        "individual_needs": Finding.NO_CONCERN,
    }
    assert screening.disruptive_behaviour_note == "Shouted at staff last month."
    assert (screening.outcome, screening.screened_by) == (
        ScreeningOutcome.NOT_SUITABLE,
        world.users["facilitator"],
    )
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.SCREENING
    assert response["Location"] == f"/enrolments/{enrolment.pk}/"


def test_a_screening_without_a_finding_shows_the_error_in_that_area(client_as, world):
    enrolment = _referred(world)
    data = _screening_post()
    del data["individual_needs"]

    response = client_as("facilitator").post(f"/enrolments/{enrolment.pk}/screening/", data)

    body = response.content.decode()
    assert response.status_code == 200
    assert (
        '<ul class="errorlist" id="id_individual_needs_error">'
        "<li>Choose a finding for this area.</li></ul>" in body
    )
    assert not Screening.objects.filter(enrolment=enrolment).exists()


def test_suitable_with_support_needs_a_support_plan_next_to_that_field(client_as, world):
    enrolment = _referred(world)

    response = client_as("facilitator").post(
        f"/enrolments/{enrolment.pk}/screening/",
        _screening_post(outcome=ScreeningOutcome.SUITABLE_WITH_SUPPORT, support_plan="  "),
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert (
        '<ul class="errorlist" id="id_support_plan_error"><li>Describe the support plan for a '
        "member found suitable with support.</li></ul>" in body
    )
    assert not Screening.objects.filter(enrolment=enrolment).exists()


def test_screening_a_closed_enrolment_is_refused(client_as, world):
    enrolment = _referred(world)
    enrolment.status = EnrolmentStatus.WITHDRAWN
    enrolment.save(update_fields=["status"])
    client = client_as("facilitator")

    page = client.get(f"/enrolments/{enrolment.pk}/screening/").content.decode()
    response = client.post(f"/enrolments/{enrolment.pk}/screening/", _screening_post())

    assert "it can no longer be screened" in page
    assert "<legend>Outcome</legend>" not in page
    assert response.status_code == 200
    assert "This enrolment is withdrawn; it can no longer be screened." in response.content.decode()
    assert not Screening.objects.filter(enrolment=enrolment).exists()
