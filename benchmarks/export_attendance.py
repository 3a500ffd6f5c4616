"""Benchmark of the attendance export: rows per second, time to first byte and peak memory
for N rows and for N/10, to show that memory stays flat however many rows an export holds;
for the API's CSV and JSON export and for the attendance report page's Excel download.

    .venv/bin/python benchmarks/export_attendance.py            # 100,000 rows, SQLite
    .venv/bin/python benchmarks/export_attendance.py --rows 20000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/groupcare \\
        .venv/bin/python benchmarks/export_attendance.py        # PostgreSQL

Without ``DATABASE_URL`` the data goes to a throwaway SQLite file in a temporary folder.
With it, Django's test-database machinery creates (and afterwards drops) a separate
``test_<name>`` database next to the one named, so existing data is never touched.

Each export goes through the whole stack (middleware, authentication, the view, the
streaming response) with Django's test client, as a clinic admin of the clinic signed in
with a session (``force_login``), which both the API and the report page accept. Memory is
measured with ``tracemalloc`` (Python allocations) in a second pass, so its overhead does
not slow the timed pass.

The Excel download (``/reports/attendance.xlsx``) writes the whole workbook to a temporary
file before its first byte leaves (a zip's directory comes last), so its time to first byte
is close to its total. Its rows are counted by opening the workbook of the warm-up pass
with openpyxl (read-only), outside the timed pass. Both ranges are within the report's
limit (:data:`~sessions.selectors.exports.EXPORT_MAX_DAYS` days): more rows mean more
groups, not more days.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import secrets
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
MEMBERS_PER_GROUP = 12
YEAR = 2025
URL = "/api/v1/exports/attendance/"
XLSX_URL = "/reports/attendance.xlsx"


def _configure(var_dir: str) -> bool:
    """Environment for the production settings with safe throwaway values; True when the
    database is the caller's (``DATABASE_URL``), False for the throwaway SQLite file."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "groupcare.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    os.environ["GROUPCARE_VAR_DIR"] = var_dir
    external = bool(os.environ.get("DATABASE_URL"))
    if not external:
        os.environ["DATABASE_URL"] = f"sqlite:///{Path(var_dir) / 'bench.sqlite3'}"
    return external


def _seed(rows: int) -> Any:
    """A clinic with enough groups of 12 members, each meeting daily in ``YEAR``, for
    ``rows`` attendance rows; returns the clinic's admin."""
    from django.db import connection

    from members.enums import Role
    from members.models import Clinic, ClinicRole, Member, User
    from sessions.enums import AttendanceStatus, SessionStatus
    from sessions.models import Attendance, Group, GroupSession, Modality

    clinic = Clinic.objects.create(name="Benchmark", slug="benchmark", timezone="Europe/London")
    admin = User.objects.create_user("admin@bench.example", full_name="Ada Admin")
    facilitator = User.objects.create_user("facilitator@bench.example", full_name="Fay Lee")
    ClinicRole.objects.create(user=admin, clinic=clinic, role=Role.ADMIN)
    ClinicRole.objects.create(user=facilitator, clinic=clinic, role=Role.FACILITATOR)
    modality = Modality.objects.create(clinic=clinic, slug="bench", name="Benchmark")

    days = (dt.date(YEAR + 1, 1, 1) - dt.date(YEAR, 1, 1)).days
    sessions_needed = math.ceil(rows / MEMBERS_PER_GROUP)
    group_count = math.ceil(sessions_needed / days)
    groups = Group.objects.bulk_create(
        Group(
            clinic=clinic,
            name=f"Group {number}",
            modality=modality,
            lead_facilitator=facilitator,
            planned_start=dt.date(YEAR, 1, 1),
        )
        for number in range(1, group_count + 1)
    )
    members = {
        group.pk: Member.objects.bulk_create(
            Member(clinic=clinic, preferred_name=f"M{group.pk}-{n}", legal_name=f"Member {n}")
            for n in range(MEMBERS_PER_GROUP)
        )
        for group in groups
    }
    first = dt.datetime(YEAR, 1, 1, 17, 0, tzinfo=dt.UTC)
    sessions = GroupSession.objects.bulk_create(
        (
            GroupSession(
                group=group,
                start=first + dt.timedelta(days=day, minutes=index),
                end=first + dt.timedelta(days=day, minutes=index + 90),
                status=SessionStatus.COMPLETED,
                stage=group.stage,
            )
            for index, group in enumerate(groups)
            for day in range(days)
        ),
        batch_size=2000,
    )
    statuses = [AttendanceStatus.PRESENT] * 6 + [AttendanceStatus.LATE, AttendanceStatus.ABSENT]
    batch: list[Attendance] = []
    created = 0
    for session in sessions:
        for member in members[session.group_id]:
            if created == rows:
                break
            status = statuses[created % len(statuses)]
            batch.append(
                Attendance(
                    session=session,
                    member=member,
                    status=status,
                    minutes_attended=60 if status == AttendanceStatus.LATE else None,
                    recorded_by=facilitator,
                    recorded_at=session.end,
                )
            )
            created += 1
        if len(batch) >= 5000:
            Attendance.objects.bulk_create(batch)
            batch = []
    Attendance.objects.bulk_create(batch)
    # After a bulk load the planner's statistics are stale until autovacuum (PostgreSQL)
    # or nobody (SQLite) refreshes them; a live database has them.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return admin


def _export(
    client: Any,
    query: dict[str, str],
    *,
    measure_memory: bool,
    url: str = URL,
    keep: IO[bytes] | None = None,
) -> dict[str, float]:
    """One export, its body read chunk by chunk and dropped (or written to ``keep``, in an
    untimed pass): rows, bytes, seconds, time to the first chunk and (when asked) the peak
    of Python memory during the export. An Excel body's rows are counted by
    :func:`_xlsx_rows` instead (0 here)."""
    if measure_memory:
        tracemalloc.start()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    response = client.get(url, query, secure=True)
    assert response.status_code == 200, response.content[:300]
    first_byte = None
    size = newlines = 0
    for chunk in response.streaming_content:
        if first_byte is None:
            first_byte = time.perf_counter() - started
        size += len(chunk)
        newlines += chunk.count(b"\n")
        if keep is not None:
            keep.write(chunk)
    total = time.perf_counter() - started
    peak = 0.0
    if measure_memory:
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
    # CSV: a header line and a line per row; JSON: rows separated by ",\n".
    export_format = query.get("format", "xlsx")
    if export_format == "csv":
        rows = newlines - 1
    elif export_format == "json":
        rows = newlines + 1 if size > 2 else 0
    else:
        rows = 0
    return {"rows": rows, "bytes": size, "total": total, "first": first_byte or total, "peak": peak}


def _xlsx_rows(workbook_file: IO[bytes]) -> int:
    """The rows of a downloaded workbook under its header, read back with openpyxl
    (read-only), after checking the sheet and the header."""
    import openpyxl

    from sessions.selectors.exports import ATTENDANCE_EXPORT_COLUMNS
    from sessions.spreadsheets import SHEET_TITLE

    workbook_file.seek(0)
    workbook = openpyxl.load_workbook(workbook_file, read_only=True)
    try:
        lines = workbook[SHEET_TITLE].iter_rows(values_only=True)
        assert next(lines) == ATTENDANCE_EXPORT_COLUMNS
        return sum(1 for _ in lines)
    finally:
        workbook.close()


def _list_baseline(admin: Any, query: dict[str, str]) -> float:
    """Peak memory of holding the same rows in a list, for comparison."""
    from sessions.selectors.exports import attendance_export_queryset

    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    rows = list(
        attendance_export_queryset(
            user=admin,
            first_day=dt.date.fromisoformat(query["from"]),
            last_day=dt.date.fromisoformat(query["to"]),
        )
    )
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del rows
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="attendance rows to create")
    args = parser.parse_args()
    if args.rows < 10:
        parser.error("--rows must be at least 10")

    with tempfile.TemporaryDirectory(prefix="groupcare-bench-") as var_dir:
        external = _configure(var_dir)
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client

        from sessions.selectors.exports import EXPORT_MAX_DAYS

        old_name = connection.settings_dict["NAME"]
        if external:
            connection.creation.create_test_db(verbosity=0, autoclobber=True)
        else:
            call_command("migrate", verbosity=0)
        try:
            started = time.perf_counter()
            admin = _seed(args.rows)
            seeded = time.perf_counter() - started
            client = Client()
            client.force_login(admin)

            year = {"from": f"{YEAR}-01-01", "to": f"{YEAR}-12-31"}
            tenth = {"from": f"{YEAR}-01-01", "to": f"{YEAR}-02-06"}  # 37 of 365 days
            print(
                f"GroupCare attendance export: {connection.vendor}, Django {django.__version__}, "
                f"Python {platform.python_version()}"
            )
            print(f"created {args.rows:,} attendance rows in {seeded:.1f} s\n")
            header = (
                f"{'format':<7}{'range':<8}{'rows':>9}{'MB':>8}{'seconds':>9}{'rows/s':>10}"
                f"{'1st byte ms':>13}{'peak MiB':>10}"
            )
            print(header)
            print("-" * len(header))
            csv_rows: dict[str, int] = {}
            for export_format in ("csv", "json"):
                for label, days in (("N", year), ("N/10", tenth)):
                    query = {**days, "format": export_format}
                    _export(client, query, measure_memory=False)  # warm the caches
                    timed = _export(client, query, measure_memory=False)
                    memory = _export(client, query, measure_memory=True)
                    if export_format == "csv":
                        csv_rows[label] = timed["rows"]
                    print(
                        f"{export_format:<7}{label:<8}{timed['rows']:>9,}"
                        f"{timed['bytes'] / 1e6:>8.1f}{timed['total']:>9.2f}"
                        f"{timed['rows'] / timed['total']:>10,.0f}"
                        f"{timed['first'] * 1000:>13.1f}{memory['peak'] / 2**20:>10.2f}"
                    )
            # The report page's Excel download: the same rows, its own query parameters.
            rows_by_label: dict[str, int] = {}
            for label, days in (("N", year), ("N/10", tenth)):
                query = {"start": days["from"], "end": days["to"]}
                with tempfile.TemporaryFile(dir=var_dir) as workbook_file:
                    _export(client, query, measure_memory=False, url=XLSX_URL, keep=workbook_file)
                    rows_by_label[label] = _xlsx_rows(workbook_file)
                timed = _export(client, query, measure_memory=False, url=XLSX_URL)
                memory = _export(client, query, measure_memory=True, url=XLSX_URL)
                rows = rows_by_label[label]
                assert rows == csv_rows[label], (rows, csv_rows[label])
                print(
                    f"{'xlsx':<7}{label:<8}{rows:>9,}"
                    f"{timed['bytes'] / 1e6:>8.1f}{timed['total']:>9.2f}"
                    f"{rows / timed['total']:>10,.0f}"
                    f"{timed['first'] * 1000:>13.1f}{memory['peak'] / 2**20:>10.2f}"
                )
            print(
                f"\ncsv, json: the API export ({URL})\n"
                f"xlsx: the report page's Excel download ({XLSX_URL}), rows counted by\n"
                f"      reading the workbook back; its first byte leaves after the last row\n"
                f"N: {year['from']} to {year['to']} (365 days), N/10: {tenth['from']} to "
                f"{tenth['to']} (37 days);\n"
                f"      the report page allows at most {EXPORT_MAX_DAYS} days"
            )
            baseline = _list_baseline(admin, year)
            print(
                f"\nfor comparison, the same {args.rows:,} rows held in a list: "
                f"peak {baseline / 2**20:.1f} MiB"
            )
        finally:
            if external:
                connection.creation.destroy_test_db(old_name, verbosity=0)
            connection.close()


if __name__ == "__main__":
    main()
