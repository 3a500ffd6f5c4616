"""The facilitator's group pages: create and edit a group, its page (stage, roster,
sessions), changing its stage and its schedule editor with a live preview.

Who may: a group's facilitators and its clinic's admins (``can_manage`` from
:func:`sessions.selectors.groups.group_list`). A group the viewer cannot see at all is a
404; one they see as a member is a 403. Creating a group: staff of a clinic.

Refusals of the services (:class:`groupcare.errors.DomainError`, and Django's
ValidationError for a group's fields) are shown next to the field they concern, or at the
top of the form, and the page is rendered again with status 200; nothing is written (the
services are atomic). The schedule preview answers 200 too, to htmx and to a plain GET.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from groupcare.errors import DomainError
from groupcare.forms import add_refusal
from groupcare.querystring import query_without
from members.models import Clinic
from sessions.enums import Stage
from sessions.forms.groups import ClinicChoiceForm, GroupForm, ScheduleForm, StageChangeForm
from sessions.models import Group, Schedule
from sessions.selectors.group_page import (
    group_roster_rows,
    group_seats,
    group_sessions_past,
    group_sessions_upcoming,
    group_sessions_upcoming_count,
    schedule_preview,
)
from sessions.selectors.groups import (
    group_list,
    schedule_summary,
    staff_clinic_list,
    stage_transition_list,
)
from sessions.services.groups import group_create, group_update, stage_change
from sessions.services.reads import roster_viewed
from sessions.services.scheduling import SERIES_NOTICE_AHEAD, schedule_set

PER_PAGE = 25
#: The next sessions shown at a time on the group page (the rest a page away).
UPCOMING_PER_PAGE = 10

_MANAGERS_ONLY = "Only the group's facilitators and the clinic's admins may open this page."


def _managed_group(request: HttpRequest, pk: int) -> Group:
    """The group, if the viewer runs it: 404 when they cannot see it, 403 when they see it
    only as a member."""
    group = get_object_or_404(group_list(user=request.user), pk=pk)
    if not group.can_manage:  # type: ignore[attr-defined]
        raise PermissionDenied(_MANAGERS_ONLY)
    return group


def _schedule_of(group: Group) -> Schedule | None:
    try:
        return group.schedule
    except Schedule.DoesNotExist:
        return None


# --- creating and editing ------------------------------------------------------------------


def _chosen_clinic(request: HttpRequest, clinics: list[Clinic]) -> Clinic | None:
    """The clinic the new group is for: the viewer's only one, or the ``?clinic=`` they
    chose (one where they are not staff is the API's 403); None when they must choose."""
    wanted = request.GET.get("clinic")
    if wanted:
        for clinic in clinics:
            if str(clinic.pk) == wanted:
                return clinic
        raise PermissionDenied("Only a clinic's admin or facilitators may create its groups.")
    return clinics[0] if len(clinics) == 1 else None


@login_required
@require_http_methods(["GET", "POST"])
def group_create_view(request: HttpRequest) -> HttpResponse:
    """Create a group in forming (``group_create``) in the viewer's clinic; staff of several
    clinics first choose one (``?clinic=``), which sets the form's choices."""
    clinics = list(staff_clinic_list(user=request.user))
    if not clinics:
        raise PermissionDenied("Only a clinic's admin or facilitators may create its groups.")
    clinic = _chosen_clinic(request, clinics)
    if clinic is None:
        choice = ClinicChoiceForm(clinics=clinics)
        return render(request, "sessions/group_form.html", {"clinic_choice": choice})

    user = request.user
    form_kwargs: dict[str, Any] = {"clinic": clinic, "user": user}
    if request.method == "POST":
        form = GroupForm(request.POST, **form_kwargs)
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                group = group_create(clinic=clinic, by=user, **data)  # type: ignore[arg-type]
            except (ValidationError, DomainError) as error:
                add_refusal(form, error)
            else:
                messages.success(request, f"Group “{group.name}” created. It starts in forming.")
                return redirect("sessions:group-detail", group.pk)
    else:
        form = GroupForm(**form_kwargs)
        # A facilitator usually leads the group they create.
        if form.fields["lead_facilitator"].queryset.filter(pk=user.pk).exists():  # type: ignore[attr-defined]
            form.initial["lead_facilitator"] = user.pk
    return render(
        request,
        "sessions/group_form.html",
        {"form": form, "clinic": clinic, "several_clinics": len(clinics) > 1},
    )


@login_required
@require_http_methods(["GET", "POST"])
def group_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a group's fields and co-facilitators (``group_update``)."""
    group = _managed_group(request, pk)
    form_kwargs: dict[str, Any] = {
        "clinic": group.clinic,
        "user": request.user,
        "group": group,
    }
    if request.method == "POST":
        form = GroupForm(request.POST, **form_kwargs)
        if form.is_valid():
            data = dict(form.cleaned_data)
            co_facilitators = data.pop("co_facilitators")
            try:
                group_update(
                    group=group,
                    by=request.user,  # type: ignore[arg-type]
                    co_facilitators=co_facilitators,
                    **data,
                )
            except (ValidationError, DomainError) as error:
                add_refusal(form, error)
            else:
                messages.success(request, "The group's details are saved.")
                return redirect("sessions:group-detail", group.pk)
    else:
        form = GroupForm(initial=GroupForm.initial_for(group), **form_kwargs)
    return render(
        request, "sessions/group_form.html", {"form": form, "group": group, "clinic": group.clinic}
    )


# --- the group page ------------------------------------------------------------------------


@login_required
@require_safe
def group_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The group page: header (modality, stage, seats), stage timeline and guidance, the
    roster (audited as the API's roster is: ``sessions.roster.viewed``), the upcoming and
    the past sessions with attendance rates (each list paged on its own: past sessions
    ``?page=``, upcoming ``?upcoming=``, roster ``?roster=``)."""
    group = _managed_group(request, pk)
    now = timezone.now()
    roster = Paginator(group_roster_rows(group=group), PER_PAGE).get_page(request.GET.get("roster"))
    roster_viewed(
        group=group,
        member_ids=[enrolment.member_id for enrolment in roster],
        by=request.user,  # type: ignore[arg-type]
    )
    past = Paginator(group_sessions_past(group=group, now=now), PER_PAGE).get_page(
        request.GET.get("page")
    )
    upcoming = Paginator(group_sessions_upcoming(group=group, now=now), UPCOMING_PER_PAGE).get_page(
        request.GET.get("upcoming")
    )
    schedule = _schedule_of(group)
    context = {
        "group": group,
        "clinic_tz": group.clinic.timezone,
        "stage": Stage(group.stage),
        "seats": group_seats(group=group),
        "transitions": stage_transition_list(group=group),
        "roster": roster,
        "roster_query": query_without(request, "roster"),
        "past": past,
        "past_query": query_without(request, "page"),
        "upcoming": upcoming,
        "upcoming_query": query_without(request, "upcoming"),
        "schedule_summary": schedule_summary(schedule, group.clinic.timezone) if schedule else "",
    }
    return render(request, "sessions/group_detail.html", context)


# --- stage ---------------------------------------------------------------------------------


def _stage_error_field(form: StageChangeForm, group: Group) -> str | None:
    """Which field a refusal of ``stage_change`` concerns, from what was asked: the final
    session's date for anything about adjourning, the note for a move back, the stage for
    the rest."""
    data = form.cleaned_data
    to = Stage(data["to"])
    if to == Stage.ADJOURNING or data.get("final_session_date") is not None:
        return "final_session_date"
    if to.order < Stage(group.stage).order and not data.get("note", "").strip():
        return "note"
    return "to"


@login_required
@require_http_methods(["GET", "POST"])
def group_stage_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Move the group to another stage (``stage_change``)."""
    group = _managed_group(request, pk)
    if request.method == "POST":
        form = StageChangeForm(request.POST, group=group)
        if form.is_valid():
            to = Stage(form.cleaned_data["to"])
            try:
                stage_change(
                    group=group,
                    to=to,
                    by=request.user,  # type: ignore[arg-type]
                    note=form.cleaned_data["note"],
                    final_session_date=form.cleaned_data["final_session_date"],
                )
            except DomainError as error:
                add_refusal(form, error, _stage_error_field(form, group))
            else:
                messages.success(request, f"The group is now {to.label.lower()}.")
                return redirect("sessions:group-detail", group.pk)
    else:
        form = StageChangeForm(group=group)
    return render(
        request,
        "sessions/group_stage.html",
        {"group": group, "stage": Stage(group.stage), "form": form},
    )


# --- schedule ------------------------------------------------------------------------------


def _schedule_context(group: Group, form: ScheduleForm) -> dict[str, Any]:
    """The schedule page's context, with the preview of a valid form (of the saved schedule
    for the unbound form)."""
    preview = None
    schedule = _schedule_of(group)
    if not form.is_bound and schedule is not None:
        preview = schedule_preview(
            group=group,
            rrule=schedule.rrule,
            first_date=schedule.first_date,
            start_time=schedule.start_time,
            duration_minutes=schedule.duration_minutes,
        )
    elif form.is_bound and form.is_valid():
        data = form.cleaned_data
        preview = schedule_preview(
            group=group,
            rrule=data["rule"],
            first_date=data["first_date"],
            start_time=data["start_time"],
            duration_minutes=data["duration_minutes"],
        )
    return {
        "group": group,
        "clinic_tz": group.clinic.timezone,
        "form": form,
        "preview": preview,
        "upcoming_count": group_sessions_upcoming_count(group=group),
        "notice_days": SERIES_NOTICE_AHEAD.days,
        "has_schedule": schedule is not None,
    }


@login_required
@require_http_methods(["GET", "POST"])
def group_schedule_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The schedule editor; saving calls ``schedule_set``, which brings the group's future
    sessions in line and tells members of moved sessions in the next two weeks."""
    group = _managed_group(request, pk)
    if request.method == "POST":
        form = ScheduleForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                sessions = schedule_set(
                    group=group,
                    rrule=data["rule"],
                    first_date=data["first_date"],
                    start_time=data["start_time"],
                    duration_minutes=data["duration_minutes"],
                    by=request.user,  # type: ignore[arg-type]
                )
            except DomainError as error:
                add_refusal(form, error)
            else:
                messages.success(request, f"Schedule saved: {len(sessions)} sessions from now on.")
                return redirect("sessions:group-detail", group.pk)
        return render(request, "sessions/group_schedule.html", _schedule_context(group, form))
    form = ScheduleForm(initial=ScheduleForm.initial_for(_schedule_of(group)))
    return render(request, "sessions/group_schedule.html", _schedule_context(group, form))


@login_required
@require_safe
def group_schedule_preview_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The next dates of the schedule in the query string, with the clock changes inside
    the series: the ``preview`` fragment for htmx, the whole editor (form kept) without."""
    group = _managed_group(request, pk)
    form = ScheduleForm(request.GET)
    context = _schedule_context(group, form)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "sessions/group_schedule.html#preview", context)
    return render(request, "sessions/group_schedule.html", context)
