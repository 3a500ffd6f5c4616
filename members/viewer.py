"""Who is looking at a page: their time zone and which parts of the app are theirs.

Dates and times on every page are shown in the viewer's time zone: a member's own
(``Member.timezone``), or for staff the zone of the clinic they work in. The zone is
worked out once per login session and kept in it; the settings page that changes a
member's zone calls :func:`viewer_timezone_forget`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from members.enums import Role
from members.models import ClinicRole, Member

SESSION_KEY = "groupcare.viewer_tz"


def viewer_timezone_name(*, user_id: int) -> str | None:
    """The zone to show times in for this user, or None (no clinic role: UTC)."""
    member_zones = (
        Member.objects.filter(user_id=user_id)
        .order_by("pk")
        .values_list("timezone", "clinic__timezone")
        .first()
    )
    if member_zones is not None:
        own, clinic_zone = member_zones
        return own or clinic_zone
    return (
        ClinicRole.objects.filter(user_id=user_id)
        .exclude(role=Role.MEMBER)
        .order_by("pk")
        .values_list("clinic__timezone", flat=True)
        .first()
    )


def viewer_timezone_forget(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)


class ViewerTimezoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        # The API speaks ISO 8601 with offsets and renders no local times.
        if user is None or not user.is_authenticated or request.path.startswith("/api/"):
            timezone.deactivate()
            return self.get_response(request)
        name = request.session.get(SESSION_KEY)
        if name is None:
            name = viewer_timezone_name(user_id=user.pk) or "UTC"
            request.session[SESSION_KEY] = name
        try:
            timezone.activate(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


@dataclass(frozen=True)
class ViewerRoles:
    """The kinds of role the user holds in any clinic: which navigation they see. Views
    still check each permission themselves; this only decides which links to offer."""

    admin: bool = False
    facilitator: bool = False
    member: bool = False


def viewer_roles(*, user_id: int) -> ViewerRoles:
    roles = set(ClinicRole.objects.filter(user_id=user_id).values_list("role", flat=True))
    return ViewerRoles(
        admin=Role.ADMIN in roles,
        facilitator=Role.FACILITATOR in roles,
        member=Role.MEMBER in roles,
    )


def viewer_context(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"viewer_roles": ViewerRoles()}
    return {"viewer_roles": SimpleLazyObject(lambda: viewer_roles(user_id=user.pk))}
