from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from groupcare.health import health_report
from members.selectors import clinic_role_list
from members.viewer import viewer_roles


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the broker answer, 503 naming the part that does not.

    Anonymous on purpose (load balancers and container health checks call it), so the
    body says only which part failed; the reason goes to the server log.
    """
    checks = health_report()
    healthy = all(state == "ok" for state in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on pages that name no icon (the Django admin's)."""
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))


#: Where each kind of role starts, in the order a person holding several starts at.
LANDING_PAGES = (
    ("facilitator", "sessions:today"),
    ("admin", "sessions:group-list"),
    ("member", "sessions:me-meetings"),
)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Sends each person to the page they use most: a facilitator to today's sessions, a
    clinic admin to the groups overview, a member to their meetings (the menu has the
    rest). An account with no role yet is told so."""
    roles = viewer_roles(user_id=request.user.pk)
    for role, page in LANDING_PAGES:
        if getattr(roles, role):
            return redirect(page)
    return render(request, "home.html", {"roles": clinic_role_list(user=request.user)})


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A 404 under /api/ is JSON like every other API error (an id that is not a number, a
    path that does not exist); elsewhere it is the site's page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """A 500 under /api/ is JSON like every other API error; elsewhere it is the site's
    page. Neither says anything of the request or of what failed (that is in the log)."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Server error."}, status=500)
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A 400, or a 413 when the body was over a size or field-count limit; JSON under
    /api/. Says nothing of the request but which of the two it was."""
    too_large = isinstance(exception, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent)
    status = 413 if too_large else 400
    if request.path.startswith("/api/"):
        if too_large:
            detail = {"detail": "The request body is too large.", "code": "too_large"}
        else:
            detail = {"detail": "Bad request."}
        return JsonResponse(detail, status=status)
    return HttpResponse(render_to_string("400.html", {"too_large": too_large}), status=status)
