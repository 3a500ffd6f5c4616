import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.apps import apps
from django.core.management import CommandError, call_command
from django.utils import timezone

from members.enums import Role
from members.models import ClinicRole, Member
from sessions.demo import DEMO_LOGINS, DEMO_PASSWORD, demo_seed
from sessions.enums import (
    AttendanceStatus,
    EnrolmentStatus,
    ScreeningOutcome,
    Stage,
    WaitlistOfferStatus,
)
from sessions.models import (
    Attendance,
    AttendanceChange,
    Enrolment,
    Group,
    GroupSession,
    Screening,
    WaitlistOffer,
)

pytestmark = pytest.mark.django_db


def _row_counts() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count()
        for model in apps.get_models()
        if model._meta.app_label in {"members", "group_sessions"}
    }


def test_seed_demo_twice_leaves_the_same_rows(settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=None)
    first = _row_counts()

    call_command("seed_demo")

    assert _row_counts() == first
    assert first["members.Member"] >= 10


def test_seed_demo_gives_one_login_per_role(settings, client):
    settings.DEBUG = True
    call_command("seed_demo")

    for login in DEMO_LOGINS:
        assert client.login(email=login.email, password=DEMO_PASSWORD), login.email
        client.logout()
    roles = set(ClinicRole.objects.values_list("user__email", "role"))
    assert {
        ("admin@demo.groupcare.test", Role.ADMIN),
        ("facilitator@demo.groupcare.test", Role.FACILITATOR),
        ("member@demo.groupcare.test", Role.MEMBER),
    } <= roles
    assert Member.objects.get(user__email="member@demo.groupcare.test").preferred_name == "Casey"


def test_seed_demo_refuses_with_debug_off(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="refuses to run with DJANGO_DEBUG off"):
        call_command("seed_demo")

    assert Member.objects.count() == 0


def test_seed_demo_with_force_and_own_password(settings, client):
    settings.DEBUG = False

    call_command("seed_demo", "--force", "--password", "another-demo-pass")

    assert client.login(email="admin@demo.groupcare.test", password="another-demo-pass")


def test_seed_demo_shows_the_whole_programme(settings):
    settings.DEBUG = True

    call_command("seed_demo")

    groups = Group.objects.all()
    assert sorted(groups.values_list("stage", flat=True)) == sorted(Stage.values)
    assert Enrolment.objects.filter(status=EnrolmentStatus.WAITLISTED).count() >= 1
    assert Screening.objects.filter(outcome=ScreeningOutcome.NOT_SUITABLE).count() >= 1
    tz = zoneinfo.ZoneInfo("America/New_York")
    adjourning = groups.get(stage=Stage.ADJOURNING)
    final = adjourning.sessions.get(is_final=True)
    assert final.start.astimezone(tz).date() == adjourning.final_session_date
    assert Attendance.objects.count() > 0
    assert GroupSession.objects.filter(start__gt=timezone.now()).count() > 0
    # At least one group's sessions straddle a daylight-saving change at the same wall time.
    straddles = [
        group.name
        for group in groups
        if len({s.start.astimezone(tz).utcoffset() for s in group.sessions.all()}) == 2
        and {s.start.astimezone(tz).time() for s in group.sessions.all()} == {dt.time(18, 0)}
    ]
    assert straddles != []


def test_seed_demo_shows_a_seat_offer_and_a_correction_after_the_lock(settings):
    settings.DEBUG = True

    call_command("seed_demo")

    offer = WaitlistOffer.objects.get()
    assert offer.status == WaitlistOfferStatus.PENDING
    assert offer.enrolment.group.name == "Thursday Skills Group"
    assert (
        Enrolment.objects.filter(status=EnrolmentStatus.WITHDRAWN).exclude(leave_note="").exists()
    )
    change = AttendanceChange.objects.select_related("changed_by").get()
    assert (change.old_status, change.new_status) == (
        AttendanceStatus.ABSENT,
        AttendanceStatus.EXCUSED,
    )
    assert change.changed_by.email == "admin@demo.groupcare.test"
    assert change.reason != ""


def test_seed_demo_runs_when_utc_has_already_reached_tomorrow(settings):
    """At 03:40 UTC it is still yesterday evening in the demo clinic: members join on the
    clinic's date, so a withdrawal that evening is not "before they joined"."""
    settings.DEBUG = True
    with time_machine.travel(dt.datetime(2026, 11, 29, 3, 40, tzinfo=dt.UTC), tick=False):
        call_command("seed_demo")
    assert Enrolment.objects.filter(status=EnrolmentStatus.WITHDRAWN).exists()


def test_demo_staff_sign_in_with_the_printed_one_time_code(client, settings):
    from io import StringIO

    from django.core.cache import cache

    settings.DEBUG = True
    demo_seed()
    cache.clear()  # allauth remembers used codes by user id
    stdout = StringIO()
    call_command("demo_code", stdout=stdout, stderr=StringIO())

    response = client.post(
        "/accounts/login/", {"login": "facilitator@demo.groupcare.test", "password": DEMO_PASSWORD}
    )
    assert response["Location"] == "/accounts/2fa/authenticate/"
    response = client.post("/accounts/2fa/authenticate/", {"code": stdout.getvalue().strip()})

    assert response.status_code == 302
    assert client.get("/today/").status_code == 200


def test_demo_code_refuses_to_run_without_debug(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="refuses to run with DJANGO_DEBUG off"):
        call_command("demo_code")
