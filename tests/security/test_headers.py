"""Every response carries the security headers, whatever produced it: pages for each kind
of viewer, the API (200, 401, 404), the Django admin, the 403, 404, 429 and 500 pages,
static files, /healthz, the calendar feed and the downloads.

- Content-Security-Policy: exactly the site policy (the Swagger UI page /api/docs/ alone
  adds 'unsafe-inline' to style-src, nothing else);
- Referrer-Policy same-origin, X-Content-Type-Options nosniff, X-Frame-Options DENY;
- over HTTPS, Strict-Transport-Security for a year including subdomains (production's
  default; the test settings may run with DEBUG's 0, so the tests set it);
- session and CSRF cookies Secure (production's default) and SameSite=Lax, the session
  cookie HttpOnly.

Static files: WhiteNoise answers them before the CSP and clickjacking middleware run, so it
adds those two headers itself (groupcare.static_headers). They are not pages, but some are
documents when opened on their own (an SVG, the Swagger UI's oauth2-redirect.html with its
inline script), so they get the same policy as everything else rather than an exception.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.template import loader
from django.test import Client, override_settings

from sessions.services.calendar_feeds import calendar_feed_issue
from tests.api.world import World
from tests.factories.members import TEST_PASSWORD, UserFactory, mfa_enrol

#: The site's Content-Security-Policy, directive by directive (settings.CONTENT_SECURITY_POLICY).
SITE_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}
HSTS = "max-age=31536000; includeSubDomains"

ClientAs = Callable[[str], Client]
Fetch = Callable[[World, ClientAs], HttpResponse]


@pytest.fixture(autouse=True)
def _production_hsts(settings):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = False


def _policy(response: HttpResponse) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy", "")
    directives = [part.split() for part in header.split(";") if part.strip()]
    return {name: sources for name, *sources in directives}


def _read(response: HttpResponse) -> HttpResponse:
    """Read a streamed body to its end and close it (a file, a database cursor)."""
    if response.streaming:
        b"".join(response.streaming_content)
    response.close()
    return response


def _get(client: Client, url: str) -> HttpResponse:
    return _read(client.get(url, secure=True))


def _superuser_admin(world: World, client_as: ClientAs) -> HttpResponse:
    root = get_user_model().objects.create_superuser(email="root@example.org", password="x")
    mfa_enrol(root)
    client = Client()
    client.force_login(root)
    return _get(client, "/admin/")


def _calendar_feed(world: World, client_as: ClientAs) -> HttpResponse:
    member = world.users["member"]
    feed = calendar_feed_issue(user=member, by=member)
    return _get(Client(), f"/calendar/{feed.token}.ics")


def _too_many_reset_requests(world: World, client_as: ClientAs) -> HttpResponse:
    client = Client()
    for _ in range(5):
        client.post("/accounts/password/reset/", {"email": "member@example.org"}, secure=True)
    return _read(
        client.post("/accounts/password/reset/", {"email": "member@example.org"}, secure=True)
    )


def _server_error(world: World, client_as: ClientAs) -> HttpResponse:
    with override_settings(DEBUG=False, ROOT_URLCONF="tests.security.urls_500"):
        return _get(Client(raise_request_exception=False), "/test-only/fail/")


JUNE = "from=2026-06-01&to=2026-06-30"

#: What is fetched, and the status it must answer with (so each case tests what it says).
CASES: dict[str, tuple[Fetch, int]] = {
    "sign-in page": (lambda w, c: _get(Client(), "/accounts/login/"), 200),
    "member's page": (lambda w, c: _get(c("member"), "/me/meetings/"), 200),
    "facilitator's page": (lambda w, c: _get(c("facilitator"), "/today/"), 200),
    "clinic admin's page": (lambda w, c: _get(c("admin"), "/groups/"), 200),
    "home redirect": (lambda w, c: _get(c("member"), "/"), 302),
    "api 200": (lambda w, c: _get(c("member"), "/api/v1/me/"), 200),
    "api 401": (lambda w, c: _get(Client(), "/api/v1/me/"), 401),
    "api 404 path": (lambda w, c: _get(c("member"), "/api/v1/no-such-thing/"), 404),
    "api 404 object": (lambda w, c: _get(c("admin"), "/api/v1/groups/999999/"), 404),
    "api schema": (lambda w, c: _get(c("admin"), "/api/schema/"), 200),
    "admin login redirect": (lambda w, c: _get(Client(), "/admin/login/?next=/admin/"), 302),
    "admin refused (403)": (lambda w, c: _get(c("admin"), "/admin/login/"), 403),
    "admin index": (_superuser_admin, 200),
    "404 page": (lambda w, c: _get(c("member"), "/no-such-page/"), 404),
    "429 page": (_too_many_reset_requests, 429),
    "500 page": (_server_error, 500),
    "static stylesheet": (lambda w, c: _get(Client(), "/static/css/groupcare.css"), 200),
    "static svg": (lambda w, c: _get(Client(), "/static/img/favicon.svg"), 200),
    "static html": (
        lambda w, c: _get(
            Client(), "/static/drf_spectacular_sidecar/swagger-ui-dist/oauth2-redirect.html"
        ),
        200,
    ),
    "favicon redirect": (lambda w, c: _get(Client(), "/favicon.ico"), 301),
    "healthz": (lambda w, c: _get(Client(), "/healthz"), 200),
    "calendar feed": (_calendar_feed, 200),
    "report csv": (lambda w, c: _get(c("admin"), f"/reports/attendance.csv?{JUNE}"), 200),
    "report xlsx": (lambda w, c: _get(c("admin"), f"/reports/attendance.xlsx?{JUNE}"), 200),
    "api export csv": (
        lambda w, c: _get(c("admin"), f"/api/v1/exports/attendance/?{JUNE}&format=csv"),
        200,
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES)
def test_every_response_carries_every_security_header(case, world, client_as):
    fetch, status = CASES[case]

    response = fetch(world, client_as)

    assert response.status_code == status
    assert _policy(response) == SITE_POLICY
    assert response.headers.get("Referrer-Policy") == "same-origin"
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("X-Frame-Options") == "DENY"
    assert response.headers.get("Strict-Transport-Security") == HSTS


@pytest.mark.django_db
def test_the_policy_forbids_inline_and_evaluated_script_everywhere(world, client_as):
    """The matrix pins the whole policy; this says the rule it is there for."""
    response = CASES["member's page"][0](world, client_as)

    policy = _policy(response)
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == policy["base-uri"] == policy["frame-ancestors"] == ["'none'"]


@pytest.mark.django_db
def test_the_api_docs_alone_allow_inline_styles_and_nothing_more(client_as):
    """Swagger UI sets inline styles as it renders (groupcare/urls.py); its scripts stay
    'self' only, and every other directive is the site's."""
    response = _get(client_as("facilitator"), "/api/docs/")

    assert response.status_code == 200
    assert _policy(response) == {**SITE_POLICY, "style-src": ["'self'", "'unsafe-inline'"]}
    assert response.headers.get("X-Frame-Options") == "DENY"
    assert response.headers.get("Strict-Transport-Security") == HSTS


@pytest.mark.django_db
def test_plain_http_gets_no_hsts_header():
    """Browsers ignore HSTS over plain HTTP; production redirects to HTTPS first."""
    response = Client().get("/accounts/login/")

    assert "Strict-Transport-Security" not in response.headers
    assert _policy(response) == SITE_POLICY


@pytest.mark.django_db
@override_settings(SESSION_COOKIE_SECURE=True, CSRF_COOKIE_SECURE=True)
def test_sign_in_cookies_are_secure_httponly_and_same_site():
    UserFactory(email="sam@example.org")
    client = Client()

    page = client.get("/accounts/login/", secure=True)
    signed_in = client.post(
        "/accounts/login/", {"login": "sam@example.org", "password": TEST_PASSWORD}, secure=True
    )

    assert page.status_code == 200
    assert signed_in.status_code == 302
    session = signed_in.cookies["sessionid"]
    assert session["secure"] is True
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"
    csrf = signed_in.cookies.get("csrftoken") or page.cookies["csrftoken"]
    assert csrf["secure"] is True
    assert csrf["samesite"] == "Lax"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "text"),
    [("/no-such-page/", "Page not found"), ("/admin/login/", "Not allowed")],
)
def test_error_pages_are_the_sites_own(client_as, url, text):
    response = client_as("member").get(url)

    body = response.content.decode()
    assert text in body
    assert '<a class="brand" href="/">GroupCare</a>' in body


@pytest.mark.django_db
@override_settings(DEBUG=False, ROOT_URLCONF="tests.security.urls_500")
def test_the_500_page_is_the_sites_own_and_says_nothing_of_the_failure():
    response = Client(raise_request_exception=False).get("/test-only/fail/")

    body = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in body
    assert '<a class="brand" href="/">GroupCare</a>' in body
    assert "deliberate" not in body
    assert "RuntimeError" not in body


def test_the_500_page_renders_without_a_request_or_the_database():
    """Django renders it with no context at all; the database may be what failed (this
    test has no database access: a query would fail it)."""
    body = loader.get_template("500.html").render()

    assert "Something went wrong" in body
    assert "/static/css/groupcare.css" in body
