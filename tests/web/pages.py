"""Checks every page test makes of a page's response."""

from __future__ import annotations

import re

from django.http import HttpResponse

#: The Content-Security-Policy every page is sent with (settings.CONTENT_SECURITY_POLICY).
CSP_REQUIRED = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
)


def assert_strict_csp(response: HttpResponse) -> None:
    policy = response.headers.get("Content-Security-Policy", "")
    missing = [directive for directive in CSP_REQUIRED if directive not in policy]
    assert missing == [], f"Content-Security-Policy lacks {missing}: {policy!r}"
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy


def assert_no_inline_code(body: str) -> None:
    """No inline script, style element, style attribute or event-handler attribute: the
    policy would block them, so the page would silently lose them in a browser."""
    lowered = body.lower()
    assert "<style" not in lowered
    assert " style=" not in lowered
    for tag_start in lowered.split("<script")[1:]:
        assert " src=" in tag_start.split(">", 1)[0], "an inline <script> element"
    for handler in (" onclick=", " onload=", " onsubmit=", " onchange=", " oninput="):
        assert handler not in lowered, f"an inline event handler ({handler.strip()})"


#: Random tokens in a page (the CSRF token, a calendar link's key): a short name such as
#: "Cy" turns up inside one by chance, so they are blanked before looking for leaks.
_RANDOM_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,}")


def assert_not_in(body: str, *secrets: str) -> None:
    body = _RANDOM_TOKEN.sub("<token>", body)
    leaked = [secret for secret in secrets if secret in body]
    assert leaked == [], f"the page shows what this viewer must not see: {leaked}"


def redirects_to_login(response: HttpResponse) -> bool:
    return response.status_code == 302 and response["Location"].startswith("/accounts/login/")
