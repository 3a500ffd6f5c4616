"""Multi-factor authentication: who must have it, and the middleware that holds staff to it.

allauth provides MFA (a one-time-code app or a security key, and recovery codes) but no way
to require it. Here staff — anyone with an admin or facilitator role, or Django admin
access — must enrol before anything else opens: every page redirects them to the set-up
page and every API route answers 403. Members may opt in.

Whether a session's user is enrolled is decided at sign-in and kept in the session (a
request costs no query); enrolling or removing a factor in allauth's pages decides again.
A user with a factor cannot sign in without it (allauth asks for the code after the
password), so "has a factor" means "this session passed it, or enrolled it".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.http import urlencode

from members.models import User
from members.selectors import staff_role_exists

#: The authenticator types that are a second factor. Recovery codes are a fallback for a
#: lost factor, not a factor of their own: allauth removes them with the last factor.
FACTOR_TYPES = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)

MFAState = Literal["enrolled", "required", "optional"]

SESSION_KEY = "groupcare.mfa"

MFA_REQUIRED_MESSAGE = (
    "Staff accounts need two-factor authentication. Set up a one-time-code app, or add a "
    "security key under Two-factor authentication, to continue."
)


def mfa_enrolled_filter(user_field: str = "user") -> Exists:
    """An ``Exists`` that is true when the row's user has a second factor (for annotations)."""
    return Exists(Authenticator.objects.filter(user_id=OuterRef(user_field), type__in=FACTOR_TYPES))


def user_has_mfa(user: User) -> bool:
    return Authenticator.objects.filter(user_id=user.pk, type__in=FACTOR_TYPES).exists()


def user_mfa_state(user: User) -> MFAState:
    """One query: is ``user`` enrolled, or must or may they enrol?"""
    row = (
        User.objects.filter(pk=user.pk)
        .annotate(
            enrolled=mfa_enrolled_filter("pk"),
            staff_role=staff_role_exists("pk"),
        )
        .values("enrolled", "staff_role", "is_staff", "is_superuser")
        .first()
    )
    if row is None or row["enrolled"]:
        return "enrolled"
    # Staff as members.selectors.user_is_staff counts them, in the same query.
    if row["staff_role"] or row["is_staff"] or row["is_superuser"]:
        return "required"
    return "optional"


def remember_mfa_state(request: HttpRequest, user: User) -> MFAState:
    state = user_mfa_state(user)
    request.session[SESSION_KEY] = state
    return state


class MFARequiredMiddleware:
    """Staff without a second factor reach only the MFA set-up pages, sign-out and static files."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._open_prefixes: tuple[str, ...] | None = None

    def open_prefixes(self) -> tuple[str, ...]:
        if self._open_prefixes is None:
            from django.conf import settings

            self._open_prefixes = (
                reverse("mfa_index"),  # set-up, recovery codes
                reverse("account_logout"),
                reverse("account_reauthenticate"),  # allauth asks before set-up
                reverse("healthz"),
                reverse("favicon"),
                "/" + settings.STATIC_URL.lstrip("/"),
            )
        return self._open_prefixes

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            state = request.session.get(SESSION_KEY)
            if state is None:
                state = remember_mfa_state(request, user)
            if state == "required" and not request.path_info.startswith(self.open_prefixes()):
                return self.refuse(request)
        return self.get_response(request)

    @staticmethod
    def refuse(request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith("/api/"):
            return JsonResponse(
                {"detail": MFA_REQUIRED_MESSAGE, "code": "mfa_required"}, status=403
            )
        target = reverse("mfa_activate_totp")
        if request.method == "GET":
            target += "?" + urlencode({"next": request.get_full_path()})
        messages.info(request, MFA_REQUIRED_MESSAGE)
        if getattr(request, "htmx", False):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return HttpResponseRedirect(target)


def on_user_logged_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        remember_mfa_state(request, user)


def mfa_enforce_after_change(
    *, user: User, by: User | None, except_session_key: str | None = None
) -> MFAState:
    """Decide ``user``'s MFA state again after one of their factors was added or removed,
    in allauth's pages or in the Django admin. With no factor left, their recovery codes go
    too (allauth's own removal does that; a factor deleted in the admin must not leave them
    as a way in, nor keep them for the next enrolment), their API tokens are revoked (a
    token needs MFA behind it) and every session but ``except_session_key`` ends: those
    sessions were decided "enrolled" at their sign-in."""
    from members.services import api_tokens_revoke_all, user_sessions_end_all

    state = user_mfa_state(user)
    if state != "enrolled":
        Authenticator.objects.filter(
            user_id=user.pk, type=Authenticator.Type.RECOVERY_CODES
        ).delete()
        api_tokens_revoke_all(user=user, by=by or user, reason="mfa_removed")
        user_sessions_end_all(
            user=user, except_session_key=except_session_key, reason="mfa_removed"
        )
    return state


def on_authenticator_changed(
    sender: Any, request: HttpRequest | None, user: User, **kwargs: Any
) -> None:
    """A factor was added or removed in this session (allauth's signals): decide again, and
    keep the answer in this session."""
    session = getattr(request, "session", None)
    state = mfa_enforce_after_change(
        user=user,
        by=user,
        except_session_key=session.session_key if session is not None else None,
    )
    if session is not None:
        session[SESSION_KEY] = state
