"""Enrolment pages: add a member to a group, an enrolment's page with its next steps, and
the screening form.

Who. The group's facilitators and the clinic's admins (``can_manage``, from the selectors
the API uses in :mod:`sessions.api.enrolments.views`). What the viewer cannot see is a 404;
the member themselves sees their own enrolment (and a member of the group sees the group)
but may not manage it: 403. Anonymous viewers are sent to sign in.

Writes. Every button calls one service; the rules (seats, screening, who may override,
which status may change to which) live there. A refusal (:class:`DomainError`) is shown on
the page it came from with status 200: next to the field it concerns, else at the top of
the form; the buttons of the enrolment page re-render that page with the message at the top.
Success redirects (POST/redirect/GET) with a message.

Audit. The enrolment page shows the member's record (contact details): ``members.member.
viewed`` (also when a refused button shows it again). The add page lists member records:
``members.member.listed``. The screening page shows the latest screening's findings:
``sessions.screening.viewed``, as the API does (``sessions.enrolment.viewed`` while there
is none). The pages that confirm an ending name the member: ``sessions.enrolment.viewed``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST

from groupcare.errors import DomainError
from members.permissions import is_clinic_admin
from members.services import member_record_viewed, member_records_listed
from sessions.enums import OPEN_ENROLMENT_STATUSES, EnrolmentStatus, ScreeningOutcome
from sessions.forms.enrolment import (
    ActivateForm,
    EmptyForm,
    LeaveForm,
    MemberCreateForm,
    MemberSearchForm,
    ReferExistingForm,
    ScreeningForm,
)
from sessions.models import Enrolment, Group
from sessions.selectors.enrolment import (
    SUITABLE_OUTCOMES,
    enrolment_group_choices,
    enrolment_scoped_list,
    member_list,
    pending_offer_get,
    screening_latest_detail,
    seats_taken,
)
from sessions.selectors.groups import agreement_current_with_acceptance
from sessions.services.agreements import agreement_accept
from sessions.services.enrolment import (
    enrolment_activate,
    enrolment_complete,
    enrolment_decline,
    enrolment_discharge,
    enrolment_refer,
    enrolment_refer_new_member,
    enrolment_waitlist,
    enrolment_withdraw,
    screening_record,
    screening_viewed,
)
from sessions.services.reads import enrolment_viewed
from sessions.services.waitlist import (
    waitlist_offer_accept,
    waitlist_offer_decline,
    waitlist_offer_next,
)

MANAGERS_ONLY = "Only the group's facilitators and a clinic admin may do this."
MEMBERS_PER_PAGE = 25

#: Statuses from which a member may still take a seat (or wait for one).
_JOINING_STATUSES = (
    EnrolmentStatus.REFERRED,
    EnrolmentStatus.SCREENING,
    EnrolmentStatus.WAITLISTED,
)
_STATUS_BADGES = {
    EnrolmentStatus.WAITLISTED: "warn",
    EnrolmentStatus.ACTIVE: "ok",
    EnrolmentStatus.COMPLETED: "ok",
    EnrolmentStatus.DISCHARGED: "danger",
}
_OUTCOME_BADGES = {
    ScreeningOutcome.SUITABLE: "ok",
    ScreeningOutcome.SUITABLE_WITH_SUPPORT: "warn",
    ScreeningOutcome.NOT_SUITABLE: "danger",
}


# --------------------------------------------------------------------------- lookups


def _managed_group(request: HttpRequest, pk: int) -> Group:
    group = get_object_or_404(
        enrolment_group_choices(user=request.user).select_related("clinic"), pk=pk
    )
    if not group.can_manage:
        raise PermissionDenied(MANAGERS_ONLY)
    return group


def _managed_enrolment(request: HttpRequest, pk: int) -> Enrolment:
    enrolment = get_object_or_404(
        enrolment_scoped_list(user=request.user).select_related(
            "group__clinic", "screening_override_by"
        ),
        pk=pk,
    )
    if not enrolment.can_manage:
        raise PermissionDenied(MANAGERS_ONLY)
    return enrolment


def _posted(request: HttpRequest) -> Any:
    """The POST data to bind a form to (an empty POST still binds), None on a GET."""
    return request.POST if request.method == "POST" else None


def _detail_url(enrolment: Enrolment) -> str:
    return reverse("sessions:enrolment-detail", args=[enrolment.pk])


# --------------------------------------------------------------------------- add


@login_required
@require_http_methods(["GET", "POST"])
def enrolment_add(request: HttpRequest, pk: int) -> HttpResponse:
    """GET/POST ``/groups/<pk>/enrol/``: refer a member of the group's clinic to the group.

    Either an existing record the viewer may manage (found by name; the list is paginated
    and audited) or a new record created here. A new record and its referral are one
    transaction: a refused referral leaves no orphan record behind. An htmx GET answers
    with the search results only (``#results``).
    """
    group = _managed_group(request, pk)
    clinic_members = member_list(user=request.user).filter(clinic_id=group.clinic_id)
    search = MemberSearchForm(request.GET or None)
    q = search.cleaned_data["q"] if search.is_valid() else ""
    refer_form = ReferExistingForm(members=clinic_members)
    create_form = MemberCreateForm()
    refusal: DomainError | None = None

    if request.method == "POST":
        intent = request.POST.get("intent")
        try:
            if intent == "new":
                create_form = MemberCreateForm(request.POST)
                if create_form.is_valid():
                    enrolment = enrolment_refer_new_member(
                        group=group, by=request.user, **create_form.cleaned_data
                    )
                    return _referred(request, enrolment, enrolment.member.preferred_name, group)
            else:
                refer_form = ReferExistingForm(request.POST, members=clinic_members)
                if refer_form.is_valid():
                    member = refer_form.cleaned_data["member"]
                    enrolment = enrolment_refer(group=group, member=member, by=request.user)
                    return _referred(request, enrolment, member.preferred_name, group)
        except ValidationError as exc:
            create_form.add_error(None, exc)
        except DomainError as exc:
            refusal = exc
            (create_form if intent == "new" else refer_form).add_error(None, exc.message)

    candidates = member_list(user=request.user, q=q or None).filter(clinic_id=group.clinic_id)
    page = Paginator(candidates, MEMBERS_PER_PAGE).get_page(request.GET.get("page"))
    member_records_listed(members=page.object_list, by=request.user, obj=group)
    context: dict[str, Any] = {
        "group": group,
        "search": search,
        "q": q,
        "page_obj": page,
        "query": urlencode({"q": q}) if q else "",
        "refer_form": refer_form,
        "create_form": create_form,
        "conflict_url": (
            reverse("sessions:enrolment-detail", args=[refusal.conflict_id])
            if refusal is not None and refusal.conflict_id
            else ""
        ),
    }
    if request.htmx and request.method == "GET":
        return render(request, "sessions/enrolment_add.html#results", context)
    return render(request, "sessions/enrolment_add.html", context)


def _referred(request: HttpRequest, enrolment: Enrolment, name: str, group: Group) -> HttpResponse:
    messages.success(request, f"{name} is referred to {group.name}. Screen them next.")
    return redirect(_detail_url(enrolment))


# --------------------------------------------------------------------------- detail


def _render_detail(
    request: HttpRequest,
    enrolment: Enrolment,
    *,
    error: str = "",
    activate_form: ActivateForm | None = None,
) -> HttpResponse:
    """The enrolment page: the member's record (audited), the group, the status, the
    latest screening's outcome (not its findings), the place in line or the offer, the
    agreement, and the next steps that the status allows."""
    group = enrolment.group
    member = enrolment.member
    member_record_viewed(member=member, by=request.user)
    offer = pending_offer_get(enrolment=enrolment)
    agreement, acceptance = agreement_current_with_acceptance(group=group, member=member)
    status = enrolment.status
    is_open = status in OPEN_ENROLMENT_STATUSES
    joining = status in _JOINING_STATUSES
    screening_clears = enrolment.screening_outcome in SUITABLE_OUTCOMES or bool(
        enrolment.screening_override_reason
    )
    is_admin = is_clinic_admin(request.user, group.clinic)
    needs_override = joining and offer is None and not screening_clears
    if activate_form is not None and activate_form.errors and not (needs_override and is_admin):
        # The reason field is shown to a clinic admin only: anyone else reads its refusal
        # at the top of the page.
        error = error or " ".join(m for msgs in activate_form.errors.values() for m in msgs)
    taken = seats_taken(group=group)
    # Offered to a clinic admin once every enrolment of the member has ended; the page it
    # leads to says whether the retention period is over.
    can_anonymise = (
        is_admin
        and not is_open
        and member.anonymised_at is None
        and not Enrolment.objects.filter(
            member_id=member.pk, status__in=OPEN_ENROLMENT_STATUSES
        ).exists()
    )
    context = {
        "enrolment": enrolment,
        "group": group,
        "member": member,
        "clinic_tz": group.clinic.timezone,
        "status_badge": _STATUS_BADGES.get(status, ""),
        "outcome_badge": _OUTCOME_BADGES.get(enrolment.screening_outcome, ""),
        "outcome_label": (
            ScreeningOutcome(enrolment.screening_outcome).label
            if enrolment.screening_outcome
            else ""
        ),
        "offer": offer,
        "agreement": agreement,
        "acceptance": acceptance,
        "seats_taken": taken,
        "is_open": is_open,
        "can_screen": is_open,
        "can_activate": joining and offer is None and (screening_clears or is_admin),
        "needs_override": needs_override,
        "can_override": is_admin,
        "can_waitlist": status in (EnrolmentStatus.REFERRED, EnrolmentStatus.SCREENING)
        and screening_clears,
        "can_offer_next": status == EnrolmentStatus.WAITLISTED
        and offer is None
        and taken < group.max_size,
        "can_record_paper": is_open and agreement is not None and acceptance is None,
        "can_complete": status == EnrolmentStatus.ACTIVE,
        "can_decline": joining,
        "can_anonymise": can_anonymise,
        "activate_form": activate_form or ActivateForm(),
        "error": error,
    }
    return render(request, "sessions/enrolment_detail.html", context)


@login_required
@require_http_methods(["GET"])
def enrolment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """GET ``/enrolments/<pk>/``: the enrolment page (see :func:`_render_detail`)."""
    return _render_detail(request, _managed_enrolment(request, pk))


def _after(request: HttpRequest, enrolment: Enrolment, text: str) -> HttpResponse:
    messages.success(request, text)
    return redirect(_detail_url(enrolment))


@login_required
@require_POST
def enrolment_activate_view(request: HttpRequest, pk: int) -> HttpResponse:
    """POST ``/enrolments/<pk>/activate/``: a seat, or a place in line when the group is
    full (:func:`enrolment_activate`); a clinic admin may send an override reason."""
    enrolment = _managed_enrolment(request, pk)
    form = ActivateForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, enrolment, activate_form=form)
    try:
        enrolment = enrolment_activate(
            enrolment=enrolment,
            by=request.user,
            override_reason=form.cleaned_data["override_reason"],
        )
    except DomainError as exc:
        if form.cleaned_data["override_reason"]:
            form.add_error("override_reason", exc.message)
            return _render_detail(request, enrolment, activate_form=form)
        return _render_detail(request, enrolment, error=exc.message, activate_form=form)
    name = enrolment.member.preferred_name
    if enrolment.status == EnrolmentStatus.ACTIVE:
        return _after(request, enrolment, f"{name} has a seat in the group from today.")
    return _after(request, enrolment, f"The group is full: {name} is on the waitlist.")


@login_required
@require_POST
def enrolment_waitlist_view(request: HttpRequest, pk: int) -> HttpResponse:
    """POST ``/enrolments/<pk>/waitlist/``: put the member in line even if a seat is free
    (:func:`enrolment_waitlist`)."""
    enrolment = _managed_enrolment(request, pk)
    try:
        enrolment_waitlist(enrolment=enrolment, by=request.user)
    except DomainError as exc:
        return _render_detail(request, enrolment, error=exc.message)
    return _after(request, enrolment, f"{enrolment.member.preferred_name} is on the waitlist.")


@login_required
@require_POST
def enrolment_offer_accept_view(request: HttpRequest, pk: int) -> HttpResponse:
    """POST ``/enrolments/<pk>/offer/accept/``: take up the offered seat on the member's
    behalf (:func:`waitlist_offer_accept`)."""
    enrolment = _managed_enrolment(request, pk)
    offer = pending_offer_get(enrolment=enrolment)
    if offer is None:
        return _render_detail(request, enrolment, error="There is no open offer to accept.")
    try:
        waitlist_offer_accept(offer=offer, by=request.user)
    except DomainError as exc:
        return _render_detail(request, enrolment, error=exc.message)
    return _after(
        request, enrolment, f"{enrolment.member.preferred_name} has taken up the offered seat."
    )


@login_required
@require_POST
def enrolment_offer_next_view(request: HttpRequest, pk: int) -> HttpResponse:
    """POST ``/enrolments/<pk>/offer/next/``: offer a free seat of the enrolment's group to
    the first eligible member in line (:func:`waitlist_offer_next`), who may not be this
    one."""
    enrolment = _managed_enrolment(request, pk)
    offer = waitlist_offer_next(group=enrolment.group, by=request.user)
    if offer is None:
        return _render_detail(
            request,
            enrolment,
            error="No seat was offered: the group has no free seat, takes no new members, "
            "or no one in line can be offered one in this round.",
        )
    if offer.enrolment_id == enrolment.pk:
        return _after(request, enrolment, "The free seat is offered to this member.")
    return _after(request, enrolment, "The free seat is offered to the next member in line.")


@login_required
@require_POST
def enrolment_agreement_paper(request: HttpRequest, pk: int) -> HttpResponse:
    """POST ``/enrolments/<pk>/agreement/paper/``: record the member's paper signature of
    the group's current agreement (:func:`agreement_accept`, method "paper"); idempotent."""
    enrolment = _managed_enrolment(request, pk)
    agreement, _acceptance = agreement_current_with_acceptance(
        group=enrolment.group, member=enrolment.member
    )
    if agreement is None:
        return _render_detail(request, enrolment, error="This group has no agreement yet.")
    try:
        agreement_accept(
            agreement=agreement, member=enrolment.member, by=request.user, method="paper"
        )
    except DomainError as exc:
        return _render_detail(request, enrolment, error=exc.message)
    return _after(
        request,
        enrolment,
        f"The paper signature of agreement version {agreement.version} is recorded.",
    )


# --------------------------------------------------------------------------- confirmed


@dataclass(frozen=True)
class _Ending:
    """One way an enrolment closes, as its confirmation page tells it."""

    service: Callable[..., Enrolment]
    title: str
    action_label: str
    consequences: tuple[str, ...]
    done: str
    takes_note: bool = True


_SEAT_MOVES_ON = (
    "If this frees a seat, or a seat was being held for them, it is offered to the next "
    "member on the waitlist, who is told by e-mail when the clinic has their address."
)
_NO_MESSAGE = "{name} is not sent a message about this; tell them yourself."

ENDINGS: dict[str, _Ending] = {
    "complete": _Ending(
        service=enrolment_complete,
        title="Mark {name} as having completed {group}",
        action_label="Mark completed",
        consequences=(
            "{name} completes the group; they are not expected at any session from today "
            "on and get no more reminders for it.",
            _SEAT_MOVES_ON,
            _NO_MESSAGE,
        ),
        done="{name} has completed the group.",
    ),
    "withdraw": _Ending(
        service=enrolment_withdraw,
        title="Withdraw {name} from {group}",
        action_label="Withdraw",
        consequences=(
            "{name} leaves the group of their own accord and is marked withdrawn; if they "
            "had a seat, they are not expected at any session from today on and get no "
            "more reminders.",
            _SEAT_MOVES_ON,
            _NO_MESSAGE,
        ),
        done="{name} is withdrawn from the group.",
    ),
    "discharge": _Ending(
        service=enrolment_discharge,
        title="Discharge {name} from {group}",
        action_label="Discharge",
        consequences=(
            "The clinic ends {name}'s place in the group; if they had a seat, they are not "
            "expected at any session from today on and get no more reminders.",
            _SEAT_MOVES_ON,
            _NO_MESSAGE,
        ),
        done="{name} is discharged from the group.",
    ),
    "decline": _Ending(
        service=enrolment_decline,
        title="Decline {name}'s referral to {group}",
        action_label="Decline the referral",
        consequences=(
            "{name} will not join the group; to enrol them later, refer them again.",
            "If a seat was being held for them, it is offered to the next member on the "
            "waitlist, who is told by e-mail when the clinic has their address.",
            _NO_MESSAGE,
        ),
        done="{name}'s referral is declined.",
        takes_note=False,
    ),
}


def _confirm(
    request: HttpRequest,
    enrolment: Enrolment,
    *,
    title: str,
    consequences: list[str],
    form: Any,
    action_label: str,
) -> HttpResponse:
    enrolment_viewed(enrolment=enrolment, by=request.user)  # type: ignore[arg-type]
    return render(
        request,
        "components/confirm.html",
        {
            "title": title,
            "consequences": consequences,
            "form": form,
            "action_label": action_label,
            "cancel_url": _detail_url(enrolment),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def enrolment_end(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """GET/POST ``/enrolments/<pk>/{complete,withdraw,discharge,decline}/``: a page that
    says what will happen and who is told, then the service of that name. A refusal is
    shown on the confirmation page (status 200)."""
    ending = ENDINGS[action]
    enrolment = _managed_enrolment(request, pk)
    names = {"name": enrolment.member.preferred_name, "group": enrolment.group.name}
    form_class = LeaveForm if ending.takes_note else EmptyForm
    form = form_class(_posted(request))
    if request.method == "POST" and form.is_valid():
        note = {"note": form.cleaned_data["note"]} if ending.takes_note else {}
        try:
            ending.service(enrolment=enrolment, by=request.user, **note)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            return _after(request, enrolment, ending.done.format(**names))
    return _confirm(
        request,
        enrolment,
        title=ending.title.format(**names),
        consequences=[line.format(**names) for line in ending.consequences],
        form=form,
        action_label=ending.action_label,
    )


@login_required
@require_http_methods(["GET", "POST"])
def enrolment_offer_decline_view(request: HttpRequest, pk: int) -> HttpResponse:
    """GET/POST ``/enrolments/<pk>/offer/decline/``: turn down the offered seat on the
    member's behalf (:func:`waitlist_offer_decline`), after a confirmation page."""
    enrolment = _managed_enrolment(request, pk)
    offer = pending_offer_get(enrolment=enrolment)
    if offer is None:
        return _render_detail(request, enrolment, error="There is no open offer to decline.")
    name = enrolment.member.preferred_name
    form = EmptyForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            waitlist_offer_decline(offer=offer, by=request.user)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            return _after(request, enrolment, f"{name} turned down the seat and stays in line.")
    return _confirm(
        request,
        enrolment,
        title=f"Decline the seat offered to {name}",
        consequences=[
            f"{name} turns down the seat and stays on the waitlist in their place, but is "
            "not offered a seat again until another member leaves the group.",
            "The seat is offered to the next member in line, who is told by e-mail when "
            "the clinic has their address.",
            _NO_MESSAGE.format(name=name),
        ],
        form=form,
        action_label="Decline the offer",
    )


# --------------------------------------------------------------------------- screening


@login_required
@require_http_methods(["GET", "POST"])
def enrolment_screening(request: HttpRequest, pk: int) -> HttpResponse:
    """GET/POST ``/enrolments/<pk>/screening/``: the latest screening (its reading is
    audited, as in the API) and the form to record a new one (:func:`screening_record`).

    The latest screening is the one that counts; a new one does not change an earlier one.
    Field errors show next to their field, a refusal at the top of the form (status 200).
    """
    enrolment = _managed_enrolment(request, pk)
    form = ScreeningForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            screening = screening_record(
                enrolment=enrolment,
                by=request.user,
                findings=form.findings(),
                outcome=form.cleaned_data["outcome"],
                support_plan=form.cleaned_data["support_plan"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            return _after(
                request,
                enrolment,
                f"Screening recorded: {screening.get_outcome_display().lower()}.",
            )
    latest = screening_latest_detail(enrolment=enrolment)
    if latest is not None:
        screening_viewed(screening=latest, enrolment=enrolment, by=request.user)
    else:
        enrolment_viewed(enrolment=enrolment, by=request.user)  # type: ignore[arg-type]
    findings = (
        [
            {
                "label": form[area].label,
                "finding": getattr(latest, f"get_{area}_display")(),
                "value": getattr(latest, area),
                "note": getattr(latest, f"{area}_note"),
            }
            for area in latest.AREAS
        ]
        if latest is not None
        else []
    )
    return render(
        request,
        "sessions/enrolment_screening.html",
        {
            "enrolment": enrolment,
            "group": enrolment.group,
            "member": enrolment.member,
            "clinic_tz": enrolment.group.clinic.timezone,
            "latest": latest,
            "latest_findings": findings,
            "outcome_badge": _OUTCOME_BADGES.get(latest.outcome, "") if latest else "",
            "form": form,
            "can_screen": enrolment.status in OPEN_ENROLMENT_STATUSES,
        },
    )
