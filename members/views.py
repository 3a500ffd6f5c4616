"""The clinic admin's pages: staff and members, invitations, roles, the audit log.

Clinic admins only: anyone else signed in gets 403, a clinic, person or record outside the
admin's clinics 404. A domain refusal is shown on the page it came from (status 200 for a
form, a message after the redirect for a one-button action); nothing is half-written
because every service is atomic. The session keep-alive at the end is for anyone signed in.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django import forms
from django.apps import apps
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from groupcare.errors import DomainError
from groupcare.querystring import query_without
from members.enums import Role
from members.forms import AuditFilterForm, InviteForm, PeopleFilterForm, RolesForm
from members.models import AuditEntry, Clinic, Member, User
from members.selectors import (
    MEMBER_SEARCH_LIMIT,
    admin_clinic_list,
    audit_actor_choices,
    audit_entry_list,
    clinic_member_choices,
    clinic_member_list,
    clinic_member_search,
    clinic_person,
    clinic_staff_list,
    clinic_staff_roles,
    invitable_member_list,
)
from members.services import (
    InvitationMailError,
    audit_log_viewed,
    clinic_role_set,
    invitation_resend,
    invitation_send,
    member_records_listed,
    user_deactivate,
    user_reactivate,
)
from members.session_timeouts import session_keep_alive

PER_PAGE = 25


def _admin_clinics(request: HttpRequest) -> QuerySet[Clinic]:
    """The clinics the viewer administers; 403 when none (staff pages are admins' only)."""
    clinics = admin_clinic_list(user=request.user)
    if not clinics:  # evaluated once here, its rows cached for the callers
        raise PermissionDenied("Only a clinic admin manages people and reads the audit log.")
    return clinics


def _query(params: dict[str, object]) -> str:
    return urlencode({key: value for key, value in params.items() if value not in ("", None)})


def _people_url(clinic: Clinic, *, several: bool, show: str = "") -> str:
    query = _query({"clinic": clinic.pk if several else "", "show": show})
    return reverse("members:people") + (f"?{query}" if query else "")


@login_required
@require_http_methods(["GET"])
def people(request: HttpRequest) -> HttpResponse:
    """Staff (``show`` = staff, admin, facilitator) or member records (``show`` = member)
    of one clinic, paginated and filtered by name. Listing member records is audited like
    the API's member list."""
    clinics = _admin_clinics(request)
    form = PeopleFilterForm(request.GET or None, clinics=clinics)
    if form.is_bound and "clinic" in form.errors:
        raise Http404("No such clinic among yours.")
    clinic = form.chosen_clinic()
    show = form.chosen("show") or "staff"
    name = form.chosen("name").strip()
    several = len(form.clinics) > 1
    if show == Role.MEMBER:
        rows = clinic_member_list(clinic=clinic, name=name)
    else:
        rows = clinic_staff_list(
            clinic=clinic, role=None if show == "staff" else Role(show), name=name
        )
    page_obj = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    if show == Role.MEMBER and page_obj.object_list:
        member_records_listed(members=list(page_obj.object_list), by=request.user)
    return render(
        request,
        "members/people_list.html",
        {
            "form": form,
            "clinic": clinic,
            "several_clinics": several,
            "show": show,
            "showing_members": show == Role.MEMBER,
            "page_obj": page_obj,
            "query": _query({"clinic": clinic.pk if several else "", "show": show, "name": name}),
            "back_query": _query({"clinic": clinic.pk if several else "", "show": show}),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def invite(request: HttpRequest) -> HttpResponse:
    """The invitation form; on success the invitee has their account and role and an
    e-mail with a single-use link, and the admin goes back to the people list."""
    clinics = _admin_clinics(request)
    form_kwargs = {"clinics": clinics, "members": invitable_member_list(clinics=clinics)}
    initial = {}
    if request.method == "GET" and request.GET.get("member", "").isdigit():
        initial = {"role": Role.MEMBER.value, "member": request.GET["member"]}
    form = InviteForm(
        request.POST if request.method == "POST" else None, initial=initial, **form_kwargs
    )
    if request.method == "POST" and form.is_valid():
        # A successful invitation redirects: the form's records are not shown again.
        data = form.cleaned_data
        clinic = data["clinic"]
        several = len(form.clinics) > 1
        try:
            invitation_send(
                clinic=clinic,
                email=data["email"],
                full_name=data["full_name"],
                role=Role(data["role"]),
                by=request.user,
                member=data.get("member"),
                preferred_name=data.get("preferred_name", ""),
                legal_name=data.get("legal_name", ""),
            )
        except InvitationMailError as exc:
            messages.warning(request, exc.message)
            return HttpResponseRedirect(_people_url(clinic, several=several))
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Invitation sent to {data['email']}.")
            show = Role.MEMBER.value if data["role"] == Role.MEMBER else "staff"
            return HttpResponseRedirect(_people_url(clinic, several=several, show=show))
    # The choice of records without a login names them: a listing of member records.
    member_records_listed(
        members=form.fields["member"].shown(),  # type: ignore[attr-defined]
        by=request.user,  # type: ignore[arg-type]
    )
    return render(request, "members/people_invite.html", {"form": form})


def _clinic_and_person(request: HttpRequest, clinic_pk: int, user_pk: int) -> tuple[Clinic, User]:
    clinics = _admin_clinics(request)
    clinic = clinics.filter(pk=clinic_pk).first()
    if clinic is None:
        raise Http404("No such clinic among yours.")
    person = clinic_person(clinic=clinic, user_id=user_pk)
    if person is None:
        raise Http404("No such person in this clinic.")
    return clinic, person


def _back(request: HttpRequest, clinic: Clinic) -> str:
    """The people list the admin came from (same clinic and filter)."""
    several = admin_clinic_list(user=request.user).count() > 1
    show = request.POST.get("show") or request.GET.get("show") or ""
    return _people_url(
        clinic, several=several, show=show if show in dict(PeopleFilterForm.SHOW_CHOICES) else ""
    )


@login_required
@require_http_methods(["GET", "POST"])
def person_roles(request: HttpRequest, clinic_pk: int, user_pk: int) -> HttpResponse:
    """Set a staff member's roles in one clinic (a permission change, audited)."""
    clinic, person = _clinic_and_person(request, clinic_pk, user_pk)
    held = clinic_staff_roles(user=person, clinic=clinic)
    form = RolesForm(
        request.POST if request.method == "POST" else None,
        initial={"admin": Role.ADMIN in held, "facilitator": Role.FACILITATOR in held},
    )
    if request.method == "POST" and form.is_valid():
        try:
            roles = clinic_role_set(user=person, clinic=clinic, roles=form.roles(), by=request.user)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            if roles:
                labels = ", ".join(Role(role).label for role in sorted(roles))
                messages.success(request, f"{person}: roles saved ({labels}).")
            else:
                messages.success(request, f"{person} is no longer on {clinic.name}'s staff.")
            return HttpResponseRedirect(_back(request, clinic))
    return render(
        request,
        "members/people_confirm.html",
        {
            "title": f"Roles of {person} at {clinic.name}",
            "consequences": [
                "The change applies from their next page: an admin manages people, rooms "
                "and the audit log; a facilitator runs the groups they lead.",
                "With neither role they leave the clinic's staff; their account stays.",
                "They are not notified; the change is written to the audit log.",
            ],
            "form": form,
            "action_label": "Save roles",
            "calm": True,
            "cancel_url": _back(request, clinic),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def person_deactivate(request: HttpRequest, clinic_pk: int, user_pk: int) -> HttpResponse:
    """Ask, then switch the person's account off (``user_deactivate``)."""
    clinic, person = _clinic_and_person(request, clinic_pk, user_pk)
    return _switch(
        request,
        clinic,
        person,
        deactivate=True,
        title=f"Deactivate {person}?",
        consequences=[
            f"{person} is signed out at once and can no longer sign in, on the site or "
            "through the API.",
            "Their records, groups and history stay; an admin can reactivate them later.",
            "They are not notified; the change is written to the audit log.",
        ],
        action_label="Deactivate",
    )


@login_required
@require_http_methods(["GET", "POST"])
def person_reactivate(request: HttpRequest, clinic_pk: int, user_pk: int) -> HttpResponse:
    """Ask, then let the person sign in again (``user_reactivate``)."""
    clinic, person = _clinic_and_person(request, clinic_pk, user_pk)
    return _switch(
        request,
        clinic,
        person,
        deactivate=False,
        title=f"Reactivate {person}?",
        consequences=[
            f"{person} can sign in again with their password, with the roles they hold.",
            "They are not notified; re-send the invitation if they need a new password.",
            "The change is written to the audit log.",
        ],
        action_label="Reactivate",
    )


def _switch(
    request: HttpRequest,
    clinic: Clinic,
    person: User,
    *,
    deactivate: bool,
    title: str,
    consequences: list[str],
    action_label: str,
) -> HttpResponse:
    form = forms.Form(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        service = user_deactivate if deactivate else user_reactivate
        try:
            service(user=person, clinic=clinic, by=request.user)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            done = "deactivated" if deactivate else "reactivated"
            messages.success(request, f"{person} is {done}.")
            return HttpResponseRedirect(_back(request, clinic))
    return render(
        request,
        "components/confirm.html",
        {
            "title": title,
            "consequences": consequences,
            "form": form,
            "action_label": action_label,
            "cancel_url": _back(request, clinic),
        },
    )


@login_required
@require_POST
def person_resend(request: HttpRequest, clinic_pk: int, user_pk: int) -> HttpResponse:
    """E-mail the person a fresh invitation link; back to the list with the outcome."""
    clinic, person = _clinic_and_person(request, clinic_pk, user_pk)
    try:
        invitation_resend(clinic=clinic, user=person, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"A new invitation link was sent to {person.email}.")
    return HttpResponseRedirect(_back(request, clinic))


def _object_label(entry: AuditEntry) -> str:
    """ "member #12" from ``members.member`` and ``12``: the kind of object, never its
    contents (the log holds ids only)."""
    if not entry.object_type:
        return ""
    try:
        kind = str(apps.get_model(entry.object_type)._meta.verbose_name)
    except (LookupError, ValueError):
        kind = entry.object_type
    return f"{kind} #{entry.object_id}" if entry.object_id else kind


@login_required
@require_http_methods(["GET"])
def audit(request: HttpRequest) -> HttpResponse:
    """The audit log of the admin's clinics, newest first, filtered by actor, action
    prefix, member record and date range (days in the viewer's zone). A clinic, actor or
    member outside the admin's clinics is a 404.

    The member filter is a search: a name (or record number) finds up to
    ``MEMBER_SEARCH_LIMIT`` records, and the log shows entries about any of them, with
    links to narrow it to one (``member``, an id). Reading the log is a read of who saw
    whom, and the matches are named on the page: audited as ``members.audit.viewed`` with
    the records the page names (after its rows are read, so an entry never lists itself).
    """
    clinics = _admin_clinics(request)
    form = AuditFilterForm(
        request.GET or None,
        clinics=clinics,
        actors=audit_actor_choices(clinics=clinics),
        members=clinic_member_choices(clinics=clinics),
    )
    filters: dict[str, object] = {}
    shown_clinic_ids = [clinic.pk for clinic in clinics]
    chosen: Member | None = None
    matches: list[Member] | None = None
    if form.is_bound:
        if any(name in form.errors for name in ("clinic", "actor", "member")):
            raise Http404("No such clinic, person or member among yours.")
        if form.is_valid():
            data = form.cleaned_data
            if data.get("clinic"):
                clinics = clinics.filter(pk=data["clinic"].pk)
                shown_clinic_ids = [data["clinic"].pk]
            end = data.get("end")
            filters = {
                "actor_id": data["actor"].pk if data.get("actor") else None,
                "action": data.get("action", "").strip(),
                "start": form.day_start(data.get("start")),
                "end": form.day_start(end + dt.timedelta(days=1)) if end else None,
            }
            # A name typed wins over a record chosen before: it is the newer question.
            if data.get("member_name", "").strip():
                matches = clinic_member_search(clinics=clinics, text=data["member_name"])
                filters["member_ids"] = [member.pk for member in matches]
            elif data.get("member"):
                chosen = data["member"]
                filters["member_ids"] = [chosen.pk]
    entries = audit_entry_list(clinics=clinics, **filters)  # type: ignore[arg-type]
    page_obj = Paginator(entries, PER_PAGE).get_page(request.GET.get("page"))
    rows = [(entry, _object_label(entry)) for entry in page_obj.object_list]
    named = matches if matches is not None else [chosen] if chosen is not None else []
    audit_log_viewed(
        by=request.user,  # type: ignore[arg-type]
        clinic_ids=shown_clinic_ids,
        members=named,
    )
    return render(
        request,
        "members/audit_list.html",
        {
            "form": form,
            "page_obj": page_obj,
            "rows": rows,
            "query": query_without(request, "page"),
            "chosen": chosen,
            "matches": matches,
            "match_limit": MEMBER_SEARCH_LIMIT,
            "narrow_query": query_without(request, "page", "member", "member_name"),
            "several_clinics": len(shown_clinic_ids) > 1,
        },
    )


@login_required
@require_POST
def session_keepalive(request: HttpRequest) -> JsonResponse:
    """Answer "Stay signed in": it counts as activity (the idle clock restarts, the absolute
    one does not); says how long the session has left now. POST only, with the CSRF token."""
    clock = session_keep_alive(request.session)
    return JsonResponse(
        {
            "idle_remaining": clock.idle_remaining,
            "absolute_remaining": clock.absolute_remaining,
            "warning": clock.limits.warning,
        }
    )
