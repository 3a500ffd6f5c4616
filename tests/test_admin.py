"""The Django admin opens every registered model for a superuser, and nobody else."""

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.apps import apps
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from members.enums import Role
from members.models import AuditEntry, User
from members.services import api_token_issue, audit_log
from sessions.demo import demo_seed
from tests.factories.members import (
    TEST_PASSWORD,
    ClinicFactory,
    ClinicRoleFactory,
    UserFactory,
    current_totp_code,
    mfa_enrol,
)


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


# --- changes made in the Django admin have the same consequences as in GroupCare ---------

LOGIN = reverse("account_login")


def _signed_in(user: User) -> Client:
    """The person's own browser, signed in with their password (and code, if enrolled)."""
    browser = Client()
    response = browser.post(LOGIN, {"login": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 302
    if response["Location"] == reverse("mfa_authenticate"):
        browser.post(reverse("mfa_authenticate"), {"code": current_totp_code()})
    assert "_auth_user_id" in browser.session
    return browser


def _change_form_data(response) -> dict:
    """What the admin's change form would post back unchanged, inlines included."""
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if value is None or getattr(field, "disabled", False) or name == "password":
            continue
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list | tuple):
            data[name] = [str(v) for v in value]
        elif hasattr(value, "strftime"):
            data[f"{name}_0"], data[f"{name}_1"] = value.strftime("%Y-%m-%d %H:%M:%S").split()
        else:
            data[name] = str(value)
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = str(management[name].value())
    return data


def test_giving_django_admin_access_in_the_admin_signs_the_person_out_everywhere(
    client, django_capture_on_commit_callbacks
):
    person = UserFactory()
    theirs = _signed_in(person)
    client.force_login(_superuser())
    url = reverse("admin:members_user_change", args=[person.pk])
    data = _change_form_data(client.get(url))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {**data, "is_staff": "on"})

    assert response.status_code == 302, response.context["adminform"].form.errors
    person.refresh_from_db()
    assert person.is_staff
    assert "_auth_user_id" not in theirs.session  # next sign-in decides MFA and limits again


def test_a_staff_role_given_through_the_admins_inline_signs_the_person_out_too(
    client, django_capture_on_commit_callbacks
):
    person = UserFactory()
    clinic = ClinicFactory()
    theirs = _signed_in(person)
    client.force_login(_superuser())
    url = reverse("admin:members_user_change", args=[person.pk])
    data = _change_form_data(client.get(url))
    data |= {
        "clinic_roles-TOTAL_FORMS": "1",
        "clinic_roles-0-clinic": str(clinic.pk),
        "clinic_roles-0-role": Role.FACILITATOR,
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)

    assert response.status_code == 302
    assert person.clinic_roles.get().role == Role.FACILITATOR
    assert "_auth_user_id" not in theirs.session


def test_roles_given_changed_and_taken_away_in_the_admin_are_in_the_audit_log(client):
    person = UserFactory()
    clinic, other = ClinicFactory(), ClinicFactory()
    kept = ClinicRoleFactory(user=person, clinic=clinic, role=Role.MEMBER)
    changed = ClinicRoleFactory(user=person, clinic=other, role=Role.MEMBER)
    root = _superuser()
    client.force_login(root)
    url = reverse("admin:members_user_change", args=[person.pk])
    data = _change_form_data(client.get(url))
    data |= {
        "clinic_roles-TOTAL_FORMS": "3",
        "clinic_roles-INITIAL_FORMS": "2",
        "clinic_roles-0-id": str(kept.pk),
        "clinic_roles-0-user": str(person.pk),
        "clinic_roles-0-clinic": str(clinic.pk),
        "clinic_roles-0-role": Role.MEMBER,
        "clinic_roles-0-DELETE": "on",
        "clinic_roles-1-id": str(changed.pk),
        "clinic_roles-1-user": str(person.pk),
        "clinic_roles-1-clinic": str(other.pk),
        "clinic_roles-1-role": Role.ADMIN,
        "clinic_roles-2-clinic": str(clinic.pk),
        "clinic_roles-2-role": Role.FACILITATOR,
    }
    before = AuditEntry.objects.count()

    response = client.post(url, data)

    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    entries = AuditEntry.objects.order_by("pk")[before:]
    assert sorted((e.action, e.clinic_id, e.data["role"], e.actor_id) for e in entries) == sorted(
        [
            ("members.role.revoked", clinic.pk, Role.MEMBER, root.pk),
            ("members.role.revoked", other.pk, Role.MEMBER, root.pk),
            ("members.role.granted", other.pk, Role.ADMIN, root.pk),
            ("members.role.granted", clinic.pk, Role.FACILITATOR, root.pk),
        ]
    )
    assert all(e.data["user_id"] == person.pk for e in entries)


def test_saving_a_member_unchanged_in_the_admin_signs_nobody_out(
    client, django_capture_on_commit_callbacks
):
    person = UserFactory()
    theirs = _signed_in(person)
    client.force_login(_superuser())
    url = reverse("admin:members_user_change", args=[person.pk])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, _change_form_data(client.get(url)))

    assert response.status_code == 302
    assert "_auth_user_id" in theirs.session


@pytest.mark.parametrize("how", ["delete page", "bulk action"])
def test_deleting_a_persons_last_factor_in_the_admin_revokes_tokens_and_ends_sessions(
    client, how, django_capture_on_commit_callbacks
):
    person = ClinicRoleFactory(role=Role.FACILITATOR).user
    RecoveryCodes.activate(person)
    theirs = _signed_in(person)
    token, _raw = api_token_issue(user=person, name="laptop")
    [factor] = Authenticator.objects.filter(user=person, type=Authenticator.Type.TOTP)
    client.force_login(_superuser())

    with django_capture_on_commit_callbacks(execute=True):
        response = _delete_in_the_admin(client, factor, how)

    assert response.status_code == 302
    assert not Authenticator.objects.filter(user=person).exists()  # recovery codes too
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "_auth_user_id" not in theirs.session
    assert AuditEntry.objects.filter(
        action="members.api_token.revoked_all", object_id=str(person.pk)
    ).exists()


def test_deleting_one_of_two_factors_in_the_admin_leaves_the_person_signed_in(
    client, django_capture_on_commit_callbacks
):
    person = ClinicRoleFactory(role=Role.FACILITATOR).user
    key = Authenticator.objects.create(
        user=person, type=Authenticator.Type.WEBAUTHN, data={"name": "Blue key"}
    )
    theirs = _signed_in(person)
    token, _raw = api_token_issue(user=person, name="laptop")
    client.force_login(_superuser())

    with django_capture_on_commit_callbacks(execute=True):
        response = _delete_in_the_admin(client, key, "delete page")

    assert response.status_code == 302
    assert not Authenticator.objects.filter(pk=key.pk).exists()
    token.refresh_from_db()
    assert token.revoked_at is None
    assert "_auth_user_id" in theirs.session


def _delete_in_the_admin(client: Client, factor: Authenticator, how: str):
    if how == "delete page":
        url = reverse("admin:mfa_authenticator_delete", args=[factor.pk])
        return client.post(url, {"post": "yes"})
    return client.post(
        reverse("admin:mfa_authenticator_changelist"),
        {"action": "delete_selected", "_selected_action": [factor.pk], "post": "yes"},
    )
