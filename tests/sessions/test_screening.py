import datetime as dt

import pytest

from members.models import AuditEntry
from sessions.enums import EnrolmentStatus, Finding, ScreeningOutcome
from sessions.errors import EnrolmentError
from sessions.models import Screening
from sessions.selectors.enrolment import screening_latest
from sessions.services.enrolment import screening_record
from tests.factories.sessions import EnrolmentFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)

FINDINGS = {
    "acute_illness": (Finding.NO_CONCERN, "Stable for a year."),
    "anxiety_or_trauma": (Finding.MANAGEABLE, "Anxious in new groups."),
    "disruptive_behaviour": (Finding.NO_CONCERN, ""),
    "individual_needs": (Finding.NO_CONCERN, "  Also sees a therapist.  "),
}


@pytest.fixture
def enrolment():
    return EnrolmentFactory(status=EnrolmentStatus.REFERRED)


def _record(enrolment, **overrides):
    fields = {
        "enrolment": enrolment,
        "by": enrolment.group.lead_facilitator,
        "findings": FINDINGS,
        "outcome": ScreeningOutcome.SUITABLE,
        "now": NOW,
    }
    fields.update(overrides)
    return screening_record(**fields)


def test_screening_records_the_four_areas_with_findings_and_notes(enrolment):
    screening = _record(enrolment)

    assert Screening.objects.filter(pk=screening.pk).values(
        "acute_illness",
        "acute_illness_note",
        "anxiety_or_trauma",
        "anxiety_or_trauma_note",
        "disruptive_behaviour",
        "disruptive_behaviour_note",
        "individual_needs",
        "individual_needs_note",
        "outcome",
        "support_plan",
        "screened_by",
        "screened_at",
    ).get() == {
        "acute_illness": Finding.NO_CONCERN,
        "acute_illness_note": "Stable for a year.",
        "anxiety_or_trauma": Finding.MANAGEABLE,
        "anxiety_or_trauma_note": "Anxious in new groups.",
        "disruptive_behaviour": Finding.NO_CONCERN,
        "disruptive_behaviour_note": "",
        "individual_needs": Finding.NO_CONCERN,
        "individual_needs_note": "Also sees a therapist.",
        "outcome": ScreeningOutcome.SUITABLE,
        "support_plan": "",
        "screened_by": enrolment.group.lead_facilitator.pk,
        "screened_at": NOW,
    }


def test_screening_moves_a_referred_enrolment_to_screening(enrolment):
    _record(enrolment)

    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.SCREENING


def test_a_not_suitable_outcome_does_not_close_the_enrolment(enrolment):
    _record(enrolment, outcome=ScreeningOutcome.NOT_SUITABLE)

    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.SCREENING


def test_rescreening_a_waitlisted_member_keeps_them_waitlisted():
    enrolment = EnrolmentFactory(status=EnrolmentStatus.WAITLISTED)

    _record(enrolment, outcome=ScreeningOutcome.NOT_SUITABLE)

    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.WAITLISTED


def test_suitable_with_support_needs_a_support_plan(enrolment):
    with pytest.raises(EnrolmentError, match="Describe the support plan"):
        _record(enrolment, outcome=ScreeningOutcome.SUITABLE_WITH_SUPPORT, support_plan="  ")

    assert Screening.objects.count() == 0


def test_suitable_with_support_keeps_the_plan(enrolment):
    screening = _record(
        enrolment,
        outcome=ScreeningOutcome.SUITABLE_WITH_SUPPORT,
        support_plan="Weekly check-in with the lead facilitator.",
    )

    assert (screening.outcome, screening.support_plan) == (
        ScreeningOutcome.SUITABLE_WITH_SUPPORT,
        "Weekly check-in with the lead facilitator.",
    )


def test_a_screening_missing_an_area_is_refused(enrolment):
    findings = {k: v for k, v in FINDINGS.items() if k != "disruptive_behaviour"}

    with pytest.raises(EnrolmentError, match="all four areas; missing: disruptive_behaviour"):
        _record(enrolment, findings=findings)


def test_an_unknown_area_is_refused(enrolment):
    findings = {**FINDINGS, "mood": (Finding.NO_CONCERN, "")}

    with pytest.raises(EnrolmentError, match="Unknown screening area: mood"):
        _record(enrolment, findings=findings)


def test_an_unknown_finding_is_refused(enrolment):
    findings = {**FINDINGS, "acute_illness": ("maybe", "")}

    with pytest.raises(EnrolmentError, match="'maybe' is not a finding for acute_illness"):
        _record(enrolment, findings=findings)


def test_an_unknown_outcome_is_refused(enrolment):
    with pytest.raises(EnrolmentError, match="'fine' is not a screening outcome"):
        _record(enrolment, outcome="fine")


def test_an_ended_enrolment_cannot_be_screened():
    enrolment = EnrolmentFactory(status=EnrolmentStatus.DECLINED)

    with pytest.raises(EnrolmentError, match="This enrolment is declined; it can no longer"):
        _record(enrolment)


def test_the_audit_entry_holds_the_outcome_but_no_clinical_notes(enrolment):
    screening = _record(enrolment, outcome=ScreeningOutcome.NOT_SUITABLE)

    entry = AuditEntry.objects.get(action="sessions.screening.recorded")
    assert (entry.object_id, entry.actor, entry.clinic, entry.data) == (
        str(screening.pk),
        enrolment.group.lead_facilitator,
        enrolment.group.clinic,
        {"enrolment_id": enrolment.pk, "outcome": ScreeningOutcome.NOT_SUITABLE},
    )


def test_the_latest_screening_is_the_most_recent(enrolment):
    _record(enrolment, now=NOW)
    later = _record(enrolment, outcome=ScreeningOutcome.NOT_SUITABLE, now=NOW + dt.timedelta(1))

    assert screening_latest(enrolment=enrolment) == later
