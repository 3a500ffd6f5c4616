"""Exports: the query of an attendance export, the shape of one row, and the writers that
turn a stream of rows into CSV or a JSON array without ever holding more than a small
buffer."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from rest_framework import serializers

from groupcare.api import QueryParameters
from sessions.enums import AttendanceStatus
from sessions.selectors.exports import ATTENDANCE_EXPORT_COLUMNS, EXPORT_MAX_DAYS

#: Characters a spreadsheet reads as the start of a formula (or that hide one behind them);
#: a cell starting with one is written with a leading apostrophe so it stays text.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

#: A writer hands its buffer on once it holds this many characters (and always after the
#: first row, so the first bytes leave as soon as the first row is read).
STREAM_FLUSH_CHARS = 32 * 1024

EXPORT_FORMATS = (("csv", "CSV"), ("json", "JSON"))


class AttendanceExportQuerySerializer(QueryParameters):
    """``from`` and ``to`` (local dates, both included), optionally ``group`` and
    ``format``. The Python names of the dates are ``start``/``end`` (``from`` is a keyword);
    they are offered and validated as ``from`` and ``to``."""

    start = serializers.DateField(
        help_text="First day (YYYY-MM-DD), the sessions' local date in their clinic's zone."
    )
    end = serializers.DateField(
        help_text=f"Last day (YYYY-MM-DD), included; `from` to `to` spans at most "
        f"{EXPORT_MAX_DAYS} days, both ends counted."
    )
    group = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="Only this group's sessions (one you may see, else 404).",
    )
    format = serializers.ChoiceField(
        choices=EXPORT_FORMATS,
        required=False,
        help_text="`csv` (a file to download) or `json` (an array); without it, the "
        "`Accept` header decides, JSON by default.",
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        return {"from": fields.pop("start"), "to": fields.pop("end"), **fields}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        first_day, last_day = attrs["from"], attrs["to"]
        if last_day < first_day:
            raise serializers.ValidationError({"to": ["The last day cannot be before `from`."]})
        if (last_day - first_day).days + 1 > EXPORT_MAX_DAYS:
            raise serializers.ValidationError(
                {"to": [f"An export covers at most {EXPORT_MAX_DAYS} days; split the range."]}
            )
        return attrs


class AttendanceExportRowSerializer(serializers.Serializer):
    """One row of an attendance export (the JSON item; the CSV columns, in this order).
    Documents the shape: rows are written straight from the selector's dicts."""

    session_id = serializers.IntegerField()
    session_date = serializers.DateField(help_text="The session's local date.")
    session_start = serializers.DateTimeField(help_text="In the clinic's time zone, with offset.")
    session_end = serializers.DateTimeField(help_text="In the clinic's time zone, with offset.")
    # A string, not an enum: the schema names SessionStatus's choices after the sessions
    # endpoint; a second name for the same choices is a schema warning.
    session_status = serializers.CharField(help_text="`scheduled`, `cancelled` or `completed`.")
    clinic_id = serializers.IntegerField()
    group_id = serializers.IntegerField()
    group_name = serializers.CharField()
    billing_code = serializers.CharField(
        allow_null=True, help_text="e.g. 90853; for the clinic's staff, else null."
    )
    member_id = serializers.IntegerField()
    member_name = serializers.CharField(help_text="The member's preferred name.")
    member_legal_name = serializers.CharField(
        allow_null=True,
        help_text="For the staff who run the group and for the member themself; else null.",
    )
    attendance_status = serializers.ChoiceField(choices=AttendanceStatus.choices)
    minutes_attended = serializers.IntegerField(
        allow_null=True, help_text="For late or left early, when recorded."
    )
    recorded_at = serializers.DateTimeField(help_text="In the clinic's time zone, with offset.")


# --------------------------------------------------------------------------- writers


def csv_cell(value: Any) -> str:
    """The text of one CSV cell: empty for None, an apostrophe before anything a
    spreadsheet would run as a formula."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _flushing(buffer: io.StringIO) -> str:
    chunk = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return chunk


def attendance_csv_chunks(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The CSV text (header, then one line per row, RFC 4180 line ends) in chunks of about
    :data:`STREAM_FLUSH_CHARS` characters."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(ATTENDANCE_EXPORT_COLUMNS)
    first = True
    for row in rows:
        writer.writerow([csv_cell(row[column]) for column in ATTENDANCE_EXPORT_COLUMNS])
        if first or buffer.tell() >= STREAM_FLUSH_CHARS:
            first = False
            yield _flushing(buffer)
    yield _flushing(buffer)


def attendance_json_chunks(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A JSON array of the rows (``[]`` when there are none), in chunks of about
    :data:`STREAM_FLUSH_CHARS` characters."""
    buffer = io.StringIO()
    buffer.write("[")
    separator = ""
    first = True
    for row in rows:
        buffer.write(separator)
        buffer.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
        separator = ",\n"
        if first or buffer.tell() >= STREAM_FLUSH_CHARS:
            first = False
            yield _flushing(buffer)
    buffer.write("]")
    yield _flushing(buffer)
