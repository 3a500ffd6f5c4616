"""The end of a member record: an admin anonymises a discharged member's record once the
clinic's retention period is over (:func:`member_anonymise`).

Who. An admin of the member's clinic. Anyone who may read the record but not do this (the
facilitators of the member's groups, the member themself) gets a 403; anyone who may not
read it, a 404. Anonymous viewers are sent to sign in.

The page says what will happen and, while it is not allowed yet, why not (an open
enrolment, the retention period still running, already done); POST does it and goes to
the clinic's member list with a message, or shows the refusal on the page (status 200).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods

from groupcare.errors import DomainError
from members.models import Member
from members.services import member_record_viewed
from sessions.forms.enrolment import EmptyForm
from sessions.models import Enrolment
from sessions.permissions import can_anonymise_member
from sessions.selectors.enrolment import member_visible_list
from sessions.services.member_privacy import (
    ANONYMISED_NAME,
    member_anonymise,
    member_anonymise_refusal,
)

ADMINS_ONLY = "Only an admin of the member's clinic may anonymise a member record."


def _people_url(member: Member) -> str:
    return (
        reverse("members:people") + "?" + urlencode({"clinic": member.clinic_id, "show": "member"})
    )


def _back_url(member: Member) -> str:
    """The member's latest enrolment page, else the clinic's member list."""
    latest = (
        Enrolment.objects.filter(member_id=member.pk)
        .order_by("-referred_at", "-pk")
        .values_list("pk", flat=True)
        .first()
    )
    if latest is None:
        return _people_url(member)
    return reverse("sessions:enrolment-detail", args=[latest])


def _consequences(member: Member) -> list[str]:
    label = ANONYMISED_NAME.format(pk=member.pk)
    lines = [
        f"{member.preferred_name}'s names, e-mail address, phone number, emergency contact "
        f"and time zone are erased for good. The record is called “{label}” from then on.",
        "The notes written about them are erased: why they left, the screening notes and "
        "support plan, a screening override's reason, the reasons given for attendance "
        "amendments. Screening findings and outcomes stay, without a name.",
        "Their enrolments, agreement acceptances and attendance stay: attendance exports "
        "and summaries count them as before, under the new name.",
        "Messages still waiting to be sent to them are cancelled, and their calendar link "
        "stops working.",
    ]
    if member.user_id is not None:
        lines.append(
            "Their login is unlinked from this record and loses its member role in this "
            "clinic. If it is used for nothing else, it is switched off: it can no longer "
            "sign in, its API tokens stop working and its e-mail address is released."
        )
    lines.append("This cannot be undone. The audit log records that you did it, with ids only.")
    return lines


@login_required
@require_http_methods(["GET", "POST"])
def member_anonymise_view(request: HttpRequest, pk: int) -> HttpResponse:
    """GET/POST ``/members/<pk>/anonymise/`` (see the module's docstring)."""
    member = get_object_or_404(member_visible_list(user=request.user), pk=pk)
    if not can_anonymise_member(request.user, member):
        raise PermissionDenied(ADMINS_ONLY)
    form = EmptyForm(request.POST if request.method == "POST" else None)
    refusal = None
    if request.method == "POST" and form.is_valid():
        try:
            member = member_anonymise(member=member, by=request.user)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                f"The record is anonymised. It is now “{member.preferred_name}”; its "
                "attendance still counts.",
            )
            return redirect(_people_url(member))
    else:
        refusal = member_anonymise_refusal(member=member)
    member_record_viewed(member=member, by=request.user)
    return render(
        request,
        "sessions/member_anonymise.html",
        {
            "title": f"Anonymise {member.preferred_name}'s record",
            "member": member,
            "consequences": _consequences(member),
            "refusal": refusal,
            "form": form,
            "action_label": "Anonymise the record",
            "cancel_url": _back_url(member),
        },
    )
