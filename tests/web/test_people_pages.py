"""The clinic's people page: staff and members, roles, deactivation."""

from __future__ import annotations

import pytest
from django.test import Client

from members.enums import Role
from members.models import AuditEntry, ClinicRole, User
from members.services import PeopleError, clinic_role_set, user_deactivate
from tests.factories.members import (
    TEST_PASSWORD,
    ClinicRoleFactory,
    MemberFactory,
    UserFactory,
)
from tests.web.pages import assert_no_inline_code, assert_not_in, assert_strict_csp

pytestmark = pytest.mark.django_db

PEOPLE = "/clinic/people/"

MATRIX = [
    ("admin", 200),
    ("facilitator", 403),
    ("other_facilitator", 403),
    ("member", 403),
    ("other_member", 403),
    ("other_clinic_admin", 200),
    ("anonymous", 302),
]


def _roles(user: User, clinic) -> set[str]:
    return set(ClinicRole.objects.filter(user=user, clinic=clinic).values_list("role", flat=True))


def _url(world, user: User, action: str) -> str:
    return f"/clinic/people/{world.clinic.pk}/{user.pk}/{action}/"


@pytest.mark.parametrize(("persona", "expected"), MATRIX)
def test_staff_list_shows_only_the_viewers_clinic(client_as, world, persona, expected):
    response = client_as(persona).get(PEOPLE)

    assert response.status_code == expected
    if persona == "anonymous":
        assert response["Location"].startswith("/accounts/login/")
    if expected != 200:
        return
    body = response.content.decode()
    assert_strict_csp(response)
    assert_no_inline_code(body)
    if persona == "admin":
        for email in ("admin@example.org", "facilitator@example.org"):
            assert f"<td>{email}</td>" in body
        assert "<td>Facilitator</td>" in body
        assert_not_in(body, "hillside-admin@example.org", "member@example.org")
    else:
        assert "<td>hillside-admin@example.org</td>" in body
        assert_not_in(body, "<td>admin@example.org</td>", "facilitator@example.org", "Riverside")


@pytest.mark.parametrize(("persona", "expected"), MATRIX)
def test_member_list_shows_records_with_login_status(client_as, world, persona, expected):
    MemberFactory(clinic=world.clinic, preferred_name="Cam", legal_name="Cameron Fox", email="")
    MemberFactory(clinic=world.other_clinic, preferred_name="Dee", legal_name="Deirdre Hill")

    response = client_as(persona).get(PEOPLE, {"show": "member"})

    assert response.status_code == expected
    if expected != 200:
        return
    body = response.content.decode()
    if persona == "admin":
        assert '<th scope="row">Alex</th>' in body
        assert "<td>Alexandra Stone</td>" in body
        assert '<span class="badge ok">Can sign in</span>' in body
        assert '<span class="badge">No login</span>' in body
        assert "Invite to sign in" in body
        assert_not_in(body, "Deirdre Hill")
    else:
        assert "<td>Deirdre Hill</td>" in body
        assert_not_in(body, "Alexandra Stone", "Bo Reyes", "Cameron Fox")


def test_listing_member_records_is_audited_like_the_api(client_as, world):
    client_as("admin").get(PEOPLE, {"show": "member"})

    entry = AuditEntry.objects.get(action="members.member.listed")
    assert (entry.actor, entry.clinic, entry.data) == (
        world.users["admin"],
        world.clinic,
        {"member_ids": [world.member_record.pk, world.other_member_record.pk]},
    )


def test_filters_by_role_and_name(client_as, world):
    client = client_as("admin")

    admins = client.get(PEOPLE, {"show": "admin"}).content.decode()
    named = client.get(PEOPLE, {"show": "staff", "name": "other-fac"}).content.decode()

    assert "<td>admin@example.org</td>" in admins
    assert_not_in(admins, "facilitator@example.org")
    assert "<td>other-facilitator@example.org</td>" in named
    assert_not_in(named, "<td>facilitator@example.org</td>", "<td>admin@example.org</td>")


def test_another_clinic_in_the_filter_is_not_found(client_as, world):
    response = client_as("admin").get(PEOPLE, {"clinic": world.other_clinic.pk})

    assert response.status_code == 404


def test_an_admin_of_two_clinics_switches_between_them(client_as, world):
    ClinicRole.objects.create(user=world.users["admin"], clinic=world.other_clinic, role="admin")

    body = client_as("admin").get(PEOPLE, {"clinic": world.other_clinic.pk}).content.decode()

    assert "<h1>People at Hillside</h1>" in body
    assert "<td>hillside-admin@example.org</td>" in body
    assert_not_in(body, "<td>facilitator@example.org</td>")


@pytest.mark.parametrize("rows", [1, 5])
def test_staff_list_queries_do_not_grow_with_rows(
    client_as, world, rows, django_assert_num_queries
):
    for _ in range(rows):
        ClinicRoleFactory(clinic=world.clinic, role=Role.FACILITATOR)
    client = client_as("admin")
    client.get(PEOPLE)  # the viewer's zone is worked out once per login session

    # session, user, viewer's clinics, page count, navigation roles, page, roles prefetch
    with django_assert_num_queries(7):
        assert client.get(PEOPLE).status_code == 200


@pytest.mark.parametrize("rows", [1, 5])
def test_member_list_queries_do_not_grow_with_rows(
    client_as, world, rows, django_assert_num_queries
):
    for _ in range(rows):
        MemberFactory(clinic=world.clinic, user=UserFactory())
    client = client_as("admin")
    client.get(PEOPLE)

    # session, user, viewer's clinics, page count, navigation roles, page, audit entry
    # (chain head lock, insert, head update)
    with django_assert_num_queries(9):
        assert client.get(PEOPLE, {"show": "member"}).status_code == 200


ACTION_MATRIX = [
    ("admin", 200),
    ("facilitator", 403),
    ("other_facilitator", 403),
    ("member", 403),
    ("other_member", 403),
    ("other_clinic_admin", 404),
    ("anonymous", 302),
]


@pytest.mark.parametrize("action", ["roles", "deactivate", "reactivate"])
@pytest.mark.parametrize(("persona", "expected"), ACTION_MATRIX)
def test_person_pages_are_for_the_clinics_admins(client_as, world, action, persona, expected):
    target = world.users["facilitator"]

    response = client_as(persona).get(_url(world, target, action))

    assert response.status_code == expected
    if expected == 200:
        body = response.content.decode()
        assert_strict_csp(response)
        assert_no_inline_code(body)
        assert target.full_name in body


def test_a_person_outside_the_clinic_is_not_found(client_as, world):
    stranger = world.users["other_clinic_admin"]

    response = client_as("admin").get(_url(world, stranger, "deactivate"))

    assert response.status_code == 404


def test_deactivate_asks_first_and_says_what_happens(client_as, world):
    body = client_as("admin").get(_url(world, world.users["facilitator"], "deactivate")).content

    text = body.decode()
    assert "is signed out at once and can no longer sign in" in text
    assert '<button type="submit" class="button danger">Deactivate</button>' in text


def test_deactivating_signs_the_person_out(client_as, world):
    target = world.users["facilitator"]
    their_browser = client_as("facilitator")
    assert their_browser.get("/today/").status_code == 200

    response = client_as("admin").post(_url(world, target, "deactivate") + "?show=staff")

    assert (response.status_code, response["Location"]) == (302, "/clinic/people/?show=staff")
    target.refresh_from_db()
    assert target.is_active is False
    assert their_browser.get("/today/")["Location"].startswith("/accounts/login/")
    assert not Client().login(email=target.email, password=TEST_PASSWORD)
    entry = AuditEntry.objects.get(action="members.user.deactivated")
    assert (entry.actor, entry.clinic, entry.data) == (
        world.users["admin"],
        world.clinic,
        {"user_id": target.pk},
    )


def test_reactivating_lets_them_sign_in_again(client_as, world):
    target = world.users["facilitator"]
    target.is_active = False
    target.save(update_fields=["is_active"])

    client_as("admin").post(_url(world, target, "reactivate"))

    target.refresh_from_db()
    assert target.is_active is True
    assert Client().login(email=target.email, password=TEST_PASSWORD)


def test_an_admin_cannot_deactivate_themselves(client_as, world):
    admin = world.users["admin"]

    response = client_as("admin").post(_url(world, admin, "deactivate"))

    assert response.status_code == 200
    assert "You cannot deactivate your own account" in response.content.decode()
    admin.refresh_from_db()
    assert admin.is_active is True


def test_the_last_active_admin_cannot_be_deactivated(world):
    helper = UserFactory()
    ClinicRoleFactory(user=helper, clinic=world.clinic, role=Role.ADMIN)
    admin = world.users["admin"]
    admin.is_active = False
    admin.save(update_fields=["is_active"])

    with pytest.raises(PeopleError, match="only admin"):
        user_deactivate(user=helper, clinic=world.clinic, by=admin)

    helper.refresh_from_db()
    assert helper.is_active is True


def test_an_admin_cannot_remove_their_own_admin_role(client_as, world):
    admin = world.users["admin"]

    response = client_as("admin").post(_url(world, admin, "roles"), {"facilitator": "on"})

    assert response.status_code == 200
    assert "You cannot remove your own admin role" in response.content.decode()
    assert _roles(admin, world.clinic) == {"admin"}


def test_removing_the_last_active_admin_role_is_refused(world):
    helper = UserFactory()
    ClinicRoleFactory(user=helper, clinic=world.clinic, role=Role.ADMIN)
    admin = world.users["admin"]
    admin.is_active = False
    admin.save(update_fields=["is_active"])

    with pytest.raises(PeopleError, match="only admin"):
        clinic_role_set(
            user=helper, clinic=world.clinic, roles={Role.FACILITATOR}, by=UserFactory()
        )

    assert _roles(helper, world.clinic) == {"admin"}


def test_setting_roles_grants_and_revokes_with_audit(client_as, world):
    target = world.users["facilitator"]

    response = client_as("admin").post(_url(world, target, "roles"), {"admin": "on"})

    assert response.status_code == 302
    assert _roles(target, world.clinic) == {"admin"}
    assert list(
        AuditEntry.objects.filter(data__user_id=target.pk)
        .order_by("pk")
        .values_list("action", "data__role")
    ) == [("members.role.revoked", "facilitator"), ("members.role.granted", "admin")]


def test_the_roles_page_shows_the_current_roles(client_as, world):
    body = client_as("admin").get(_url(world, world.users["facilitator"], "roles")).content

    text = body.decode()
    assert 'name="facilitator" id="id_facilitator" checked' in text
    assert 'name="admin" id="id_admin" checked' not in text


def test_an_account_used_in_another_clinic_cannot_be_switched_off_from_here(client_as, world):
    target = world.users["facilitator"]
    ClinicRoleFactory(user=target, clinic=world.other_clinic, role=Role.FACILITATOR)

    response = client_as("admin").post(_url(world, target, "deactivate"))

    assert response.status_code == 200
    assert "also used outside the clinics you administer" in response.content.decode()
    target.refresh_from_db()
    assert target.is_active is True
