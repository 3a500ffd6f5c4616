"""Automatic logoff: a signed-in session ends after a while without a request (idle) and a
while after sign-in whatever happens (absolute); staff's limits are shorter than members'.

Whether the person counts as staff, and when they signed in, are written into the session
once, at sign-in (:func:`session_limits_start`), so a request costs no query. The last
activity is written back only when it moved by more than a small step
(:func:`activity_step`), so an ordinary request costs no session write either; the idle
limit therefore ends a session up to one step early, never late.

All times are whole seconds from ``time.time()`` (frozen by ``time_machine`` in tests).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY as AUTH_USER_SESSION_KEY
from django.contrib.auth import logout
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect

from members.selectors import user_is_staff

SessionClass = Literal["staff", "member"]
STAFF: SessionClass = "staff"
MEMBER: SessionClass = "member"

CLASS_KEY = "groupcare.session.class"
SIGNED_IN_KEY = "groupcare.session.signed_in_at"
ACTIVITY_KEY = "groupcare.session.last_activity"

#: Set on a request whose session timed out, so the sign-out it causes does not also end
#: the person's other sessions (an idle office computer must not sign out their phone).
TIMED_OUT_ATTR = "groupcare_session_timed_out"
#: Where a signed-in request finds its :class:`SessionClock` (base.html reads it).
CLOCK_ATTR = "session_clock"
#: On htmx responses: the seconds left before an idle logoff, for the page's countdown.
IDLE_REMAINING_HEADER = "GroupCare-Session-Idle-Remaining"


@dataclass(frozen=True)
class SessionLimits:
    idle: int
    absolute: int
    warning: int


def session_limits(session_class: str | None) -> SessionLimits:
    """The limits of a class of session; anything but "member" gets staff's, the stricter."""
    if session_class == MEMBER:
        idle = settings.GROUPCARE_SESSION_IDLE_MEMBER
        absolute = settings.GROUPCARE_SESSION_ABSOLUTE_MEMBER
    else:
        idle = settings.GROUPCARE_SESSION_IDLE_STAFF
        absolute = settings.GROUPCARE_SESSION_ABSOLUTE_STAFF
    return SessionLimits(idle=idle, absolute=absolute, warning=settings.GROUPCARE_SESSION_WARNING)


def activity_step(limits: SessionLimits) -> int:
    """How far the last activity may lag before it is saved again: 1/15 of the idle limit,
    at least 30 seconds (and never more than the limit itself)."""
    return min(limits.idle, max(30, limits.idle // 15))


def now_seconds() -> int:
    return int(time.time())


def session_limits_start(session: SessionBase, *, user: AbstractBaseUser, now: int) -> None:
    """Record in ``session`` which limits apply to ``user`` and that the clock starts now.
    One query (is the user staff?); the caller's session save writes it."""
    session[CLASS_KEY] = STAFF if user_is_staff(user=user) else MEMBER
    session[SIGNED_IN_KEY] = now
    session[ACTIVITY_KEY] = now


@dataclass(frozen=True)
class SessionClock:
    """Where one signed-in session stands at one moment, in seconds."""

    limits: SessionLimits
    idle_remaining: int
    absolute_remaining: int

    @property
    def expired_reason(self) -> Literal["idle", "absolute"] | None:
        if self.absolute_remaining <= 0:
            return "absolute"
        if self.idle_remaining <= 0:
            return "idle"
        return None


def session_clock(session: SessionBase, *, now: int) -> SessionClock:
    limits = session_limits(session.get(CLASS_KEY))
    signed_in_at = _int(session.get(SIGNED_IN_KEY), now)
    # A clock that went back (last activity "in the future") counts as activity now.
    last_activity = min(_int(session.get(ACTIVITY_KEY), signed_in_at), now)
    return SessionClock(
        limits=limits,
        idle_remaining=last_activity + limits.idle - now,
        absolute_remaining=signed_in_at + limits.absolute - now,
    )


def session_activity_touch(session: SessionBase, *, now: int, force: bool = False) -> None:
    """Note activity now; written only when the stored time lags by a step or more (or
    ``force``, for the keep-alive), so most requests leave the session unmodified."""
    last_activity = _int(session.get(ACTIVITY_KEY), 0)
    if force or now - last_activity >= activity_step(session_limits(session.get(CLASS_KEY))):
        session[ACTIVITY_KEY] = now


def session_keep_alive(session: SessionBase) -> SessionClock:
    """The person asked to stay signed in: activity now (the idle clock restarts; the
    absolute one never does). Returns where the session stands afterwards."""
    now = now_seconds()
    session_activity_touch(session, now=now, force=True)
    return session_clock(session, now=now)


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def duration_text(seconds: int) -> str:
    """``900`` → "15 minutes", ``43200`` → "12 hours", ``2592000`` → "30 days"."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and (seconds % size == 0 or unit == "minute"):
            count = seconds // size if seconds % size == 0 else round(seconds / size)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


def signed_out_message(clock: SessionClock) -> str:
    if clock.expired_reason == "absolute":
        return (
            "For your privacy you were signed out: a session lasts at most "
            f"{duration_text(clock.limits.absolute)}. Sign in again to continue."
        )
    return (
        f"For your privacy you were signed out after {duration_text(clock.limits.idle)} "
        "without activity. Sign in again to continue."
    )


class SessionTimeoutMiddleware:
    """End a session that was idle too long or has reached its maximum length.

    A page gets a redirect to the sign-in page (with a message and ``?next=`` back), an
    htmx request an ``HX-Redirect`` there, a JSON request (``/api/`` or one that accepts
    only JSON) a 401. Bearer-token API calls carry no session and pass untouched. Goes
    after the message middleware, so the sign-in page can say why.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = request.session
        # A Bearer-token call has no signed-in session; a header alone must not exempt one.
        if AUTH_USER_SESSION_KEY not in session:
            return self.get_response(request)
        now = now_seconds()
        if session.get(CLASS_KEY) not in (STAFF, MEMBER) or not isinstance(
            session.get(SIGNED_IN_KEY), int
        ):
            # Signed in before automatic logoff existed: the clock starts now.
            user = request.user
            if not user.is_authenticated:
                return self.get_response(request)
            session_limits_start(session, user=user, now=now)
        clock = session_clock(session, now=now)
        if clock.expired_reason is not None:
            return _sign_out(request, clock)
        session_activity_touch(session, now=now)
        setattr(request, CLOCK_ATTR, session_clock(session, now=now))
        response = self.get_response(request)
        if request.headers.get("HX-Request") == "true":
            response[IDLE_REMAINING_HEADER] = str(getattr(request, CLOCK_ATTR).idle_remaining)
        return response


def _wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return request.path.startswith("/api/") or (
        "application/json" in accept and "text/html" not in accept
    )


def _sign_out(request: HttpRequest, clock: SessionClock) -> HttpResponse:
    setattr(request, TIMED_OUT_ATTR, True)
    logout(request)
    text = signed_out_message(clock)
    if _wants_json(request):
        return JsonResponse({"detail": text}, status=401)
    messages.info(request, text)
    target = login_url_with_next(request)
    if request.headers.get("HX-Request") == "true":
        return HttpResponseClientRedirect(target)
    return HttpResponseRedirect(target)


def login_url_with_next(request: HttpRequest) -> str:
    """The sign-in page, with ``?next=`` the page the person was on (when there is one to
    go back to: the page itself for a GET, the page an htmx request or a form came from)."""
    login_url = resolve_url(settings.LOGIN_URL)
    if request.path == login_url:
        return request.get_full_path()
    if request.headers.get("HX-Request") == "true":
        back = _local_path(request, request.headers.get("HX-Current-URL", ""))
    elif request.method in ("GET", "HEAD"):
        back = request.get_full_path()
    else:
        back = _local_path(request, request.headers.get("Referer", ""))
    if not back or back.startswith(login_url):
        return login_url
    return f"{login_url}?{urlencode({'next': back}, safe='/')}"


def _local_path(request: HttpRequest, url: str) -> str:
    if not url or not url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return ""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
