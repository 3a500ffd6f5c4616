import pytest
from django.apps import apps
from django.core.management import CommandError, call_command

from members.enums import Role
from members.models import ClinicRole, Member
from sessions.demo import DEMO_LOGINS, DEMO_PASSWORD

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
