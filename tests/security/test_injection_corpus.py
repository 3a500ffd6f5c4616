"""An injection and XSS corpus: hostile input into every filter, text field, file name and
body size the site takes, and what it must never do with it.

- SQL in query parameters of every API list (found from the OpenAPI schema) and of every
  page that reads its query string: no 500, no database error text, a 200 or a 400 naming
  the parameter;
- script in every text field, through the API and the pages' forms: the JSON gives it back
  as data, every page that shows it shows it escaped, a ``javascript:`` link is refused;
- path traversal where a route takes a token, a format or a file name: 404/400, never a
  file's contents;
- oversized bodies: a 413 (or 400) that says so, never a 500.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django.test import Client
from django.utils.html import escape
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from members.models import Member
from members.services import api_token_issue
from sessions.enums import EnrolmentStatus
from sessions.models import Enrolment
from tests.api.world import World, build_world
from tests.factories.members import mfa_enrol
from tests.factories.sessions import EnrolmentFactory

pytestmark = pytest.mark.django_db

#: What a database or a framework says when a query was built from input.
SQL_ERROR_TEXT = (
    "syntax error",
    "operationalerror",
    "programmingerror",
    "dataerror",
    "integrityerror",
    "sqlite",
    "psycopg",
    "traceback",
    "unrecognized token",
    "nul (0x00)",
    "unterminated",
)

SQL_PAYLOADS = (
    "' OR 1=1--",
    "1; DROP TABLE members_member",
    "name) desc--",
    "%00",
    "\x00",
    "A" * 5000,
    "9" * 40,
    "Zoë 名前 🙂",
    "١٢٣",
    "<script>alert(1)</script>",
)


@pytest.fixture
def world() -> World:
    return build_world()


def _body(response) -> str:
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    return raw.decode(errors="replace")


def _sql_leak(body: str) -> list[str]:
    lowered = body.casefold()
    return [text for text in SQL_ERROR_TEXT if text in lowered]


def _token_client(world: World, persona: str) -> APIClient:
    mfa_enrol(world.users[persona])  # a token needs a second factor behind it
    _, raw = api_token_issue(user=world.users[persona], name="corpus")
    return APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}")


def _page_client(world: World, persona: str) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(world.users[persona])
    return client


# --------------------------------------------------------------------------- SQL: the API


def _api_lists() -> list[tuple[str, list[str]]]:
    """Every GET operation of the API that takes query parameters, with their names."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        names = [p["name"] for p in (get or {}).get("parameters", []) if p["in"] == "query"]
        if names:
            found.append((path, names))
    return sorted(found)


API_LISTS = _api_lists()
#: Parameters a list does not take: ignored, never passed to the database.
UNKNOWN_PARAMETERS = ("ordering", "o", "sort")


def _api_path(path: str, world: World) -> str:
    ids = {
        "/api/v1/groups/": world.group.pk,
        "/api/v1/sessions/": world.future_session.pk,
        "/api/v1/members/": world.member_record.pk,
        "/api/v1/enrolments/": world.enrolment.pk,
        "/api/v1/rooms/": world.room.pk,
    }
    for prefix, pk in ids.items():
        if path.startswith(prefix):
            return path.replace("{id}", str(pk))
    assert "{" not in path, f"no id for {path}"
    return path


#: The query a list needs before a parameter can be varied.
API_BASELINE = {"/api/v1/exports/attendance/": {"from": "2026-01-01", "to": "2026-01-31"}}
#: Statuses a list's design gives a well-formed value it cannot use: an export of a group id
#: the caller cannot see (``?group=١٢٣`` reads as 123, like DRF's IntegerField) is a 404.
API_BY_DESIGN = {"/api/v1/exports/attendance/": (404,)}


def _attempts(parameters: tuple[str, ...] | list[str]) -> Iterator[tuple[str, str]]:
    """Each payload in each parameter; a parameter nobody reads gets a few."""
    for name in parameters:
        for payload in SQL_PAYLOADS:
            yield name, payload
    for name in UNKNOWN_PARAMETERS:
        for payload in SQL_PAYLOADS[:3]:
            yield name, payload


def _api_persona(path: str) -> str:
    return "member" if path.startswith("/api/v1/me/") else "admin"


def test_the_corpus_covers_the_api_lists():
    paths = {path for path, _ in API_LISTS}

    assert {
        "/api/v1/groups/",
        "/api/v1/sessions/",
        "/api/v1/members/",
        "/api/v1/enrolments/",
        "/api/v1/exports/attendance/",
        "/api/v1/groups/{id}/roster/",
        "/api/v1/me/sessions/",
    } <= paths


@pytest.mark.parametrize(("path", "parameters"), API_LISTS, ids=[path for path, _ in API_LISTS])
def test_sql_in_an_api_query_parameter_is_data_or_a_400_naming_it(world, path, parameters):
    api = _token_client(world, _api_persona(path))
    url = _api_path(path, world)
    failures = []
    for name, payload in _attempts(parameters):
        response = api.get(url, {**API_BASELINE.get(path, {}), name: payload})
        body = _body(response)
        problem = None
        if response.status_code not in (200, 400, *API_BY_DESIGN.get(path, ())):
            problem = f"status {response.status_code}"
        elif _sql_leak(body):
            problem = f"database text {_sql_leak(body)}"
        elif response.status_code == 400 and name not in response.json():
            problem = f"a 400 that does not name it: {body[:200]}"
        elif name in UNKNOWN_PARAMETERS and response.status_code != 200:
            problem = "an unknown parameter was not ignored"
        if problem:
            failures.append(f"?{name}={payload[:30]!r}: {problem}")

    assert failures == []


# --------------------------------------------------------------------------- SQL: the pages

#: Each page that reads its query string: who reads it, the parameters its code reads, and
#: the statuses its design gives a value it cannot use (besides 200 and 400).
PAGES: dict[str, tuple[str, tuple[str, ...], tuple[int, ...]]] = {
    # A clinic outside the admin's is a 404 by design.
    "/clinic/people/": ("admin", ("clinic", "show", "name", "page"), (404,)),
    # A clinic, actor or member outside the admin's clinics is a 404 by design.
    "/clinic/audit/": (
        "admin",
        ("clinic", "actor", "action", "member", "start", "end", "page"),
        (404,),
    ),
    "/clinic/people/invite/": ("admin", ("member",), ()),
    "/rooms/": ("admin", ("page",), ()),
    "/groups/": ("admin", ("stage", "facilitator", "page"), ()),
    # A clinic where the viewer is not staff is the API's 403.
    "/groups/new/": ("admin", ("clinic",), (403,)),
    "/groups/{group}/": ("facilitator", ("roster", "page", "upcoming"), ()),
    "/groups/{group}/schedule/preview/": (
        "facilitator",
        (
            "weekdays",
            "start_time",
            "duration_minutes",
            "interval",
            "first_date",
            "ends",
            "count",
            "until",
        ),
        (),
    ),
    "/groups/{group}/enrol/": ("facilitator", ("q", "page"), ()),
    "/today/": ("facilitator", ("week", "page"), ()),
    "/reports/attendance/": ("admin", ("start", "end", "group", "facilitator"), ()),
    "/reports/attendance.csv": ("admin", ("start", "end", "group", "facilitator"), ()),
    "/reports/attendance.xlsx": ("admin", ("start", "end", "group", "facilitator"), ()),
    "/me/meetings/": ("member", ("page", "past_page"), ()),
    "/me/groups/": ("member", ("page",), ()),
    "/me/settings/": ("member", ("page",), ()),
}


@pytest.mark.parametrize("page", list(PAGES))
def test_sql_in_a_pages_query_string_is_data_or_a_400(world, page):
    persona, parameters, by_design = PAGES[page]
    client = _page_client(world, persona)
    url = page.replace("{group}", str(world.group.pk))
    failures = []
    for name, payload in _attempts(parameters):
        response = client.get(url, {name: payload})
        body = _body(response)
        if response.status_code not in (200, 400, *by_design):
            failures.append(f"?{name}={payload[:30]!r}: status {response.status_code}")
        elif _sql_leak(body):
            failures.append(f"?{name}={payload[:30]!r}: database text {_sql_leak(body)}")
        elif "<script>alert(1)</script>" in body:
            failures.append(f"?{name}: the query string is echoed unescaped")

    assert failures == []


# --------------------------------------------------------------------------- XSS


def _script(tag: str) -> str:
    """A payload that runs if a page writes it unescaped, labelled with the field."""
    return f'<script>alert("{tag}")</script>"><img src=x onerror=alert("{tag}")>{tag}'


#: Unescaped, any of these is markup the browser would run.
RAW_MARKERS = ("<script>alert(", "<img src=x onerror")


def _shown(pages: dict[str, str], payloads: dict[str, str]) -> tuple[set[str], list[str]]:
    """Which payloads the pages show escaped, and where one appears raw."""
    shown, raw = set(), []
    for url, body in pages.items():
        for marker in RAW_MARKERS:
            if marker in body:
                at = body.index(marker)
                raw.append(f"{url}: {body[max(0, at - 80) : at + 60]!r}")
        for field, payload in payloads.items():
            if escape(payload) in body:
                shown.add(field)
    return shown, raw


def _crawl(world: World, urls: dict[str, list[str]]) -> dict[str, str]:
    pages = {}
    for persona, paths in urls.items():
        client = _page_client(world, persona)
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, (persona, path, response.status_code)
            pages[f"{persona} {path}"] = response.content.decode()
    return pages


def _json_ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/json"
    return response.json()


def _referred(world: World, member: Member) -> Enrolment:
    return EnrolmentFactory(group=world.group, member=member, status=EnrolmentStatus.REFERRED)


def test_script_stored_through_the_api_is_data_in_json_and_escaped_on_every_page(world):
    admin = _token_client(world, "admin")
    facilitator = _token_client(world, "facilitator")
    payloads: dict[str, str] = {}

    def payload(field: str) -> str:
        payloads[field] = _script(field.replace(".", "-"))
        return payloads[field]

    room = _json_ok(
        admin.post("/api/v1/rooms/", {"name": payload("room.name"), "capacity": 6}), 201
    )
    assert room["name"] == payloads["room.name"]
    modality = _json_ok(admin.post("/api/v1/modalities/", {"name": payload("modality.name")}), 201)
    assert modality["name"] == payloads["modality.name"]
    group = _json_ok(
        admin.patch(
            f"/api/v1/groups/{world.group.pk}/",
            {"name": payload("group.name"), "description": payload("group.description")},
        )
    )
    assert (group["name"], group["description"]) == (
        payloads["group.name"],
        payloads["group.description"],
    )
    member_fields = (
        "preferred_name",
        "legal_name",
        "phone",
        "emergency_contact_name",
        "emergency_contact_phone",
    )
    data = {field: payload(f"member.{field}")[:40] for field in member_fields}
    payloads.update({f"member.{field}": value for field, value in data.items()})
    member = _json_ok(admin.patch(f"/api/v1/members/{world.member_record.pk}/", data))
    assert {field: member[field] for field in member_fields} == data
    agreement = _json_ok(
        facilitator.put(
            f"/api/v1/groups/{world.group.pk}/agreement/", {"text": payload("agreement.text")}
        ),
        201,
    )
    assert agreement["text"] == payloads["agreement.text"]
    cancelled = _json_ok(
        facilitator.post(
            f"/api/v1/sessions/{world.future_session.pk}/cancel/",
            {"reason": payload("session.cancel_reason")},
        )
    )
    assert cancelled["cancel_reason"] == payloads["session.cancel_reason"]
    referred = _referred(world, world.other_member_record)
    findings = {
        area: {"finding": "no_concern", "note": payload(f"screening.{area}_note")}
        for area in ("acute_illness", "anxiety_or_trauma", "disruptive_behaviour")
    } | {
        "individual_needs": {
            "finding": "manageable",
            "note": payload("screening.individual_needs_note"),
        }
    }
    screening = admin.post(
        f"/api/v1/enrolments/{referred.pk}/screening/",
        {
            "findings": findings,
            "outcome": "suitable_with_support",
            "support_plan": payload("screening.support_plan"),
        },
    )
    _json_ok(screening, 201)
    assert payloads["screening.support_plan"] in screening.content.decode("unicode_escape")
    browser = APIClient()  # tokens are issued from a signed-in session only
    browser.force_login(world.users["admin"])
    token = _json_ok(browser.post("/api/v1/me/tokens/", {"name": payload("token.name")}), 201)
    assert token["name"] == payloads["token.name"]
    withdrawn = _referred(world, Member.objects.create(clinic=world.clinic, preferred_name="W"))
    _json_ok(
        admin.post(
            f"/api/v1/enrolments/{withdrawn.pk}/withdraw/", {"note": payload("enrolment.note")}
        )
    )

    pages = _crawl(
        world,
        {
            "admin": [
                "/groups/",
                f"/groups/{world.group.pk}/",
                f"/groups/{world.group.pk}/edit/",
                f"/groups/{world.group.pk}/stage/",
                f"/groups/{world.group.pk}/enrol/",
                f"/enrolments/{world.enrolment.pk}/",
                f"/enrolments/{referred.pk}/",
                f"/enrolments/{referred.pk}/screening/",
                f"/enrolments/{withdrawn.pk}/",
                f"/sessions/{world.future_session.pk}/",
                f"/sessions/{world.past_session.pk}/",
                "/rooms/",
                f"/rooms/{room['id']}/edit/",
                "/clinic/people/",
                "/clinic/people/?show=member",
                "/clinic/audit/",
                "/reports/attendance/",
            ],
            "facilitator": ["/today/", f"/groups/{world.group.pk}/schedule/"],
            "member": ["/me/meetings/", "/me/groups/", "/me/settings/"],
        },
    )
    shown, raw = _shown(pages, payloads)

    assert raw == []
    # Each stored value is on some page (escaped), so the check above saw it; the token's
    # name and the emergency contact are shown only in the API.
    assert set(payloads) - shown == {
        "token.name",
        "member.emergency_contact_name",
        "member.emergency_contact_phone",
    }


def _group_form(world: World, group, **changes: str) -> dict[str, str]:
    """The group edit form as the page posts it, with ``changes``."""
    data = {
        "name": group.name,
        "modality": str(group.modality_id),
        "description": group.description,
        "lead_facilitator": str(group.lead_facilitator_id),
        "min_size": str(group.min_size),
        "max_size": str(group.max_size),
        "enrolment_policy": group.enrolment_policy,
        "room": str(group.room_id or ""),
        "video_link": group.video_link,
        "billing_code": group.billing_code or "90853",
        "planned_start": str(group.planned_start),
        "planned_end": "",
        "late_cancel_notice_hours": str(group.late_cancel_notice_hours),
    }
    data.update(changes)
    return data


def test_a_javascript_link_is_refused_where_a_link_is_taken(world):
    admin = _token_client(world, "admin")
    client = _page_client(world, "admin")

    for link in ("javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<script>x</script>"):
        response = admin.patch(
            f"/api/v1/groups/{world.other_group.pk}/", {"room": None, "video_link": link}
        )
        page = client.post(
            f"/groups/{world.other_group.pk}/edit/",
            _group_form(world, world.other_group, room="", video_link=link),
        )

        assert response.status_code == 400
        assert "video_link" in response.json()
        assert page.status_code == 200
        assert 'id="id_video_link_error"' in page.content.decode()
        assert escape(link) not in page.content.decode() or link.isascii()
    world.other_group.refresh_from_db()
    assert world.other_group.video_link == ""


def test_script_typed_into_the_pages_forms_is_shown_escaped(world):
    admin = _page_client(world, "admin")
    payloads = {field: _script(field) for field in ("room", "group", "description", "dee")}

    room = admin.post("/rooms/new/", {"name": payloads["room"], "capacity": "5"})
    group = admin.post(
        f"/groups/{world.group.pk}/edit/",
        _group_form(
            world, world.group, name=payloads["group"], description=payloads["description"]
        ),
    )
    member = admin.post(
        f"/groups/{world.group.pk}/enrol/",
        {"intent": "new", "preferred_name": payloads["dee"][:90], "legal_name": "Dee Quinn"},
    )
    payloads["dee"] = payloads["dee"][:90]
    assert [room.status_code, group.status_code, member.status_code] == [302, 302, 302]
    dee = Member.objects.get(legal_name="Dee Quinn")
    enrolment = Enrolment.objects.get(member=dee)

    pages = _crawl(
        world,
        {
            "admin": [
                "/rooms/",
                "/groups/",
                f"/groups/{world.group.pk}/",
                f"/groups/{world.group.pk}/edit/",
                f"/enrolments/{enrolment.pk}/",
                "/clinic/people/?show=member",
            ],
            "member": ["/me/groups/", "/me/meetings/"],
        },
    )
    shown, raw = _shown(pages, payloads)

    assert raw == []
    assert shown == set(payloads)


def test_a_form_error_page_shows_the_rejected_input_escaped(world):
    admin = _page_client(world, "admin")
    payload = _script("capacity")

    response = admin.post("/rooms/new/", {"name": payload, "capacity": payload})

    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_capacity_error"' in body
    assert not any(marker in body for marker in RAW_MARKERS)


# --------------------------------------------------------------------------- path traversal

TRAVERSALS = (
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "..%252F..%252Fetc%252Fpasswd",
    "....//....//etc/passwd",
    "..\\..\\etc\\passwd",
    "%00../../etc/passwd",
    "/etc/passwd",
)
FILE_CONTENTS = ("root:x:0:0", "root:*:0:0", "[boot loader]", "DJANGO_SECRET_KEY")


@pytest.fixture
def anyone() -> Client:
    return Client(raise_request_exception=False)


@pytest.mark.parametrize("name", TRAVERSALS)
@pytest.mark.parametrize(
    "template",
    [
        "/calendar/{name}.ics",
        "/calendar/{name}",
        "/static/{name}",
        "/static/css/{name}",
        "/{name}",
        "/reports/attendance.csv/{name}",
    ],
)
def test_a_path_traversal_in_a_route_is_a_404_never_a_file(anyone, name, template):
    response = anyone.get(template.format(name=name))

    body = b"".join(response) if response.streaming else response.content
    assert response.status_code in (400, 404), response.status_code
    assert not any(text.encode() in body for text in FILE_CONTENTS)


@pytest.mark.parametrize("name", TRAVERSALS)
@pytest.mark.parametrize("parameter", ["format", "from", "to", "group"])
def test_a_path_traversal_in_the_export_parameters_is_a_400_or_404(world, name, parameter):
    api = _token_client(world, "admin")
    query = {"from": "2026-01-01", "to": "2026-01-31", "format": "csv", parameter: name}

    response = api.get("/api/v1/exports/attendance/", query)

    assert response.status_code in (400, 404)
    assert not any(text.encode() in response.content for text in FILE_CONTENTS)


@pytest.mark.parametrize("name", TRAVERSALS)
def test_a_path_traversal_in_a_page_export_is_refused(world, name):
    client = _page_client(world, "admin")

    response = client.get("/reports/attendance.csv", {"group": name, "start": name})

    assert response.status_code == 400
    assert not any(text.encode() in response.content for text in FILE_CONTENTS)


# --------------------------------------------------------------------------- oversized


@pytest.fixture
def small_uploads(settings) -> int:
    """A small limit, so the test sends kilobytes rather than megabytes."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def _huge_json(size: int) -> str:
    return json.dumps({"name": "R" * size, "capacity": 4})


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/rooms/"),
        ("patch", "/api/v1/groups/{group}/"),
        ("put", "/api/v1/groups/{group}/agreement/"),
        ("post", "/api/v1/members/"),
    ],
)
def test_an_oversized_json_body_is_a_413_naming_the_limit(world, small_uploads, method, path):
    api = _token_client(world, "admin")

    response = getattr(api, method)(
        path.replace("{group}", str(world.group.pk)),
        data=_huge_json(small_uploads * 2),
        content_type="application/json",
    )

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": f"The request body is too large: send at most {small_uploads} bytes.",
        "code": "too_large",
    }


def test_a_huge_form_field_is_a_413_page_not_a_500(world, small_uploads):
    client = _page_client(world, "admin")

    response = client.post("/rooms/new/", {"name": "R" * small_uploads * 2, "capacity": "4"})

    body = response.content.decode()
    assert response.status_code == 413
    assert "<h1>Too much at once</h1>" in body
    assert "R" * 100 not in body


def test_too_many_form_fields_is_a_413_page_not_a_500(world, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 50
    client = _page_client(world, "admin")

    response = client.post("/rooms/new/", {f"f{i}": "x" for i in range(200)})

    assert response.status_code == 413
    assert "<h1>Too much at once</h1>" in response.content.decode()


def test_a_long_text_field_in_json_under_the_limit_is_a_400_naming_it(world):
    api = _token_client(world, "admin")

    response = api.post("/api/v1/rooms/", {"name": "R" * 100_000, "capacity": 4})

    assert response.status_code == 400
    assert list(response.json()) == ["name"]


def test_an_invalid_json_body_is_a_400(world):
    api = _token_client(world, "admin")

    for body in ("{", '{"name": "\\ud800"}', "[" * 5000, "\x00", '{"name": NaN}'):
        response = api.post("/api/v1/rooms/", data=body, content_type="application/json")

        assert response.status_code == 400, body[:20]
        assert _sql_leak(response.content.decode()) == []
