"""Benchmark of the outbox: N due reminders dispatched and sent over SMTP, with reminders
per second, Celery messages per reminder, queries per reminder and the sender's memory at
N/10 and at N, to show that memory stays flat however large the backlog.

    .venv/bin/python benchmarks/notifications_dispatch.py              # 100,000 reminders
    .venv/bin/python benchmarks/notifications_dispatch.py --count 2000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/groupcare \\
        .venv/bin/python benchmarks/notifications_dispatch.py         # PostgreSQL

Without ``DATABASE_URL`` the data goes to a throwaway SQLite file in a temporary folder.
With it, Django's test-database machinery creates (and afterwards drops) a separate
``test_<name>`` database next to the one named, so existing data is never touched.

The backlog: groups of 10 members, each group with its own room and 5 sessions in the
coming week, and a reminder at both default offsets (24 h and 2 h) for every member and
session, all due at once (the worst case: the morning after an outage). The rows are
written in bulk by this process; then a fresh process (so its memory is its own) does what
the minute job and the workers do, in one process: :func:`notifications_dispatch` until
nothing is due, and :func:`notifications_send` for each batch, counting the Celery message
``notifications_dispatch_task`` would enqueue for it instead of going through a broker
(the broker adds one round trip per batch of ``NOTIFICATIONS_BATCH_SIZE``). Every message
goes over a real SMTP conversation to the test sink (``tests/sessions/smtp_sink.py``),
which runs in a third process and counts what it receives per outbox row. The send stops
after ``--max-minutes`` (15) and reports how far it got.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import multiprocessing
import os
import platform
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
MEMBERS_PER_GROUP = 10
SESSIONS_PER_GROUP = 5
OFFSETS = (24 * 60, 2 * 60)
# Monday 1 June 2026, 10:00 in London: the sessions are Tuesday to Saturday evenings.
NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


def _configure(var_dir: str) -> bool:
    """Environment for the production settings with safe throwaway values; True when the
    database is the caller's (``DATABASE_URL``), False for the throwaway SQLite file."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "groupcare.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    os.environ["GROUPCARE_VAR_DIR"] = var_dir
    os.environ["DJANGO_EMAIL_BACKEND"] = "django.core.mail.backends.smtp.EmailBackend"
    os.environ["DJANGO_EMAIL_USE_TLS"] = "false"
    os.environ["DJANGO_EMAIL_HOST_USER"] = ""
    os.environ["DJANGO_EMAIL_HOST_PASSWORD"] = ""
    external = bool(os.environ.get("DATABASE_URL"))
    if not external:
        os.environ["DATABASE_URL"] = f"sqlite:///{Path(var_dir) / 'bench.sqlite3'}"
    return external


# --- the SMTP sink, in a process of its own --------------------------------------------------


def _sink_process(pipe: Connection) -> None:
    """Run the test SMTP sink until told to stop; then send back what it received."""
    sys.path.insert(0, str(ROOT))
    from tests.sessions.smtp_sink import SmtpSink

    with SmtpSink(keep_data=False) as sink:
        pipe.send(sink.port)
        pipe.recv()
        rows = sink.rows()
        pipe.send(
            {
                "messages": sink.count,
                "rows": len(rows),
                "duplicates": sum(count - 1 for count in rows.values()),
                "refused": sink.refused,
            }
        )


# --- seeding (this process) --------------------------------------------------------------


def _seed(count: int) -> None:
    """``count`` due reminder rows for groups of 10 with 5 sessions each, in bulk."""
    from django.db import connection

    from members.enums import Role
    from members.models import Clinic, ClinicRole, Member, User
    from sessions.enums import EnrolmentStatus, NotificationKind, SessionStatus
    from sessions.models import Enrolment, Group, GroupSession, Modality, Notification, Room
    from sessions.services.notifications import reminder_key

    clinic = Clinic.objects.create(name="Benchmark", slug="benchmark", timezone="Europe/London")
    facilitator = User.objects.create_user("facilitator@bench.example", full_name="Fay Lee")
    ClinicRole.objects.create(user=facilitator, clinic=clinic, role=Role.FACILITATOR)
    modality = Modality.objects.create(clinic=clinic, slug="bench", name="Benchmark")
    per_group = MEMBERS_PER_GROUP * SESSIONS_PER_GROUP * len(OFFSETS)
    group_count = math.ceil(count / per_group)
    created = 0
    chunk = 100  # groups at a time, so seeding never holds the whole backlog in memory
    for first in range(0, group_count, chunk):
        numbers = range(first, min(first + chunk, group_count))
        rooms = Room.objects.bulk_create(
            Room(clinic=clinic, name=f"Room {number + 1}", capacity=12) for number in numbers
        )
        groups = Group.objects.bulk_create(
            Group(
                clinic=clinic,
                name=f"Group {number + 1}",
                modality=modality,
                lead_facilitator=facilitator,
                room=room,
                min_size=4,
                max_size=12,
                planned_start=dt.date(2026, 5, 1),
            )
            for number, room in zip(numbers, rooms, strict=True)
        )
        members = Member.objects.bulk_create(
            Member(
                clinic=clinic,
                preferred_name=f"M{group.pk}-{index}",
                legal_name=f"Member {index} of group {group.pk}",
                email=f"m{group.pk}-{index}@bench.example",
            )
            for group in groups
            for index in range(MEMBERS_PER_GROUP)
        )
        by_group = {
            group.pk: members[position * MEMBERS_PER_GROUP : (position + 1) * MEMBERS_PER_GROUP]
            for position, group in enumerate(groups)
        }
        Enrolment.objects.bulk_create(
            Enrolment(
                group_id=group_id,
                member=member,
                status=EnrolmentStatus.ACTIVE,
                joined_on=dt.date(2026, 5, 1),
            )
            for group_id, group_members in by_group.items()
            for member in group_members
        )
        sessions = GroupSession.objects.bulk_create(
            GroupSession(
                group=group,
                room=group.room,
                # 17:00 to 20:00 UTC (18:00 to 21:00 in London), Tuesday to Saturday.
                start=NOW + dt.timedelta(days=day, hours=8 + group.pk % 4),
                end=NOW + dt.timedelta(days=day, hours=8 + group.pk % 4, minutes=90),
                status=SessionStatus.SCHEDULED,
                stage=group.stage,
            )
            for group in groups
            for day in range(1, SESSIONS_PER_GROUP + 1)
        )
        rows = [
            Notification(
                key=reminder_key(session=session, member_id=member.pk, offset_minutes=offset),
                kind=NotificationKind.REMINDER,
                clinic_id=clinic.pk,
                member=member,
                session=session,
                offset_minutes=offset,
                session_start=session.start,
                due_at=NOW - dt.timedelta(minutes=1),
            )
            for session in sessions
            for member in by_group[session.group_id]
            for offset in OFFSETS
        ][: count - created]
        Notification.objects.bulk_create(rows, batch_size=2000)
        created += len(rows)
    # After a bulk load the planner's statistics are stale until autovacuum (PostgreSQL)
    # or nobody (SQLite) refreshes them; a live database has them.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


# --- sending (a fresh process) -------------------------------------------------------------


def _memory_mib() -> tuple[float, float]:
    """(resident now, peak resident) of this process in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    now = peak
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                now = int(line.split()[1]) / 1024
    return now, peak


def _send(count: int, max_seconds: float) -> dict[str, Any]:
    """Dispatch and send until nothing is due (or time is up); figures at N/10 and at N."""
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from sessions.services.notifications import notifications_dispatch, notifications_send

    queries = 0

    def count_queries(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    marks = sorted({max(count // 10, 1), count})
    figures: dict[str, Any] = {"marks": [], "batch_size": settings.NOTIFICATIONS_BATCH_SIZE}
    totals = {"sent": 0, "skipped": 0, "retrying": 0, "failed": 0, "not_claimed": 0}
    messages = dispatches = 0
    started = time.perf_counter()
    timed_out = False

    def mark() -> None:
        resident, peak = _memory_mib()
        figures["marks"].append(
            {
                "sent": totals["sent"],
                "seconds": time.perf_counter() - started,
                "queries": queries,
                "messages": messages,
                "rss": resident,
                "peak": peak,
            }
        )

    with connection.execute_wrapper(count_queries):
        while not timed_out:
            result = notifications_dispatch(now=NOW)
            dispatches += 1
            if not result.batches:
                break
            for batch in result.batches:
                messages += 1  # the Celery message notifications_dispatch_task enqueues
                outcome = notifications_send(notification_ids=batch, now=NOW)
                for name in totals:
                    totals[name] += getattr(outcome, name)
                while marks and totals["sent"] >= marks[0]:
                    mark()
                    marks.pop(0)
                if time.perf_counter() - started > max_seconds:
                    timed_out = True
                    break
    if not figures["marks"] or figures["marks"][-1]["sent"] != totals["sent"]:
        mark()  # stopped at the time limit: the figures where it stopped
    figures.update(
        totals,
        seconds=time.perf_counter() - started,
        messages=messages,
        dispatches=dispatches,
        queries=queries,
        timed_out=timed_out,
    )
    return figures


# --- the report ------------------------------------------------------------------------------


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total_kib = int(meminfo.read_text().split()[1])
        memory = f", {total_kib / 2**20:.0f} GiB RAM"
    return f"{cpu}, {os.cpu_count()} CPUs{memory}, {platform.system()} {platform.release()}"


def _report(count: int, seeded: float, figures: dict[str, Any], sink: dict[str, int]) -> None:
    import django
    from django.db import connection

    sent = figures["sent"]
    print(
        f"GroupCare outbox dispatch and send: {connection.vendor}, Django {django.__version__}, "
        f"Python {platform.python_version()}\n{_machine()}"
    )
    print(f"created {count:,} due reminder rows in {seeded:.1f} s\n")
    header = (
        f"{'sent':>9}{'seconds':>10}{'per s':>8}{'Celery msgs/reminder':>22}"
        f"{'queries/reminder':>18}{'RSS MiB':>9}{'peak MiB':>10}"
    )
    print(header)
    print("-" * len(header))
    for mark in figures["marks"]:
        print(
            f"{mark['sent']:>9,}{mark['seconds']:>10.1f}{mark['sent'] / mark['seconds']:>8.0f}"
            f"{mark['messages'] / mark['sent']:>22.3f}{mark['queries'] / mark['sent']:>18.1f}"
            f"{mark['rss']:>9.1f}{mark['peak']:>10.1f}"
        )
    print(
        f"\nreminders sent: {sent:,} of {count:,} in {figures['seconds']:.1f} s "
        f"({sent / figures['seconds']:.0f} per second)"
        + (" - stopped at the time limit" if figures["timed_out"] else "")
    )
    print(
        f"Celery messages: {figures['messages']:,} send batches of up to "
        f"{figures['batch_size']} ({figures['messages'] / max(sent, 1):.3f} per reminder), "
        f"from {figures['dispatches']} dispatch runs"
    )
    print(
        f"not sent: {figures['skipped']} skipped, {figures['retrying']} retrying, "
        f"{figures['failed']} failed, {figures['not_claimed']} not claimed"
    )
    print(
        f"SMTP sink: {sink['messages']:,} messages for {sink['rows']:,} rows, "
        f"{sink['duplicates']} duplicates, {sink['refused']} refused"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="due reminders to send")
    parser.add_argument(
        "--max-minutes", type=float, default=15, help="stop sending after this long"
    )
    parser.add_argument("--send-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.count < 10:
        parser.error("--count must be at least 10")
    if args.send_only:
        # The sending process: the parent set the environment up, database and sink.
        sys.path.insert(0, str(ROOT))
        print(json.dumps(_send(args.count, args.max_minutes * 60)))
        return

    with tempfile.TemporaryDirectory(prefix="groupcare-bench-") as var_dir:
        external = _configure(var_dir)
        context = multiprocessing.get_context("spawn")
        pipe, child_pipe = context.Pipe()
        sink = context.Process(target=_sink_process, args=(child_pipe,), daemon=True)
        sink.start()
        try:
            if not pipe.poll(30):
                raise RuntimeError("The SMTP sink did not start.")
            os.environ["DJANGO_EMAIL_HOST"] = "127.0.0.1"
            os.environ["DJANGO_EMAIL_PORT"] = str(pipe.recv())
            import django

            django.setup()
            from django.core.management import call_command
            from django.db import connection

            old_name = connection.settings_dict["NAME"]
            if external:
                connection.creation.create_test_db(verbosity=0, autoclobber=True)
            else:
                call_command("migrate", verbosity=0)
            try:
                started = time.perf_counter()
                _seed(args.count)
                seeded = time.perf_counter() - started
                env = dict(os.environ)
                if external:
                    db = connection.settings_dict
                    login = quote(db["USER"], safe="")
                    if db["PASSWORD"]:
                        login += ":" + quote(db["PASSWORD"], safe="")
                    env["DATABASE_URL"] = (
                        f"postgres://{login}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
                    )
                connection.close()
                sender = subprocess.run(  # noqa: S603 - our own interpreter and script
                    [
                        sys.executable,
                        __file__,
                        "--send-only",
                        f"--count={args.count}",
                        f"--max-minutes={args.max_minutes}",
                    ],
                    env=env,
                    stdout=subprocess.PIPE,
                    check=True,
                )
                figures = json.loads(sender.stdout.decode().strip().splitlines()[-1])
                pipe.send("stop")
                received = pipe.recv()
                _report(args.count, seeded, figures, received)
            finally:
                if external:
                    connection.creation.destroy_test_db(old_name, verbosity=0)
                connection.close()
        finally:
            sink.join(timeout=10)
            if sink.is_alive():
                sink.terminate()


if __name__ == "__main__":
    main()
