"""Groups (stage, schedule, roster, agreement), rooms and modalities."""

import datetime as dt

from django.utils import timezone

from sessions.models import Modality, Schedule
from sessions.services.agreements import agreement_publish
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

#: Clinic admins add rooms and modalities to their own clinic (Hillside's admin to Hillside).
ADMINS_CREATE = expect(
    admin=CREATED,
    facilitator=FORBIDDEN,
    other_facilitator=FORBIDDEN,
    member=FORBIDDEN,
    other_member=FORBIDDEN,
    other_clinic_admin=CREATED,
)


def _group(w):
    return f"/api/v1/groups/{w.group.pk}/"


def _scheduled_group(w):
    Schedule.objects.create(
        group=w.group,
        rrule="FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT=4",
        first_date=timezone.localdate() + dt.timedelta(days=14),
        start_time=dt.time(18, 0),
        duration_minutes=90,
    )
    return f"/api/v1/groups/{w.group.pk}/schedule/"


def _new_group_body(w):
    return {
        "clinic": w.clinic.pk,
        "name": "Wednesday Group",
        "modality": Modality.objects.get(slug="support").pk,
        "lead_facilitator": w.users["facilitator"].pk,
        "co_facilitators": [w.users["other_facilitator"].pk],
        "planned_start": (timezone.localdate() + dt.timedelta(days=30)).isoformat(),
    }


def _acceptance_body(w):
    # A new version, so that accepting it creates an acceptance for everyone allowed.
    agreement_publish(group=w.group, text="Version two.", by=w.users["facilitator"])
    return {"member": w.member_record.pk}


CASES = [
    Case(
        "api-group-list",
        "get",
        lambda w: "/api/v1/groups/",
        expect(
            admin=OK,
            facilitator=OK,
            other_facilitator=OK,
            member=OK,
            other_member=OK,
            other_clinic_admin=OK,
        ),
    ),
    # The body names Riverside: staff of Riverside create (a facilitator one they
    # co-facilitate), members and Hillside's admin are refused.
    Case(
        "api-group-list",
        "post",
        lambda w: "/api/v1/groups/",
        expect(
            admin=CREATED,
            facilitator=CREATED,
            other_facilitator=CREATED,
            member=FORBIDDEN,
            other_member=FORBIDDEN,
            other_clinic_admin=FORBIDDEN,
        ),
        body=_new_group_body,
    ),
    Case("api-group-detail", "get", _group, group_viewers()),
    Case(
        "api-group-detail",
        "patch",
        _group,
        group_managers(OK),
        body=lambda w: {"description": "Evenings, after work."},
    ),
    Case("api-group-stage", "get", lambda w: _group(w) + "stage/", group_managers(OK)),
    Case(
        "api-group-stage",
        "post",
        lambda w: _group(w) + "stage/",
        group_managers(CREATED),
        body=lambda w: {"to": "storming"},
    ),
    Case("api-group-schedule", "get", _scheduled_group, group_viewers()),
    Case(
        "api-group-schedule",
        "put",
        lambda w: _group(w) + "schedule/",
        group_managers(OK),
        body=lambda w: {
            "weekdays": ["TU"],
            "count": 4,
            "first_date": (timezone.localdate() + dt.timedelta(days=14)).isoformat(),
            "start_time": "18:00",
            "duration_minutes": 90,
        },
    ),
    Case("api-group-roster", "get", lambda w: _group(w) + "roster/", group_viewers()),
    Case("api-group-agreement", "get", lambda w: _group(w) + "agreement/", group_viewers()),
    Case(
        "api-group-agreement",
        "put",
        lambda w: _group(w) + "agreement/",
        group_managers(CREATED),
        body=lambda w: {"text": "We keep what is said here, here."},
    ),
    # Staff record a paper signature for the member; the member accepts online.
    Case(
        "api-group-agreement",
        "post",
        lambda w: _group(w) + "agreement/",
        expect(
            admin=CREATED,
            facilitator=CREATED,
            other_facilitator=NOT_FOUND,
            member=CREATED,
            other_member=NOT_FOUND,
            other_clinic_admin=NOT_FOUND,
        ),
        body=_acceptance_body,
    ),
    Case("api-room-list", "get", lambda w: "/api/v1/rooms/", staff_anywhere()),
    Case(
        "api-room-list",
        "post",
        lambda w: "/api/v1/rooms/",
        ADMINS_CREATE,
        body=lambda w: {"name": "Garden Room", "capacity": 8},
    ),
    Case(
        "api-room-detail",
        "get",
        lambda w: f"/api/v1/rooms/{w.room.pk}/",
        expect(
            admin=OK,
            facilitator=OK,
            other_facilitator=OK,
            member=FORBIDDEN,
            other_member=FORBIDDEN,
            other_clinic_admin=NOT_FOUND,
        ),
    ),
    Case(
        "api-room-detail",
        "patch",
        lambda w: f"/api/v1/rooms/{w.room.pk}/",
        expect(
            admin=OK,
            facilitator=FORBIDDEN,
            other_facilitator=FORBIDDEN,
            member=FORBIDDEN,
            other_member=FORBIDDEN,
            other_clinic_admin=NOT_FOUND,
        ),
        body=lambda w: {"capacity": 10},
    ),
    Case("api-modality-list", "get", lambda w: "/api/v1/modalities/", staff_anywhere()),
    Case(
        "api-modality-list",
        "post",
        lambda w: "/api/v1/modalities/",
        ADMINS_CREATE,
        body=lambda w: {"name": "Compassion-focused"},
    ),
]
