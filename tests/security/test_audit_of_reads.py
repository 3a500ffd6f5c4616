"""Every page and API response that shows member data leaves one audit entry naming the
members it showed; a refused request and a route without member data leave none.

The routes come from the URL conf: each named route of our own apps is either in
:data:`AUDITED` (how to ask for it, the action its entry carries, and for each persona who
may see it the members the answer shows) or in :data:`NOT_MEMBER_DATA` with the reason. A
new route in neither fails ``test_every_route_is_classified``.

The rule the tables apply: a member's record or contact details, any list of members'
names (a roster, an enrolment list, a choice of records in a form), a screening, attendance
marks of named members (a member's own included) and every export are member data. A
write answers with the record it changed, which its service's own entry already names
(``sessions.enrolment.withdrawn``…): such a route is not a read unless its answer shows
more than that (the attendance sheet after a mark, a page shown again after a refusal).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from members.enums import Role
from members.models import AuditEntry, Member
from sessions.enums import AttendanceStatus, EnrolmentStatus, Finding, ScreeningOutcome
from sessions.models import Enrolment, Group
from sessions.services.attendance import AttendanceEntry, attendance_cant_attend, attendance_record
from sessions.services.enrolment import screening_record
from tests.api.world import PERSONAS, World, build_world
from tests.factories.members import ClinicRoleFactory, MemberFactory
from tests.factories.sessions import EnrolmentFactory, GroupFactory

pytestmark = pytest.mark.django_db

IP = "203.0.113.7"
AGENT = "AuditProbe/1.0 (reads)"

AREAS = ("acute_illness", "anxiety_or_trauma", "disruptive_behaviour", "individual_needs")

#: Route prefixes that are not ours: allauth's sign-in pages and Django's admin.
FOREIGN_PREFIXES = ("accounts/", "admin/")


# --------------------------------------------------------------------------- the world


@dataclass
class AuditWorld:
    """The persona world (:mod:`tests.api.world`), with what makes every read show someone:
    Alex's attendance at the past session and "can't come" for the next one, a screening
    of Alex's enrolment, and Cy, a record without a login referred to a group without an
    agreement that the facilitator also leads."""

    base: World
    cy: Member
    quiet_group: Group
    quiet_enrolment: Enrolment

    def __getattr__(self, name: str) -> Any:
        return getattr(self.base, name)

    @property
    def alex(self) -> int:
        return self.base.member_record.pk

    @property
    def bo(self) -> int:
        return self.base.other_member_record.pk


def build_audit_world() -> AuditWorld:
    base = build_world()
    facilitator = base.users["facilitator"]
    attendance_record(
        session=base.past_session,
        by=facilitator,
        entries=[AttendanceEntry(member_id=base.member_record.pk, status=AttendanceStatus.PRESENT)],
    )
    attendance_cant_attend(
        session=base.future_session, member=base.member_record, by=base.users["member"]
    )
    screening_record(
        enrolment=base.enrolment,
        by=facilitator,
        findings=dict.fromkeys(AREAS, (Finding.NO_CONCERN, "")),
        outcome=ScreeningOutcome.SUITABLE,
    )
    cy = MemberFactory(clinic=base.clinic, user=None, preferred_name="Cy", legal_name="Cyrus Vale")
    quiet_group = GroupFactory(
        clinic=base.clinic, name="Wednesday Group", lead_facilitator=facilitator, room=None
    )
    quiet_enrolment = EnrolmentFactory(
        group=quiet_group, member=cy, status=EnrolmentStatus.REFERRED
    )
    return AuditWorld(base=base, cy=cy, quiet_group=quiet_group, quiet_enrolment=quiet_enrolment)


# --------------------------------------------------------------------------- the tables

Ids = Callable[[AuditWorld], list[int]]


def ids(*names: str) -> Ids:
    """The member ids of ``names`` ("alex", "bo", "cy") in a world."""

    def _ids(w: AuditWorld) -> list[int]:
        return sorted({"alex": w.alex, "bo": w.bo, "cy": w.cy.pk}[name] for name in names)

    return _ids


NOBODY: Ids = ids()


@dataclass(frozen=True)
class Read:
    """How to ask for a route, what its entry says, and who sees whom.

    ``shows`` maps each persona who gets the data to the members the answer shows: exactly
    one entry for them (with ``action``, actor, clinic, those ids, address and agent).
    An empty list means an entry naming nobody is still written (the audit log's page, an
    export). Every other persona leaves no entry at all, whatever they are answered."""

    url: Callable[[AuditWorld], str]
    action: str
    shows: dict[str, Ids]
    method: str = "get"
    query: Callable[[AuditWorld], dict[str, Any]] = field(default=lambda w: {})
    data: Callable[[AuditWorld], dict[str, Any]] | None = None
    htmx: bool = False


def url(name: str, *args: Callable[[AuditWorld], Any]) -> Callable[[AuditWorld], str]:
    return lambda w: reverse(name, args=[arg(w) for arg in args])


def _group(w: AuditWorld) -> int:
    return w.group.pk


def _enrolment(w: AuditWorld) -> int:
    return w.enrolment.pk


def _past(w: AuditWorld) -> int:
    return w.past_session.pk


def _future(w: AuditWorld) -> int:
    return w.future_session.pk


def _alex(w: AuditWorld) -> int:
    return w.alex


def _range(first: str, last: str) -> Callable[[AuditWorld], dict[str, Any]]:
    def _query(w: AuditWorld) -> dict[str, Any]:
        today = timezone.localdate()
        return {
            first: (today - dt.timedelta(days=10)).isoformat(),
            last: (today + dt.timedelta(days=10)).isoformat(),
        }

    return _query


RUNNERS = ("admin", "facilitator")
ALEX = ids("alex")

AUDITED: dict[str, Read] = {
    # --- pages ---------------------------------------------------------------------------
    "sessions:today": Read(
        url("sessions:today"),
        "sessions.attendance.viewed",
        # The next session's line names Alex, who said they can't come.
        {"admin": ALEX, "facilitator": ALEX},
    ),
    "sessions:group-detail": Read(
        url("sessions:group-detail", _group),
        "sessions.roster.viewed",
        {"admin": ALEX, "facilitator": ALEX},
    ),
    "sessions:session-detail": Read(
        url("sessions:session-detail", _past),
        "sessions.attendance.viewed",
        {"admin": ALEX, "facilitator": ALEX},
    ),
    "sessions:session-attendance": Read(
        # A refused mark shows the member's row again (a saved one is the write's entry).
        url("sessions:session-attendance", _past, _alex),
        "sessions.attendance.viewed",
        {"admin": ALEX, "facilitator": ALEX},
        method="post",
        data=lambda w: {"status": "no-such-mark"},
        htmx=True,
    ),
    "sessions:enrolment-add": Read(
        url("sessions:enrolment-add", _group),
        "members.member.listed",
        {"admin": ids("alex", "bo", "cy"), "facilitator": ids("alex", "cy")},
    ),
    "sessions:enrolment-detail": Read(
        url("sessions:enrolment-detail", _enrolment),
        "members.member.viewed",
        {"admin": ALEX, "facilitator": ALEX},
    ),
    "sessions:enrolment-screening": Read(
        url("sessions:enrolment-screening", _enrolment),
        "sessions.screening.viewed",
        {"admin": ALEX, "facilitator": ALEX},
    ),
    # The enrolment page's buttons: a refusal shows the page (the member's record) again.
    "sessions:enrolment-activate": Read(
        url("sessions:enrolment-activate", _enrolment),
        "members.member.viewed",
        {"admin": ALEX, "facilitator": ALEX},
        method="post",
        data=lambda w: {},
    ),
    "sessions:enrolment-waitlist": Read(
        url("sessions:enrolment-waitlist", _enrolment),
        "members.member.viewed",
        {"admin": ALEX, "facilitator": ALEX},
        method="post",
        data=lambda w: {},
    ),
    "sessions:enrolment-offer-accept": Read(
        url("sessions:enrolment-offer-accept", _enrolment),
        "members.member.viewed",
        {"admin": ALEX, "facilitator": ALEX},
        method="post",
        data=lambda w: {},
    ),
    "sessions:enrolment-offer-next": Read(
        url("sessions:enrolment-offer-next", _enrolment),
        "members.member.viewed",
        {"admin": ALEX, "facilitator": ALEX},
        method="post",
        data=lambda w: {},
    ),
    "sessions:enrolment-offer-decline": Read(
        # No offer is open: the enrolment page says so.
        url("sessions:enrolment-offer-decline", _enrolment),
        "members.member.viewed",
        {"admin": ALEX, "facilitator": ALEX},
    ),
    "sessions:enrolment-agreement-paper": Read(
        url("sessions:enrolment-agreement-paper", lambda w: w.quiet_enrolment.pk),
        "members.member.viewed",
        {"admin": ids("cy"), "facilitator": ids("cy")},
        method="post",
        data=lambda w: {},
    ),
    **{
        f"sessions:enrolment-{ending}": Read(
            url(f"sessions:enrolment-{ending}", _enrolment),
            "sessions.enrolment.viewed",
            {"admin": ALEX, "facilitator": ALEX},
        )
        for ending in ("complete", "withdraw", "discharge", "decline")
    },
    "sessions:me-meetings": Read(
        url("sessions:me-meetings"),
        "sessions.attendance.viewed",
        # Bo has no attendance to show.
        {"member": ALEX},
    ),
    "sessions:me-cant-come": Read(
        url("sessions:me-cant-come", _future),
        "sessions.attendance.viewed",
        {"member": ALEX},
    ),
    "sessions:me-groups": Read(
        url("sessions:me-groups"),
        "sessions.enrolment.viewed",
        {"member": ALEX, "other_member": ids("bo")},
    ),
    "sessions:me-settings": Read(
        url("sessions:me-settings"),
        "members.member.viewed",
        {"member": ALEX, "other_member": ids("bo")},
    ),
    "sessions:attendance-report-csv": Read(
        url("sessions:attendance-report-csv"),
        "sessions.attendance.exported",
        {
            "admin": ALEX,
            "facilitator": ALEX,
            "other_facilitator": NOBODY,
            "other_clinic_admin": NOBODY,
        },
        query=_range("start", "end"),
    ),
    "sessions:attendance-report-xlsx": Read(
        url("sessions:attendance-report-xlsx"),
        "sessions.attendance.exported",
        {
            "admin": ALEX,
            "facilitator": ALEX,
            "other_facilitator": NOBODY,
            "other_clinic_admin": NOBODY,
        },
        query=_range("start", "end"),
    ),
    "members:people": Read(
        url("members:people"),
        "members.member.listed",
        {"admin": ids("alex", "bo", "cy")},
        query=lambda w: {"show": "member"},
    ),
    "members:invite": Read(
        url("members:invite"),
        "members.member.listed",
        # The choice of records without a login: Cy only.
        {"admin": ids("cy")},
    ),
    "members:audit": Read(
        url("members:audit"),
        "members.audit.viewed",
        # A search by name names the records it matches ("a": Alexandra Stone and Cyrus
        # Vale, not Bo Reyes); an empty clinic's log is recorded as read all the same.
        {"admin": ids("alex", "cy"), "other_clinic_admin": NOBODY},
        query=lambda w: {"member_name": "a"},
    ),
    # --- API ------------------------------------------------------------------------------
    "api-group-roster": Read(
        url("api-group-roster", _group),
        "sessions.roster.viewed",
        {"admin": ALEX, "facilitator": ALEX, "member": ALEX},
    ),
    "api-group-agreement": Read(
        # A member reads whether they accepted it; staff read the text only.
        url("api-group-agreement", _group),
        "sessions.enrolment.viewed",
        {"member": ALEX},
    ),
    "api-session-list": Read(
        url("api-session-list"),
        "sessions.attendance.viewed",
        {"member": ALEX},
        query=lambda w: {
            "start": (w.past_session.start - dt.timedelta(days=1)).isoformat(),
            "end": (w.future_session.start + dt.timedelta(days=1)).isoformat(),
        },
    ),
    "api-session-detail": Read(
        url("api-session-detail", _past),
        "sessions.attendance.viewed",
        {"member": ALEX},
    ),
    "api-me-sessions": Read(
        url("api-me-sessions"),
        "sessions.attendance.viewed",
        {"member": ALEX},
    ),
    "api-session-attendance": Read(
        url("api-session-attendance", _past),
        "sessions.attendance.viewed",
        {"admin": ALEX, "facilitator": ALEX, "member": ALEX},
    ),
    "api-member-list": Read(
        url("api-member-list"),
        "members.member.listed",
        {
            "admin": ids("alex", "bo", "cy"),
            "facilitator": ids("alex", "cy"),
            "other_facilitator": ids("bo"),
        },
    ),
    "api-member-detail": Read(
        url("api-member-detail", _alex),
        "members.member.viewed",
        {"admin": ALEX, "facilitator": ALEX, "member": ALEX},
    ),
    "api-enrolment-list": Read(
        url("api-enrolment-list"),
        "sessions.roster.viewed",
        {
            "admin": ids("alex", "bo", "cy"),
            "facilitator": ids("alex", "cy"),
            "other_facilitator": ids("bo"),
            "member": ALEX,
            "other_member": ids("bo"),
        },
    ),
    "api-enrolment-detail": Read(
        url("api-enrolment-detail", _enrolment),
        "sessions.enrolment.viewed",
        {"admin": ALEX, "facilitator": ALEX, "member": ALEX},
    ),
    "api-enrolment-screening": Read(
        url("api-enrolment-screening", _enrolment),
        "sessions.screening.viewed",
        {"admin": ALEX, "facilitator": ALEX},
    ),
    "api-export-attendance": Read(
        url("api-export-attendance"),
        "sessions.attendance.exported",
        # Every signed-in caller exports their own scope; each export is recorded.
        {
            "admin": ALEX,
            "facilitator": ALEX,
            "other_facilitator": NOBODY,
            "member": ALEX,
            "other_member": NOBODY,
            "other_clinic_admin": NOBODY,
        },
        query=_range("from", "to"),
    ),
    "api-me-reminders": Read(
        url("api-me-reminders"),
        "members.member.viewed",
        {"member": ALEX, "other_member": ids("bo")},
    ),
    "api-me-reminder": Read(
        url("api-me-reminder", _alex),
        "members.member.viewed",
        {"member": ALEX},
    ),
    "sessions:me-data-download": Read(
        url("sessions:me-data-download"),
        "members.member.data_exported",
        {"member": ALEX, "other_member": ids("bo")},
    ),
    "sessions:member-anonymise": Read(
        url("sessions:member-anonymise", _alex),
        "members.member.viewed",
        {"admin": ALEX},
    ),
}

_WRITE_ECHO = (
    "a write: it answers with the {what} it changed, which the service's own audit entry "
    "({action}) names"
)

NOT_MEMBER_DATA: dict[str, str] = {
    "home": "sends each person to their landing page; shows only the viewer's own roles",
    "healthz": "health of the database and the broker",
    "favicon": "a redirect to a static file",
    "calendar-feed": "the feed owner's session times and places with the least wording "
    "(no names, no attendance), fetched by calendar apps with the secret token",
    "sessions:group-create": "a form for a new group; its choices are staff, rooms, modalities",
    "sessions:group-edit": "the group's own fields and its facilitators (staff)",
    "sessions:group-stage": "the group's stage and a form to change it",
    "sessions:group-schedule": "the schedule and the dates of its sessions",
    "sessions:group-schedule-preview": "dates of a schedule being edited",
    "sessions:session-move": "the session's time and room",
    "sessions:session-cancel": "the session and how many members are told, no names",
    "sessions:session-facilitators": "the session's facilitators (staff)",
    "sessions:me-calendar-link-reset": "a confirmation about the viewer's calendar link",
    "sessions:me-calendar-link-stop": "a confirmation about the viewer's calendar link",
    "sessions:group-list": "groups with counts and rates only; no member is named",
    "sessions:attendance-report": "weekly totals and rates only; no member is named (the "
    "downloads are audited)",
    "sessions:room-list": "rooms",
    "sessions:room-create": "a form for a room",
    "sessions:room-edit": "a form for a room",
    "members:person-roles": "a staff account's roles (a permission change, audited as such)",
    "members:person-deactivate": "a confirmation naming an account, not a member record; "
    "the change is audited",
    "members:person-reactivate": "a confirmation naming an account, not a member record; "
    "the change is audited",
    "members:person-resend": "a write that redirects (members.invitation.resent)",
    "api-me": "the caller's own account and roles, no member record",
    "api-me-tokens": "the caller's API tokens",
    "api-me-token": "one of the caller's API tokens",
    "api-group-list": "groups and their facilitators (staff), no members",
    "api-group-detail": "a group and its facilitators (staff), no members",
    "api-group-schedule": "a group's recurrence",
    "api-group-stage": "a group's stage transitions by staff",
    "api-room-list": "rooms",
    "api-room-detail": "a room",
    "api-modality-list": "modalities",
    "api-session-cancel": "a write answering with the session (no members)",
    "api-session-cant-attend": _WRITE_ECHO.format(
        what="caller's own attendance row", action="sessions.attendance.cant_attend"
    ),
    **{
        f"api-enrolment-{verb}": _WRITE_ECHO.format(
            what="enrolment", action=f"sessions.enrolment.{verb}…"
        )
        for verb in ("activate", "complete", "decline", "discharge", "waitlist", "withdraw")
    },
    "api-me-calendar-feed": "the URL of the caller's own calendar feed",
    "api-member-calendar-feed": "a write answering with a feed URL (issue/revoke audited)",
    "api-member-anonymise": _WRITE_ECHO.format(
        what="anonymised record", action="members.member.anonymised"
    ),
    "members:session-keepalive": "the caller's own session timing",
    "api-schema": "the OpenAPI document (no data)",
    "api-docs": "the API's documentation page (no data)",
}


# --------------------------------------------------------------------------- the routes


def _named_routes(patterns: Any = None, prefix: str = "", namespace: str = "") -> set[str]:
    names: set[str] = set()
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(pattern.pattern)
        if route.startswith(FOREIGN_PREFIXES):
            continue
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            names |= _named_routes(pattern.url_patterns, route, inner)
        else:
            assert isinstance(pattern, URLPattern)
            assert pattern.name, f"the route {route} has no name"
            names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)
    return names


def test_every_route_is_classified():
    routes = _named_routes()
    classified = set(AUDITED) | set(NOT_MEMBER_DATA)

    unclassified = sorted(routes - classified)
    assert not unclassified, (
        f"Decide whether these routes show member data: {unclassified}. Add each to AUDITED "
        "(and audit its reads) or to NOT_MEMBER_DATA with the reason."
    )
    assert sorted(classified - routes) == [], "classified routes that no longer exist"
    assert sorted(set(AUDITED) & set(NOT_MEMBER_DATA)) == []


# --------------------------------------------------------------------------- the reads


def _request(read: Read, world: AuditWorld, persona: str) -> Any:
    client = APIClient()
    user = world.users[persona]
    if user is not None:
        client.force_login(user)
    extra: dict[str, str] = {"REMOTE_ADDR": IP, "HTTP_USER_AGENT": AGENT}
    if read.htmx:
        extra["HTTP_HX_REQUEST"] = "true"
    target = read.url(world)
    query = read.query(world)
    if read.method == "get":
        return client.get(target, query, **extra)
    body = read.data(world) if read.data is not None else {}
    if query:
        target = f"{target}?{'&'.join(f'{k}={v}' for k, v in query.items())}"
    return getattr(client, read.method)(target, body, **extra)


def _drain(response: Any) -> None:
    if getattr(response, "streaming", False):
        b"".join(response.streaming_content)


CASES = [
    pytest.param(name, persona, id=f"{name}-{persona}")
    for name in sorted(AUDITED)
    for persona in PERSONAS
]


@pytest.mark.parametrize(("name", "persona"), CASES)
def test_a_read_of_member_data_leaves_one_entry_naming_whom_it_showed(name, persona):
    read = AUDITED[name]
    world = build_audit_world()
    before = set(AuditEntry.objects.values_list("pk", flat=True))

    response = _request(read, world, persona)
    _drain(response)

    new = list(AuditEntry.objects.exclude(pk__in=before).order_by("pk"))
    if persona not in read.shows:
        assert [entry.action for entry in new] == [], response.status_code
        return
    assert 200 <= response.status_code < 300, response.content[:300]
    assert [entry.action for entry in new] == [read.action]
    [entry] = new
    clinic = world.other_clinic if persona == "other_clinic_admin" else world.clinic
    assert (
        entry.actor,
        entry.clinic,
        entry.data["member_ids"],
        entry.ip_address,
        entry.user_agent,
    ) == (world.users[persona], clinic, read.shows[persona](world), IP, AGENT)


def test_an_entry_names_members_by_id_only():
    world = build_audit_world()
    client = APIClient()
    client.force_login(world.users["admin"])

    client.get(reverse("api-member-list"))

    [entry] = AuditEntry.objects.filter(action="members.member.listed")
    text = repr(entry.data)
    for record in (world.member_record, world.other_member_record, world.cy):
        for value in (record.preferred_name, record.legal_name, record.email):
            assert value not in text


def test_a_read_reaching_two_clinics_leaves_one_entry_in_each_naming_its_own_members():
    world = build_audit_world()
    hillside = MemberFactory(clinic=world.other_clinic, preferred_name="Hal")
    admin = world.users["admin"]
    ClinicRoleFactory(user=admin, clinic=world.other_clinic, role=Role.ADMIN)
    client = APIClient()
    client.force_login(admin)

    client.get(reverse("api-member-list"))

    entries = AuditEntry.objects.filter(action="members.member.listed").order_by("clinic_id")
    assert [(entry.clinic, entry.data["member_ids"]) for entry in entries] == [
        (world.clinic, ids("alex", "bo", "cy")(world)),
        (world.other_clinic, [hillside.pk]),
    ]
