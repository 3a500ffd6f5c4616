"""A member's own pages: their meetings, "I can't come", their groups and agreement, and
their settings (reminders, time zone, calendar link).

Who: a signed-in person with a member record linked to their login, in a clinic where they
still hold the member role (as ``/api/v1/me/reminders/``). Anyone else signed in gets a 403
(staff have their own pages); anonymous visitors go to the sign-in page. An object that is
not theirs (another member's session, a group they are not in) is a 404.

A person who is a member in several clinics has a record per clinic: the meetings and
groups pages list everything across all of them; the settings page shows one form per
record, labelled with the clinic's name (reminders and time zone are per record).

Forms with errors are re-rendered with status 200, the error next to its field; a refusal
of a service (a :class:`~groupcare.errors.DomainError`) is shown as the form's message.

Audit. A member reading their own data is audited as staff's reads of it are: their
attendance (meetings, "I can't come": ``sessions.attendance.viewed``), their enrolments and
agreements (groups: ``sessions.enrolment.viewed``) and their record's settings
(``members.member.viewed``). The calendar-link pages show no member data.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_safe

from groupcare.errors import DomainError
from groupcare.forms import add_refusal
from groupcare.querystring import query_without
from members.models import Member, User
from members.services import member_records_listed
from members.templatetags.viewer import local_datetime
from members.viewer import viewer_timezone_forget
from sessions.enums import (
    OPEN_ENROLMENT_STATUSES,
    AcceptanceMethod,
    AttendanceStatus,
    SessionStatus,
)
from sessions.forms.me import AgreementAcceptForm, CantComeForm, ReminderSettingsForm
from sessions.models import (
    Agreement,
    AgreementAcceptance,
    Enrolment,
    Group,
    GroupSession,
    Schedule,
)
from sessions.selectors.calendar_feeds import calendar_feed_live, calendar_feed_url
from sessions.selectors.group_sessions import group_session_list, me_session_list
from sessions.selectors.groups import member_record_in_group, schedule_summary
from sessions.selectors.me import (
    member_group_list,
    member_group_standing,
    member_own_records,
    member_past_attendance,
)
from sessions.selectors.member_data import member_data_export, member_data_records
from sessions.services.agreements import agreement_accept
from sessions.services.attendance import CANT_ATTEND_STATUSES, attendance_cant_attend
from sessions.services.calendar_feeds import calendar_feed_issue, calendar_feed_revoke
from sessions.services.member_privacy import member_data_exported
from sessions.services.notifications import member_update_with_reminders
from sessions.services.reads import ENROLMENT_VIEWED, attendance_viewed, enrolments_viewed

PAGE_SIZE = 25
NOT_A_MEMBER = "These pages are for members of a group. Your own pages are in the menu above."


def _own_records(user: User) -> list[Member]:
    """The member records linked to ``user`` in clinics where they hold the member role,
    by clinic name; a 403 when there are none. One query."""
    records = member_own_records(user=user)
    if not records:
        raise PermissionDenied(NOT_A_MEMBER)
    return records


# --- meetings ----------------------------------------------------------------------------


@login_required
@require_safe
def me_meetings(request: HttpRequest) -> HttpResponse:
    """GET ``/me/meetings/``: the next meeting, the ones after it (``?page=``), and the
    member's own recorded attendance at past meetings (``?past_page=``).

    Upcoming: :func:`me_session_list` narrowed to the sessions where the viewer holds a
    seat as a member (a person who also facilitates elsewhere sees those on their staff
    pages). Past: their own attendance rows only, from the scoped attendance queryset.
    """
    records = _own_records(request.user)
    now = timezone.now()
    upcoming = me_session_list(user=request.user, now=now).filter(has_seat=True)
    page = Paginator(upcoming, PAGE_SIZE).get_page(request.GET.get("page"))
    sessions = list(page.object_list)
    next_session = sessions.pop(0) if page.number == 1 and sessions else None

    past = member_past_attendance(user=request.user, records=records, now=now)
    past_page = Paginator(past, PAGE_SIZE).get_page(request.GET.get("past_page"))
    attendance_viewed(
        by=request.user,  # type: ignore[arg-type]
        members=[
            *((row.session.group.clinic_id, row.member_id) for row in past_page),
            *(
                (session.group.clinic_id, session.own_attendance_member_id)  # type: ignore[attr-defined]
                for session in page
                if session.own_attendance is not None  # type: ignore[attr-defined]
            ),
        ],
    )
    return render(
        request,
        "sessions/me_meetings.html",
        {
            "next_session": next_session,
            "next_notice": _notice(next_session, now) if next_session else None,
            "sessions": sessions,
            "page_obj": page,
            "query": query_without(request, "page"),
            "past_page": past_page,
            "past_query": query_without(request, "past_page"),
            "cant_come_statuses": [str(s) for s in CANT_ATTEND_STATUSES],
        },
    )


@dataclasses.dataclass(frozen=True)
class Notice:
    """The group's late-cancel rule (:func:`attendance_cant_attend`) for one session, to
    explain it before the member says they can't come."""

    hours: int
    deadline: dt.datetime
    excused_now: bool


def _notice(session: GroupSession, now: dt.datetime) -> Notice:
    hours = session.group.late_cancel_notice_hours
    deadline = session.start - dt.timedelta(hours=hours)
    return Notice(hours=hours, deadline=deadline, excused_now=now <= deadline)


@login_required
@require_http_methods(["GET", "POST"])
def me_cant_come(request: HttpRequest, session_pk: int) -> HttpResponse:
    """GET ``/me/meetings/<session_pk>/cant-come/``: what saying "I can't come" does; POST:
    say it (:func:`attendance_cant_attend`) and go back to my meetings with a message.

    A session the viewer cannot see, or of a group where they have no enrolment of their
    own, is a 404. A refusal (cancelled, already started, not expected) is shown on the
    page with status 200. An htmx POST gets a 204 with ``HX-Redirect`` to my meetings.
    """
    _own_records(request.user)
    session = get_object_or_404(group_session_list(user=request.user), pk=session_pk)
    own = member_record_in_group(user=request.user, group=session.group)
    if own is None:
        raise Http404("No such meeting of yours.")
    now = timezone.now()
    form = CantComeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            row = attendance_cant_attend(session=session, member=own.member, by=request.user)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            when = local_datetime(session.start, session.group.clinic.timezone)
            recorded = (
                "an excused absence"
                if row.status == AttendanceStatus.EXCUSED
                else "a late cancellation"
            )
            messages.success(
                request,
                f"Thank you for letting us know. Your facilitators can see that you can't come "
                f"on {when}. It is recorded as {recorded}.",
            )
            target = reverse("sessions:me-meetings")
            if request.htmx:
                return HttpResponse(status=204, headers={"HX-Redirect": target})
            return redirect(target)
    attendance_viewed(
        by=request.user,  # type: ignore[arg-type]
        members=[(session.group.clinic_id, own.member_id)],
        obj=session,
    )
    already = session.own_attendance in CANT_ATTEND_STATUSES  # type: ignore[attr-defined]
    possible = session.status != SessionStatus.CANCELLED and now < session.start
    return render(
        request,
        "sessions/me_cant_come.html",
        {
            "session": session,
            "form": form,
            "notice": _notice(session, now),
            "already": already,
            "possible": possible and not already,
            "own_status": session.own_attendance,  # type: ignore[attr-defined]
        },
    )


# --- groups ------------------------------------------------------------------------------


@dataclasses.dataclass
class GroupCard:
    group: Group
    schedule: str
    facilitators: list[str]
    enrolment: Enrolment | None
    agreement: Agreement | None
    acceptance: AgreementAcceptance | None
    can_accept: bool
    form: AgreementAcceptForm | None


def _group_cards(
    groups: list[Group],
    records: list[Member],
    bound: tuple[int, AgreementAcceptForm] | None,
) -> list[GroupCard]:
    """Each group with the viewer's own enrolment, the current agreement and the viewer's
    acceptance of it (:func:`member_group_standing`: three queries for the whole page)."""
    enrolments, agreements, acceptances = member_group_standing(
        group_ids=[group.pk for group in groups], records=records
    )
    cards = []
    for group in groups:
        agreement = agreements.get(group.pk)
        enrolment = enrolments.get(group.pk)
        acceptance = acceptances.get(agreement.pk) if agreement else None
        can_accept = (
            agreement is not None
            and acceptance is None
            and enrolment is not None
            and enrolment.status in OPEN_ENROLMENT_STATUSES
        )
        form = None
        if can_accept:
            if bound is not None and bound[0] == group.pk:
                form = bound[1]
            else:
                form = AgreementAcceptForm(initial={"agreement": agreement.pk})  # type: ignore[union-attr]
        cards.append(
            GroupCard(
                group=group,
                schedule=_schedule_words(group),
                facilitators=[
                    person.full_name
                    for person in [group.lead_facilitator, *group.co_facilitators.all()]
                ],
                enrolment=enrolment,
                agreement=agreement,
                acceptance=acceptance,
                can_accept=can_accept,
                form=form,
            )
        )
    return cards


def _schedule_words(group: Group) -> str:
    try:
        schedule = group.schedule
    except Schedule.DoesNotExist:
        return ""
    return schedule_summary(schedule, group.clinic.timezone)


@login_required
@require_http_methods(["GET", "POST"])
def me_groups(request: HttpRequest) -> HttpResponse:
    """GET ``/me/groups/``: the member's groups (name, schedule, room or link,
    facilitators' names) and each group's agreement; never anything of another member.

    POST (``agreement``, ``accept``): accept the group's current agreement online
    (:func:`agreement_accept`), then back here with a message. An agreement of a group
    that is not theirs is a 404; the box not ticked, or a refusal (a newer version was
    published meanwhile, the enrolment closed), re-renders with the message at that group.
    """
    records = _own_records(request.user)
    groups = member_group_list(user=request.user, records=records)
    bound: tuple[int, AgreementAcceptForm] | None = None
    if request.method == "POST":
        agreement = get_object_or_404(
            Agreement.objects.select_related("group"),
            pk=_int_or_404(request.POST.get("agreement")),
            group__in=groups.values("pk"),
        )
        own = member_record_in_group(user=request.user, group=agreement.group)
        if own is None:
            raise Http404("Not a group of yours.")
        form = AgreementAcceptForm(request.POST)
        bound = (agreement.group_id, form)
        if form.is_valid():
            try:
                acceptance = agreement_accept(
                    agreement=agreement,
                    member=own.member,
                    by=request.user,
                    method=AcceptanceMethod.ONLINE,
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(
                    request,
                    f"Thank you. You accepted the agreement of {agreement.group.name} "
                    f"(version {acceptance.agreement.version}).",
                )
                return redirect(reverse("sessions:me-groups") + f"#group-{agreement.group_id}")
    page = Paginator(groups, PAGE_SIZE).get_page(request.GET.get("page"))
    cards = _group_cards(list(page.object_list), records, bound)
    enrolments_viewed(
        by=request.user,  # type: ignore[arg-type]
        members=[
            (card.group.clinic_id, card.enrolment.member_id)
            for card in cards
            if card.enrolment is not None
        ],
        action=ENROLMENT_VIEWED,
    )
    return render(
        request,
        "sessions/me_groups.html",
        {
            "cards": cards,
            "page_obj": page,
            "query": query_without(request, "page"),
        },
    )


def _int_or_404(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404("No such agreement.") from None


# --- settings ----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def me_settings(request: HttpRequest) -> HttpResponse:
    """GET ``/me/settings/``: reminders and time zone (one form per member record) and the
    private calendar link. POST (``member`` = the record's id and its form's fields): save
    with :func:`member_update_with_reminders`; after a time-zone change the pages switch
    zone at once (:func:`viewer_timezone_forget`). A record that is not the viewer's is a
    404."""
    records = _own_records(request.user)
    forms = {record.pk: ReminderSettingsForm(member=record) for record in records}
    if request.method == "POST":
        record = next((r for r in records if str(r.pk) == request.POST.get("member")), None)
        if record is None:
            raise Http404("No such member record of yours.")
        form = forms[record.pk] = ReminderSettingsForm(request.POST, member=record)
        if form.is_valid():
            zone_before = record.timezone
            try:
                member = member_update_with_reminders(
                    member=record, by=request.user, **form.service_fields()
                )
            except (ValidationError, DomainError) as exc:
                add_refusal(form, exc)
            else:
                if member.timezone != zone_before:
                    viewer_timezone_forget(request)
                messages.success(request, "Your settings are saved.")
                return redirect("sessions:me-settings")
    feed = calendar_feed_live(user=request.user)
    feed_url = calendar_feed_url(feed) if feed else ""
    member_records_listed(
        members=records,
        by=request.user,  # type: ignore[arg-type]
        action="members.member.viewed",
    )
    return render(
        request,
        "sessions/me_settings.html",
        {
            "entries": [(record, forms[record.pk]) for record in records],
            "several": len(records) > 1,
            "feed": feed,
            "feed_url": feed_url,
            "webcal_url": "webcal://" + feed_url.split("://", 1)[1] if feed_url else "",
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def me_calendar_link_reset(request: HttpRequest) -> HttpResponse:
    """GET ``/me/settings/calendar-link/reset/``: what a new link means (the old one stops
    working); POST: issue it (:func:`calendar_feed_issue`, which revokes the old one) and go
    back to the settings. With no link yet, POST simply creates the first."""
    _own_records(request.user)
    feed = calendar_feed_live(user=request.user)
    if request.method == "POST":
        calendar_feed_issue(user=request.user, by=request.user)
        messages.success(
            request,
            "Your new calendar link is ready. Add it to your calendar app"
            + (": the old link no longer works." if feed else "."),
        )
        return redirect(reverse("sessions:me-settings") + "#calendar")
    consequences = [
        "You get a new private calendar link.",
        "Your meetings will appear in a calendar app that you subscribe to it.",
    ]
    if feed:
        consequences.insert(
            1,
            "The old link stops working at once: any calendar app or person using it no "
            "longer sees your meetings. Nobody else is told.",
        )
    return render(
        request,
        "components/confirm.html",
        {
            "title": "Reset my calendar link" if feed else "Create my calendar link",
            "consequences": consequences,
            "form": CantComeForm(),
            "action_label": "Reset the link" if feed else "Create the link",
            "cancel_url": reverse("sessions:me-settings") + "#calendar",
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def me_calendar_link_stop(request: HttpRequest) -> HttpResponse:
    """GET ``/me/settings/calendar-link/stop/``: what turning the link off means; POST:
    revoke it (:func:`calendar_feed_revoke`). With no live link, back to the settings."""
    _own_records(request.user)
    feed = calendar_feed_live(user=request.user)
    if feed is None:
        messages.info(request, "You have no calendar link to turn off.")
        return redirect(reverse("sessions:me-settings") + "#calendar")
    if request.method == "POST":
        calendar_feed_revoke(feed=feed, by=request.user)
        messages.success(request, "Your calendar link is turned off: it no longer works.")
        return redirect(reverse("sessions:me-settings") + "#calendar")
    return render(
        request,
        "components/confirm.html",
        {
            "title": "Turn off my calendar link",
            "consequences": [
                "The link stops working at once: calendar apps that use it no longer see "
                "your meetings (they may keep showing the ones they already have).",
                "Nobody else is told. You can create a new link at any time.",
            ],
            "form": CantComeForm(),
            "action_label": "Turn off the link",
            "cancel_url": reverse("sessions:me-settings") + "#calendar",
        },
    )


@login_required
@require_GET
def me_data_download(request: HttpRequest) -> HttpResponse:
    """GET ``/me/settings/data.json``: everything GroupCare holds about the viewer as a
    member (:func:`member_data_export`), as a JSON file to keep. The download is audited
    (``members.member.data_exported``) before it is made.

    Only for a person with a member record linked to their login (in any clinic, also one
    where the member role has since been removed); anyone else signed in gets a 404, as
    there is nothing of theirs to download. Never cached: it holds health information.
    """
    records = member_data_records(user=request.user)
    if not records:
        raise Http404("There is no member record of yours to download.")
    now = timezone.now()
    member_data_exported(members=records, by=request.user)
    document = member_data_export(user=request.user, records=records, now=now)
    response = HttpResponse(
        json.dumps(document, indent=2, ensure_ascii=False),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="groupcare-my-data-{now.date().isoformat()}.json"'
    )
    response["Cache-Control"] = "no-store"
    return response
