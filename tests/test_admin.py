"""The Django admin opens every registered model for a superuser, and nobody else."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from members.enums import Role
from members.models import AuditEntry, User
from members.services import audit_log
from sessions.demo import demo_seed
from tests.factories.members import ClinicRoleFactory, mfa_enrol


def _superuser() -> User:
    user = User.objects.create_superuser(email="root@example.org", password="x")
    mfa_enrol(user)
    return user


pytestmark = pytest.mark.django_db

MODEL_ADMINS = sorted(
    (model._meta.app_label, model._meta.model_name) for model in admin.site._registry
)


@pytest.mark.parametrize(("app_label", "model_name"), MODEL_ADMINS)
def test_superuser_can_open_every_changelist(client, app_label, model_name):
    client.force_login(_superuser())

    response = client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))

    assert response.status_code == 200


def test_clinic_admin_role_does_not_open_the_django_admin(client):
    client.force_login(ClinicRoleFactory(role=Role.ADMIN).user)

    response = client.get("/admin/")

    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


def test_audit_log_is_read_only_in_the_admin(client):
    client.force_login(_superuser())

    response = client.get(reverse("admin:members_auditentry_add"))

    assert response.status_code == 403


def test_audit_entries_cannot_be_changed_or_deleted_in_the_admin(client):
    client.force_login(_superuser())
    entry = audit_log(action="members.test.done", actor=None)

    change = client.post(
        reverse("admin:members_auditentry_change", args=[entry.pk]), {"action": "x.y.z"}
    )
    delete = client.post(
        reverse("admin:members_auditentry_delete", args=[entry.pk]), {"post": "yes"}
    )
    changelist = client.get(reverse("admin:members_auditentry_changelist"))

    assert (change.status_code, delete.status_code) == (403, 403)
    assert changelist.context["action_form"] is None  # no bulk "delete selected"
    assert AuditEntry.objects.get(pk=entry.pk).action == "members.test.done"


OUR_MODEL_ADMINS = [
    (app, model) for app, model in MODEL_ADMINS if app in {"members", "group_sessions"}
]


@pytest.mark.parametrize(("app_label", "model_name"), OUR_MODEL_ADMINS)
def test_demo_clinic_has_a_record_of_every_model_and_the_admin_opens_it(
    client, app_label, model_name
):
    demo_seed()
    client.force_login(_superuser())
    record = apps.get_model(app_label, model_name)._default_manager.order_by("pk").first()

    changelist = client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))

    assert record is not None, f"the demo clinic has no {model_name}"
    change = client.get(reverse(f"admin:{app_label}_{model_name}_change", args=[record.pk]))
    assert changelist.status_code == 200
    assert change.status_code == 200
