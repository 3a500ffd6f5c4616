"""The audit log page: the admin's clinic only, filtered by actor, action, member, dates."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from members.audit_context import RequestMeta, current_request_meta
from members.enums import Role
from members.models import AuditEntry
from members.services import audit_log, member_record_viewed, member_records_listed
from tests.factories.members import ClinicRoleFactory, MemberFactory
from tests.web.pages import assert_no_inline_code, assert_not_in, assert_strict_csp

pytestmark = pytest.mark.django_db

AUDIT = "/clinic/audit/"

MATRIX = [
    ("admin", 200),
    ("facilitator", 403),
    ("other_facilitator", 403),
    ("member", 403),
    ("other_member", 403),
    ("other_clinic_admin", 200),
    ("anonymous", 302),
]


def _actions(response) -> list[str]:
    return [entry.action for entry, _ in response.context["rows"]]


@pytest.mark.parametrize(("persona", "expected"), MATRIX)
def test_audit_log_shows_the_viewers_clinic_only(client_as, world, persona, expected):
    audit_log(action="members.test.riverside", actor=world.users["admin"], clinic=world.clinic)
    audit_log(
        action="members.test.hillside",
        actor=world.users["other_clinic_admin"],
        clinic=world.other_clinic,
    )

    response = client_as(persona).get(AUDIT)

    assert response.status_code == expected
    if persona == "anonymous":
        assert response["Location"].startswith("/accounts/login/")
    if expected != 200:
        return
    body = response.content.decode()
    assert_strict_csp(response)
    assert_no_inline_code(body)
    if persona == "admin":
        assert "<code>members.test.riverside</code>" in body
        assert_not_in(body, "members.test.hillside", "hillside-admin@example.org")
    else:
        assert "<code>members.test.hillside</code>" in body
        assert_not_in(body, "members.test.riverside", "sessions.agreement", "Alexandra Stone")


def test_viewing_the_log_is_audited_naming_nobody_when_it_names_nobody(client_as, world):
    before = AuditEntry.objects.count()

    response = client_as("admin").get(AUDIT)

    [entry] = AuditEntry.objects.order_by("pk")[before:]
    assert (entry.action, entry.actor, entry.clinic, entry.data) == (
        "members.audit.viewed",
        world.users["admin"],
        world.clinic,
        {"member_ids": []},
    )
    # The page never lists the entry of its own reading, and names no member record.
    assert entry.pk not in [row.pk for row, _ in response.context["rows"]]
    assert_not_in(response.content.decode(), "Alexandra Stone", "Bo Reyes")


def test_a_name_finds_the_entries_about_every_matching_record_and_offers_each(client_as, world):
    alex = world.member_record
    alexis = MemberFactory(clinic=world.clinic, preferred_name="Lex", legal_name="Alexis Moor")
    MemberFactory(clinic=world.other_clinic, preferred_name="Alex", legal_name="Alex Hillside")
    member_record_viewed(member=alex, by=world.users["admin"])
    member_record_viewed(member=alexis, by=world.users["admin"])
    member_record_viewed(member=world.other_member_record, by=world.users["admin"])
    before = AuditEntry.objects.count()

    response = client_as("admin").get(AUDIT, {"member_name": "alex", "action": "members.member"})

    assert response.context["matches"] == [alex, alexis]  # by preferred name
    assert [entry.object_id for entry, _ in response.context["rows"]] == [
        str(alexis.pk),
        str(alex.pk),
    ]
    body = response.content.decode()
    assert f'member={alex.pk}">' in body
    assert f'member={alexis.pk}">' in body
    assert_not_in(body, "Bo Reyes", "Alex Hillside")
    [entry] = AuditEntry.objects.order_by("pk")[before:]
    assert entry.data == {"member_ids": sorted([alex.pk, alexis.pk])}


def test_a_record_chosen_among_the_matches_narrows_the_log_to_it(client_as, world):
    alex = world.member_record
    member_record_viewed(member=alex, by=world.users["admin"])
    member_record_viewed(member=world.other_member_record, by=world.users["admin"])
    before = AuditEntry.objects.count()

    response = client_as("admin").get(AUDIT, {"member": alex.pk, "action": "members.member"})

    assert [entry.object_id for entry, _ in response.context["rows"]] == [str(alex.pk)]
    body = response.content.decode()
    assert f"About member record #{alex.pk}: Alex (Alexandra Stone)" in body
    assert_not_in(body, "Bo Reyes")
    [entry] = AuditEntry.objects.order_by("pk")[before:]
    assert entry.data == {"member_ids": [alex.pk]}


def test_a_record_number_finds_that_record(client_as, world):
    bo = world.other_member_record

    response = client_as("admin").get(AUDIT, {"member_name": f"#{bo.pk}"})

    assert response.context["matches"] == [bo]


def test_a_name_nobody_has_shows_no_entries_and_says_so(client_as, world):
    member_record_viewed(member=world.member_record, by=world.users["admin"])

    response = client_as("admin").get(AUDIT, {"member_name": "Zed"})

    assert response.context["matches"] == []
    assert response.context["rows"] == []
    assert "No member record of your clinic has that name or number." in (response.content.decode())


def test_a_typed_name_wins_over_a_record_chosen_before(client_as, world):
    bo = world.other_member_record

    response = client_as("admin").get(
        AUDIT, {"member": world.member_record.pk, "member_name": "Bo"}
    )

    assert response.context["matches"] == [bo]
    assert response.context["chosen"] is None
    assert f'name="member" value="{world.member_record.pk}"' not in response.content.decode()


def test_rows_show_actor_action_object_time_and_address(client_as, world):
    meta = current_request_meta.set(RequestMeta(ip_address="203.0.113.9", user_agent=""))
    with time_machine.travel(dt.datetime(2026, 7, 1, 9, 30, tzinfo=dt.UTC), tick=False):
        member_record_viewed(member=world.member_record, by=world.users["facilitator"])
    current_request_meta.reset(meta)
    facilitator = world.users["facilitator"]

    body = client_as("admin").get(AUDIT, {"action": "members.member.viewed"}).content.decode()

    assert (
        '<td class="nowrap"><time datetime="2026-07-01T10:30+01:00">'
        "Wed 1 Jul 2026, 10:30</time></td>" in body
    )
    assert f"<td>{facilitator.full_name}</td>" in body
    assert "<code>members.member.viewed</code>" in body
    assert f"<td>member #{world.member_record.pk}</td>" in body
    assert "<td>203.0.113.9</td>" in body


def test_newest_first(client_as, world):
    for day in (1, 3, 2):
        with time_machine.travel(dt.datetime(2026, 7, day, 12, tzinfo=dt.UTC), tick=False):
            audit_log(action=f"members.test.day{day}", actor=None, clinic=world.clinic)

    response = client_as("admin").get(AUDIT, {"action": "members.test"})

    assert _actions(response) == ["members.test.day3", "members.test.day2", "members.test.day1"]


def test_filter_by_action_prefix_matches_whole_dotted_parts(client_as, world):
    audit_log(action="members.test.done", actor=None, clinic=world.clinic)
    audit_log(action="members.testing.done", actor=None, clinic=world.clinic)

    response = client_as("admin").get(AUDIT, {"action": "members.test"})

    assert _actions(response) == ["members.test.done"]


def test_filter_by_actor(client_as, world):
    audit_log(action="members.test.mine", actor=world.users["admin"], clinic=world.clinic)
    audit_log(action="members.test.theirs", actor=world.users["facilitator"], clinic=world.clinic)

    response = client_as("admin").get(
        AUDIT, {"actor": world.users["facilitator"].pk, "action": "members.test"}
    )

    assert _actions(response) == ["members.test.theirs"]


def test_filter_by_member_finds_every_entry_about_them(client_as, world):
    alex = world.member_record
    others = [MemberFactory(clinic=world.clinic) for _ in range(11)]
    first = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first()
    member_record_viewed(member=alex, by=world.users["admin"])
    member_records_listed(members=[others[0], alex], by=world.users["admin"])
    member_records_listed(members=[others[10]], by=world.users["admin"])
    audit_log(
        action="members.test.about", actor=None, clinic=world.clinic, data={"member_id": alex.pk}
    )
    audit_log(
        action="members.test.other",
        actor=None,
        clinic=world.clinic,
        data={"member_id": others[1].pk},
    )

    response = client_as("admin").get(AUDIT, {"member": alex.pk})

    rows = [entry for entry, _ in response.context["rows"] if entry.pk > first]
    assert [entry.action for entry in rows] == [
        "members.test.about",
        "members.member.listed",
        "members.member.viewed",
    ]


def test_member_filter_does_not_match_a_longer_id(client_as, world):
    short = MemberFactory(clinic=world.clinic)
    member_records_listed(members=[short], by=world.users["admin"])
    longer_id = int(f"{short.pk}1")
    audit_log(
        action="members.member.listed",
        actor=None,
        clinic=world.clinic,
        data={"member_ids": [longer_id, longer_id + 1]},
    )

    response = client_as("admin").get(AUDIT, {"member": short.pk, "action": "members.member"})

    assert [entry.data for entry, _ in response.context["rows"]] == [{"member_ids": [short.pk]}]


def test_filter_by_date_range_in_the_viewers_zone(client_as, world):
    # 23:30 UTC on 30 June is 00:30 on 1 July in London (the viewer's zone).
    for when, name in (
        (dt.datetime(2026, 6, 30, 22, 30, tzinfo=dt.UTC), "before"),
        (dt.datetime(2026, 6, 30, 23, 30, tzinfo=dt.UTC), "first"),
        (dt.datetime(2026, 7, 2, 22, 59, tzinfo=dt.UTC), "last"),
        (dt.datetime(2026, 7, 2, 23, 0, tzinfo=dt.UTC), "after"),
    ):
        with time_machine.travel(when, tick=False):
            audit_log(action=f"members.test.{name}", actor=None, clinic=world.clinic)

    response = client_as("admin").get(
        AUDIT, {"action": "members.test", "start": "2026-07-01", "end": "2026-07-02"}
    )

    assert _actions(response) == ["members.test.last", "members.test.first"]


def test_an_end_before_the_start_is_shown_next_to_the_end(client_as, world):
    response = client_as("admin").get(AUDIT, {"start": "2026-07-02", "end": "2026-07-01"})

    assert response.status_code == 200
    assert 'id="id_end_error"' in response.content.decode()


@pytest.mark.parametrize("field", ["member", "actor", "clinic"])
def test_another_clinics_member_actor_or_clinic_is_not_found(client_as, world, field):
    foreign = {
        "member": MemberFactory(clinic=world.other_clinic).pk,
        "actor": world.users["other_clinic_admin"].pk,
        "clinic": world.other_clinic.pk,
    }[field]

    response = client_as("admin").get(AUDIT, {field: foreign})

    assert response.status_code == 404


@pytest.mark.parametrize("rows", [1, 5])
def test_audit_list_queries_do_not_grow_with_rows(
    client_as, world, rows, django_assert_num_queries
):
    for _ in range(rows):
        audit_log(action="members.test.row", actor=world.users["facilitator"], clinic=world.clinic)
    client = client_as("admin")
    client.get(AUDIT)

    # session, user, viewer's clinics, actor choices, page count, page (with actor and
    # clinic), the audit entry of this reading (3: chain head lock, insert, head update),
    # navigation roles
    with django_assert_num_queries(10):
        assert client.get(AUDIT, {"action": "members.test"}).status_code == 200


def test_a_record_of_another_of_the_admins_clinics_than_the_one_filtered_is_not_found(
    client_as, world
):
    admin = world.users["admin"]
    ClinicRoleFactory(user=admin, clinic=world.other_clinic, role=Role.ADMIN)
    elsewhere = MemberFactory(clinic=world.other_clinic)

    response = client_as("admin").get(AUDIT, {"clinic": world.clinic.pk, "member": elsewhere.pk})

    assert response.status_code == 404
