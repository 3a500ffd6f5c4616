"""Clinic oversight pages: the groups overview and the attendance report with its downloads.

Both are staff pages: a clinic admin sees their clinics, a facilitator the groups and
sessions they run (the scopes of :mod:`sessions.permissions`). Someone who is staff nowhere
(a member only) gets 403 — members read their own attendance on their own pages — and an
anonymous visitor is sent to sign in.

The filters are GET forms; an invalid value is shown next to its field with status 200 on
the pages (the rest of the page is left out until it is corrected) and with status 400 on a
download, which then renders the report page instead of a file.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from groupcare.querystring import query_without
from sessions.api.exports.serializers import attendance_csv_chunks
from sessions.forms.reports import AttendanceReportForm, GroupOverviewFilterForm
from sessions.selectors.exports import attendance_export_clinics, attendance_export_member_ids
from sessions.selectors.groups import staff_clinic_list
from sessions.selectors.overview import (
    OVERVIEW_WEEKS,
    group_overview_list,
    overview_facilitator_choices,
    overview_period_start,
)
from sessions.selectors.reports import (
    AttendanceReport,
    attendance_report,
    attendance_report_rows,
    report_facilitator_choices,
    report_group_choices,
)
from sessions.services.exports import attendance_export_record
from sessions.spreadsheets import XLSX_CONTENT_TYPE, attendance_xlsx_chunks

GROUPS_PER_PAGE = 25


def _require_staff(request: HttpRequest) -> None:
    """403 for a signed-in person who is admin or facilitator in no clinic."""
    if not staff_clinic_list(user=request.user).exists():
        raise PermissionDenied


# --------------------------------------------------------------------------- overview


@login_required
@require_http_methods(["GET"])
def group_list(request: HttpRequest) -> HttpResponse:
    """The groups the viewer runs, filtered by stage and facilitator, 25 a page. A filter
    value that is not on offer is shown as an error and not applied."""
    _require_staff(request)
    form = GroupOverviewFilterForm(
        request.GET, facilitators=overview_facilitator_choices(user=request.user)
    )
    form.is_valid()
    today = timezone.localdate()
    groups = group_overview_list(
        user=request.user,
        today=today,
        stage=form.cleaned_data.get("stage") or None,
        facilitator=form.cleaned_data.get("facilitator"),
    )
    page = Paginator(groups, GROUPS_PER_PAGE).get_page(request.GET.get("page"))
    period_start = overview_period_start(today=today)
    return render(
        request,
        "sessions/group_list.html",
        {
            "form": form,
            "page_obj": page,
            "query": query_without(request, "page"),
            "filtered": bool(
                form.cleaned_data.get("stage") or form.cleaned_data.get("facilitator")
            ),
            "weeks": OVERVIEW_WEEKS,
            "period_start": period_start,
            "period_end": period_start + dt.timedelta(weeks=OVERVIEW_WEEKS, days=-1),
        },
    )


# --------------------------------------------------------------------------- report


def _report_form(request: HttpRequest) -> AttendanceReportForm:
    return AttendanceReportForm.from_query(
        request.GET,
        today=timezone.localdate(),
        groups=report_group_choices(user=request.user),
        facilitators=report_facilitator_choices(user=request.user),
    )


@dataclass(frozen=True)
class ChartBar:
    """One week in the chart: its column's place and, when it has a rate, its bar."""

    monday: dt.date
    percent: int | None
    x: int
    centre: int
    y: int
    height: int
    show_label: bool


#: Chart geometry, in the SVG's own units (it scales to the page's width).
CHART_SLOT = 40
CHART_BAR = 26
CHART_LEFT = 48
CHART_TOP = 12
CHART_PLOT = 160
CHART_BOTTOM = 36
#: At most this many week labels along the bottom; the others are in the table.
CHART_MAX_LABELS = 13


def _chart(report: AttendanceReport) -> dict[str, Any]:
    """Where the weekly bars go (a bar's height is its rate; a week without one has none)."""
    label_every = max(1, math.ceil(len(report.weeks) / CHART_MAX_LABELS))
    bars = []
    for index, week in enumerate(report.weeks):
        x = CHART_LEFT + index * CHART_SLOT + (CHART_SLOT - CHART_BAR) // 2
        height = 0 if week.percent is None else round(CHART_PLOT * week.percent / 100)
        bars.append(
            ChartBar(
                monday=week.monday,
                percent=week.percent,
                x=x,
                centre=x + CHART_BAR // 2,
                y=CHART_TOP + CHART_PLOT - height,
                height=height,
                show_label=index % label_every == 0,
            )
        )
    right = CHART_LEFT + len(report.weeks) * CHART_SLOT
    return {
        "bars": bars,
        "bar_width": CHART_BAR,
        "width": right + 8,
        "height": CHART_TOP + CHART_PLOT + CHART_BOTTOM,
        "left": CHART_LEFT,
        "right": right,
        "label_y": CHART_TOP + CHART_PLOT + 22,
        "gridlines": [
            {"percent": percent, "y": CHART_TOP + CHART_PLOT - CHART_PLOT * percent // 100}
            for percent in (0, 50, 100)
        ],
    }


def _render_report(
    request: HttpRequest, form: AttendanceReportForm, *, status: int = 200
) -> HttpResponse:
    context: dict[str, Any] = {"form": form}
    if form.is_valid():
        data = form.cleaned_data
        report = attendance_report(
            user=request.user,
            first_day=data["start"],
            last_day=data["end"],
            group_id=data["group"].pk if data["group"] else None,
            facilitator_id=data["facilitator"].pk if data["facilitator"] else None,
        )
        context.update(
            report=report,
            chart=_chart(report),
            first_day=data["start"],
            last_day=data["end"],
            download_query=form.data.urlencode(),
        )
    return render(request, "sessions/attendance_report.html", context, status=status)


@login_required
@require_http_methods(["GET"])
def attendance_report_page(request: HttpRequest) -> HttpResponse:
    """The weekly attendance rate of the rows the viewer may export (the API export's
    scope), as a chart and the table behind it, the number of rows and links to download
    them. Reads aggregates only (no member is named), so nothing is audited until a
    download."""
    _require_staff(request)
    return _render_report(request, _report_form(request))


def _download(request: HttpRequest, export_format: str) -> HttpResponse:
    """Audit the export for every clinic it may reach, then stream its rows; an invalid
    filter renders the report page with its errors (400) instead."""
    _require_staff(request)
    form = _report_form(request)
    if not form.is_valid():
        return _render_report(request, form, status=400)
    first_day, last_day = form.cleaned_data["start"], form.cleaned_data["end"]
    group, facilitator = form.cleaned_data["group"], form.cleaned_data["facilitator"]
    clinics = attendance_export_clinics(user=request.user, group=group)
    facilitator_id = facilitator.pk if facilitator else None
    attendance_export_record(
        by=request.user,
        clinics=clinics or [None],
        member_ids=attendance_export_member_ids(
            user=request.user,
            clinics=clinics,
            first_day=first_day,
            last_day=last_day,
            group_id=group.pk if group else None,
            facilitator_id=facilitator_id,
        ),
        group=group,
        first_day=first_day,
        last_day=last_day,
        export_format=export_format,
    )
    rows = attendance_report_rows(
        user=request.user,
        first_day=first_day,
        last_day=last_day,
        group_id=group.pk if group else None,
        facilitator_id=facilitator.pk if facilitator else None,
    )
    if export_format == "csv":
        response = StreamingHttpResponse(
            attendance_csv_chunks(rows), content_type="text/csv; charset=utf-8"
        )
    else:
        response = StreamingHttpResponse(
            attendance_xlsx_chunks(rows), content_type=XLSX_CONTENT_TYPE
        )
    suffix = (f"-group-{group.pk}" if group else "") + (
        f"-facilitator-{facilitator.pk}" if facilitator else ""
    )
    filename = f"attendance-{first_day.isoformat()}-to-{last_day.isoformat()}{suffix}"
    response["Content-Disposition"] = f'attachment; filename="{filename}.{export_format}"'
    # Clinical data: no shared or browser cache keeps a copy.
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET"])
def attendance_report_csv(request: HttpRequest) -> HttpResponse:
    """The report's rows as the API's CSV (same columns, order and formula guard)."""
    return _download(request, "csv")


@login_required
@require_http_methods(["GET"])
def attendance_report_xlsx(request: HttpRequest) -> HttpResponse:
    """The report's rows as an Excel workbook (:mod:`sessions.spreadsheets`)."""
    return _download(request, "xlsx")
