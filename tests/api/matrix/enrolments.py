"""Member records and enrolments: referral, screening, seats, the waitlist, leaving."""

import datetime as dt

from django.conf import settings
from django.utils import timezone

from members.models import Member
from sessions.enums import EnrolmentStatus, ScreeningOutcome
from sessions.models import Enrolment, Screening
from tests.api.matrix import (
    CREATED,
    FORBIDDEN,
    NOT_FOUND,
    OK,
    Case,
    expect,
    group_managers,
    group_viewers,
    staff_anywhere,
)

AREAS = {area: {"finding": "no_concern", "note": ""} for area in Screening.AREAS}


def _screened(w):
    """``member``'s enrolment put back to screening (not yet joined), screened suitable: the
    member sees it, so their refusal is a 403."""
    Enrolment.objects.filter(pk=w.enrolment.pk).update(
        status=EnrolmentStatus.SCREENING, joined_on=None
    )
    Screening.objects.create(
        enrolment=w.enrolment,
        outcome=ScreeningOutcome.SUITABLE,
        screened_by=w.users["facilitator"],
        **dict.fromkeys(Screening.AREAS, "no_concern"),
    )
    return w.enrolment


def _enrolment_url(w):
    return f"/api/v1/enrolments/{w.enrolment.pk}/"


def _screening_url(w):
    Screening.objects.create(
        enrolment=w.enrolment,
        outcome=ScreeningOutcome.SUITABLE,
        screened_by=w.users["facilitator"],
        **dict.fromkeys(Screening.AREAS, "no_concern"),
    )
    return f"/api/v1/enrolments/{w.enrolment.pk}/screening/"


def _referral_body(w):
    # Created by the group's facilitator, so both they and the admin may refer this client.
    member = Member.objects.create(
        clinic=w.clinic,
        preferred_name="Dee",
        legal_name="Dee Park",
        created_by=w.users["facilitator"],
    )
    return {"group": w.group.pk, "member": member.pk}


def _anonymisable_url(w):
    """``member``'s record, its only enrolment completed longer ago than the retention
    period: an admin may anonymise it."""
    ended = timezone.now() - dt.timedelta(days=settings.GROUPCARE_RETENTION_DAYS + 1)
    Enrolment.objects.filter(pk=w.enrolment.pk).update(
        status=EnrolmentStatus.COMPLETED, left_at=ended, left_on=ended.date(), joined_on=None
    )
    return f"/api/v1/members/{w.member_record.pk}/anonymise/"


CASES = [
    # --- members -----------------------------------------------------------------------
    Case("api-member-list", "get", lambda w: "/api/v1/members/", staff_anywhere()),
    Case(
        "api-member-list",
        "post",
        lambda w: "/api/v1/members/",
        staff_anywhere(CREATED),
        body=lambda w: {"preferred_name": "Eli", "legal_name": "Eli Grant"},
    ),
    Case(
        "api-member-detail",
        "get",
        lambda w: f"/api/v1/members/{w.member_record.pk}/",
        group_viewers(),
    ),
    Case(
        "api-member-detail",
        "patch",
        lambda w: f"/api/v1/members/{w.member_record.pk}/",
        group_managers(OK),
        body=lambda w: {"phone": "+44 20 7946 0000"},
    ),
    Case(
        "api-member-anonymise",
        "post",
        _anonymisable_url,
        # Clinic admins only: who else sees the record is refused (403), the rest 404.
        expect(
            admin=OK,
            facilitator=FORBIDDEN,
            other_facilitator=NOT_FOUND,
            member=FORBIDDEN,
            other_member=NOT_FOUND,
            other_clinic_admin=NOT_FOUND,
        ),
    ),
    # --- enrolments --------------------------------------------------------------------
    Case(
        "api-enrolment-list",
        "get",
        lambda w: "/api/v1/enrolments/",
        expect(
            admin=OK,
            facilitator=OK,
            other_facilitator=OK,
            member=OK,
            other_member=OK,
            other_clinic_admin=OK,
        ),
    ),
    # Staff who cannot see the group get "does not exist" on the field (400), not a 404.
    Case(
        "api-enrolment-list",
        "post",
        lambda w: "/api/v1/enrolments/",
        expect(
            admin=CREATED,
            facilitator=CREATED,
            other_facilitator=400,
            member=FORBIDDEN,
            other_member=FORBIDDEN,
            other_clinic_admin=400,
        ),
        body=_referral_body,
    ),
    Case("api-enrolment-detail", "get", _enrolment_url, group_viewers()),
    Case("api-enrolment-screening", "get", _screening_url, group_managers(OK)),
    Case(
        "api-enrolment-screening",
        "post",
        lambda w: f"/api/v1/enrolments/{w.enrolment.pk}/screening/",
        group_managers(CREATED),
        body=lambda w: {"findings": AREAS, "outcome": "suitable"},
    ),
    Case(
        "api-enrolment-activate",
        "post",
        lambda w: f"/api/v1/enrolments/{_screened(w).pk}/activate/",
        group_managers(OK),
        body=lambda w: {},
    ),
    Case(
        "api-enrolment-waitlist",
        "post",
        lambda w: f"/api/v1/enrolments/{_screened(w).pk}/waitlist/",
        group_managers(OK),
    ),
    Case(
        "api-enrolment-withdraw",
        "post",
        lambda w: f"/api/v1/enrolments/{w.enrolment.pk}/withdraw/",
        group_managers(OK),
        body=lambda w: {"note": "Moved away."},
    ),
    Case(
        "api-enrolment-complete",
        "post",
        lambda w: f"/api/v1/enrolments/{w.enrolment.pk}/complete/",
        group_managers(OK),
        body=lambda w: {},
    ),
    Case(
        "api-enrolment-discharge",
        "post",
        lambda w: f"/api/v1/enrolments/{w.enrolment.pk}/discharge/",
        group_managers(OK),
        body=lambda w: {"note": "Needs more intensive care."},
    ),
    Case(
        "api-enrolment-decline",
        "post",
        lambda w: f"/api/v1/enrolments/{_screened(w).pk}/decline/",
        group_managers(OK),
    ),
]
