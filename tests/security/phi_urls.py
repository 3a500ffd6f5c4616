"""A test-only URL conf: the site's own URLs, plus views that fail while holding a member's
record, as real code might (tests/security/test_phi_in_logs.py)."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny

from groupcare.urls import handler400, handler404, handler500
from groupcare.urls import urlpatterns as site_urlpatterns
from members.models import Member, User

logger = logging.getLogger("groupcare.tests.phi")


def _member(pk: int) -> Member:
    member = Member.objects.get(pk=pk)
    # A careless log call: the instance (its __str__ is a name) and its e-mail address.
    logger.warning("processing %s <%s>", member, member.email)
    logger.debug("member %r", member)
    return member


def crash(request: HttpRequest, pk: int) -> HttpResponse:
    """A bug that echoes the member's data in the exception message."""
    member = _member(pk)
    int(member.legal_name)  # ValueError, echoing the value it could not read
    return HttpResponse("unreachable")


def crash_key(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(pk)
    return HttpResponse({}[member.email])  # KeyError: 'canary…@example.org'


def crash_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """PostgreSQL's wording of a unique violation, whatever the test database."""
    member = _member(pk)
    raise IntegrityError(
        'duplicate key value violates unique constraint "members_user_email_key"\n'
        f"DETAIL:  Key (email)=({member.email}) already exists."
    )


def crash_unique(request: HttpRequest, pk: int) -> HttpResponse:
    """A real unique violation on the member's e-mail address (an account exists)."""
    member = _member(pk)
    with transaction.atomic():
        User.objects.create(email=member.email, full_name=member.legal_name)
    return HttpResponse("unreachable")


def not_found(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(pk)
    raise Http404(f"No enrolment of {member.legal_name} ({member.email}) here.")


def forbidden(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(pk)
    # Django logs this message with its traceback: the code names ids at most.
    raise PermissionDenied(f"Member {member.pk} ({member.email}) is not in your group.")


def bad_request(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(pk)
    # Django logs this message as it is: the code names ids and e-mail addresses at most.
    raise SuspiciousOperation(f"Odd request for member {member.pk} ({member.email}).")


@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def api_crash(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(pk)
    int(member.legal_name)
    return HttpResponse("unreachable")


urlpatterns = [
    path("phi-test/crash/<int:pk>/", crash),
    path("phi-test/crash-key/<int:pk>/", crash_key),
    path("phi-test/crash-detail/<int:pk>/", crash_detail),
    path("phi-test/crash-unique/<int:pk>/", crash_unique),
    path("phi-test/not-found/<int:pk>/", not_found),
    path("phi-test/forbidden/<int:pk>/", forbidden),
    path("phi-test/bad-request/<int:pk>/", bad_request),
    path("api/v1/phi-test/crash/<int:pk>/", api_crash),
    *site_urlpatterns,
]

__all__ = ["handler400", "handler404", "handler500", "urlpatterns"]
