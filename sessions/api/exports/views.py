"""Exports: attendance rows for a date range, as CSV or JSON, streamed.

The rows are those the caller may read (a clinic admin: their clinic; a facilitator: the
sessions they run; a member: their own), so every authenticated caller may export and gets
their own scope; a ``group`` they may not know exists is a 404. Each export is written to
the audit log of every clinic it may reach before the first byte is sent.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from groupcare.api import error_responses
from sessions.api.exports.serializers import (
    AttendanceExportQuerySerializer,
    AttendanceExportRowSerializer,
    attendance_csv_chunks,
    attendance_json_chunks,
)
from sessions.selectors.exports import (
    ATTENDANCE_EXPORT_COLUMNS,
    EXPORT_MAX_DAYS,
    attendance_export_clinics,
    attendance_export_group,
    attendance_export_member_ids,
    attendance_export_rows,
)
from sessions.services.exports import attendance_export_record

NO_SUCH_GROUP = "No such group."

ROWS_DESCRIPTION = (
    "JSON: an array of rows, `[]` when the range holds none. CSV (`?format=csv` or "
    "`Accept: text/csv`): a UTF-8 file to download, a header row, then one line per row "
    f"with the same columns in this order: {', '.join(ATTENDANCE_EXPORT_COLUMNS)}. A CSV "
    "cell that a spreadsheet would run as a formula (starting with = + - @, a tab or a "
    "carriage return) is written with a leading apostrophe."
)


class CSVRenderer(BaseRenderer):
    """Lets content negotiation choose CSV (``?format=csv`` or ``Accept: text/csv``). The
    view streams the body itself; errors are always JSON (see ``finalize_response``)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        raise NotImplementedError("The attendance export streams its CSV body itself.")


def _error_responses(*statuses: int) -> dict[tuple[int, str], OpenApiResponse]:
    """Error responses are JSON whatever format was asked for."""
    return {
        (status, "application/json"): response
        for status, response in error_responses(*statuses).items()
    }


class AttendanceExportView(APIView):
    renderer_classes = [JSONRenderer, CSVRenderer]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        try:
            return super().perform_content_negotiation(request, force)
        except Http404:
            # DRF answers an unknown ?format= with 404 before authentication; here it is an
            # invalid parameter, refused (400, naming it) by the query serializer.
            renderers = self.get_renderers()
            return renderers[0], renderers[0].media_type

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response):  # an error: JSON even when CSV was asked for
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = JSONRenderer.media_type
        return response

    @extend_schema(
        operation_id="attendance_export",
        tags=["exports"],
        parameters=[AttendanceExportQuerySerializer],
        responses={
            (200, "application/json"): OpenApiResponse(
                AttendanceExportRowSerializer(many=True), description=ROWS_DESCRIPTION
            ),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description=ROWS_DESCRIPTION),
            **_error_responses(400, 401, 404),
        },
        description="The attendance recorded at the sessions held from `from` to `to` "
        "(the sessions' local dates in their clinic's time zone, both days included, at "
        f"most {EXPORT_MAX_DAYS} days), by session start, then member: as a clinic admin, "
        "every group of your clinic; as a facilitator, the sessions you run; as a member, "
        "your own attendance. `group` narrows it to one group you may see (another is a "
        "404). Streamed: the first rows arrive while later ones are still read. The export "
        "is written to the clinic's audit log. Errors are JSON whatever the format.",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> StreamingHttpResponse:
        query = AttendanceExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        first_day, last_day = query.validated_data["from"], query.validated_data["to"]
        group_id = query.validated_data.get("group")
        group = None
        if group_id is not None:
            group = attendance_export_group(user=request.user, group_id=group_id)
            if group is None:
                raise NotFound(NO_SUCH_GROUP)
        export_format = request.accepted_renderer.format

        clinics = attendance_export_clinics(user=request.user, group=group)
        attendance_export_record(
            by=request.user,
            clinics=clinics or [None],
            member_ids=attendance_export_member_ids(
                user=request.user,
                clinics=clinics,
                first_day=first_day,
                last_day=last_day,
                group_id=group_id,
            ),
            group=group,
            first_day=first_day,
            last_day=last_day,
            export_format=export_format,
        )

        rows = attendance_export_rows(
            user=request.user, first_day=first_day, last_day=last_day, group_id=group_id
        )
        if export_format == "csv":
            response = StreamingHttpResponse(
                attendance_csv_chunks(rows), content_type="text/csv; charset=utf-8"
            )
            suffix = f"-group-{group_id}" if group_id else ""
            filename = f"attendance-{first_day.isoformat()}-to-{last_day.isoformat()}{suffix}.csv"
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
        else:
            response = StreamingHttpResponse(
                attendance_json_chunks(rows), content_type="application/json"
            )
        # Clinical data: no shared or browser cache keeps a copy.
        response["Cache-Control"] = "no-store"
        return response
