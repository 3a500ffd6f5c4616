"""Reads for exports: the attendance rows a caller may take away, one row at a time.

The export is scoped like every read of attendance (:func:`attendance_queryset_for`): a
clinic admin gets their clinic's rows, a facilitator the rows of the sessions they run, a
member their own rows. Nothing crosses clinics.

Dates are the sessions' local dates in their clinic's time zone, so "March" means the
sessions that met in March on the clinic's wall clock. The database narrows the rows by the
UTC instant (widened by a day on each side, enough for any time zone) and the exact local
date is checked per row while streaming, so clinics in different zones can share one export.

Rows are read with a chunked cursor (a server-side cursor on PostgreSQL) and never held in a
list: memory stays flat however many rows a range holds.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from typing import Any

from django.db.models import Case, CharField, F, Q, QuerySet, Value, When

from members.enums import STAFF_ROLES
from members.models import Clinic, ClinicRole
from sessions.models import Attendance, Group
from sessions.permissions import (
    AnyUser,
    attendance_queryset_for,
    group_queryset_for,
    managed_group_queryset_for,
)

#: The longest range one export may cover, in days, both ends included (a leap year).
EXPORT_MAX_DAYS = 366

#: Rows fetched from the database per round trip.
EXPORT_CHUNK_SIZE = 2000

#: The columns of an attendance export, in order (CSV header and JSON keys alike).
ATTENDANCE_EXPORT_COLUMNS = (
    "session_id",
    "session_date",
    "session_start",
    "session_end",
    "session_status",
    "clinic_id",
    "group_id",
    "group_name",
    "billing_code",
    "member_id",
    "member_name",
    "member_legal_name",
    "attendance_status",
    "minutes_attended",
    "recorded_at",
)

_FIELDS = (
    "session_id",
    "session__start",
    "session__end",
    "session__status",
    "session__group__clinic_id",
    "session__group__clinic__timezone",
    "session__group_id",
    "session__group__name",
    "export_billing_code",
    "member_id",
    "member__preferred_name",
    "export_legal_name",
    "status",
    "minutes_attended",
    "recorded_at",
)


def _utc_midnight(day: dt.date, shift_days: int) -> dt.datetime:
    """Midnight UTC ``shift_days`` from ``day``, clamped to the calendar's ends."""
    try:
        return dt.datetime.combine(day + dt.timedelta(days=shift_days), dt.time(), tzinfo=dt.UTC)
    except OverflowError:
        return (
            dt.datetime.min.replace(tzinfo=dt.UTC)
            if shift_days < 0
            else dt.datetime.max.replace(tzinfo=dt.UTC)
        )


def attendance_export_group(*, user: AnyUser, group_id: int) -> Group | None:
    """The group an export may be narrowed to, with its clinic, or None when ``user`` may
    not know it exists. A group is in scope when ``user`` sees it
    (:func:`group_queryset_for`) or reads attendance of it (a substitute facilitator's
    session, a member's own rows of a group they have left). One query."""
    in_scope = Q(pk__in=group_queryset_for(user).values("pk")) | Q(
        pk__in=attendance_queryset_for(user).values("session__group_id")
    )
    return Group.objects.filter(in_scope, pk=group_id).select_related("clinic").first()


def attendance_export_clinics(*, user: AnyUser, group: Group | None = None) -> list[Clinic]:
    """The clinics whose rows an export may hold: the group's, or every clinic where
    ``user`` holds a role (the scoped querysets never reach further). Each is told of the
    export in its audit log. At most one query."""
    if group is not None:
        return [group.clinic]
    return list(Clinic.objects.filter(roles__user=user).distinct().order_by("pk"))


def _local_midnight(day: dt.date, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """Midnight at the start of ``day`` in ``tz``, clamped to the calendar's ends."""
    try:
        return dt.datetime.combine(day, dt.time(), tzinfo=tz)
    except OverflowError:  # pragma: no cover - the query serializer keeps dates inside
        return dt.datetime.max.replace(tzinfo=dt.UTC)


def attendance_export_member_ids(
    *,
    user: AnyUser,
    clinics: list[Clinic],
    first_day: dt.date,
    last_day: dt.date,
    group_id: int | None = None,
    facilitator_id: int | None = None,
) -> dict[int, list[int]]:
    """The members whose rows an export of ``clinics`` holds, by clinic id (each list
    sorted): the same rows as :func:`attendance_export_rows` (and, with ``facilitator_id``,
    as the report's rows of that person's sessions), the local dates checked in the
    database with each clinic's own midnight. One query (none without clinics), run
    before the first byte so that the audit entry can name them."""
    if not clinics:
        return {}
    in_range = Q()
    for clinic in clinics:
        tz = zoneinfo.ZoneInfo(clinic.timezone)
        try:
            end = _local_midnight(last_day + dt.timedelta(days=1), tz)
        except OverflowError:  # pragma: no cover - the query serializer keeps dates inside
            end = dt.datetime.max.replace(tzinfo=dt.UTC)
        in_range |= Q(
            session__group__clinic_id=clinic.pk,
            session__start__gte=_local_midnight(first_day, tz),
            session__start__lt=end,
        )
    rows = attendance_queryset_for(user).filter(in_range)
    if group_id is not None:
        rows = rows.filter(session__group_id=group_id)
    if facilitator_id is not None:
        rows = rows.filter(session__facilitations__facilitator_id=facilitator_id)
    by_clinic: dict[int, list[int]] = {clinic.pk: [] for clinic in clinics}
    for clinic_id, member_id in (
        rows.order_by("session__group__clinic_id", "member_id")
        .values_list("session__group__clinic_id", "member_id")
        .distinct()
    ):
        by_clinic[clinic_id].append(member_id)
    return by_clinic


def attendance_export_queryset(
    *,
    user: AnyUser,
    first_day: dt.date,
    last_day: dt.date,
    group_id: int | None = None,
) -> QuerySet[Attendance, tuple[Any, ...]]:
    """The attendance rows ``user`` may export whose session starts within a day of
    [``first_day``, ``last_day``] (UTC), as tuples of :data:`_FIELDS`, by session start,
    session, member name. The exact local date is checked by :func:`attendance_export_rows`.

    ``export_legal_name`` is the member's legal name for the staff who run the group (a
    clinic admin, its facilitators) and for the member themself, else None: a substitute
    facilitator sees preferred names only, as on the session's attendance sheet.
    ``export_billing_code`` is the group's billing code for the clinic's staff, else None:
    a member's own export carries what their member view of the group does."""
    billing_visible = Q(
        session__group__clinic_id__in=ClinicRole.objects.filter(
            user_id=user.pk, role__in=STAFF_ROLES
        ).values("clinic_id")
    )
    legal_name_visible = Q(session__group__in=managed_group_queryset_for(user)) | Q(
        member__user_id=user.pk
    )
    rows = attendance_queryset_for(user).filter(
        session__start__gte=_utc_midnight(first_day, -1),
        session__start__lt=_utc_midnight(last_day, 2),
    )
    if group_id is not None:
        rows = rows.filter(session__group_id=group_id)
    return (
        rows.annotate(
            export_legal_name=Case(
                When(legal_name_visible, then=F("member__legal_name")),
                default=Value(None),
                output_field=CharField(),
            ),
            export_billing_code=Case(
                When(billing_visible, then=F("session__group__billing_code")),
                default=Value(None),
                output_field=CharField(),
            ),
        )
        .order_by("session__start", "session_id", "member__preferred_name", "member_id")
        .values_list(*_FIELDS)
    )


def attendance_export_rows(
    *,
    user: AnyUser,
    first_day: dt.date,
    last_day: dt.date,
    group_id: int | None = None,
    chunk_size: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Each attendance row ``user`` may export of the sessions held from ``first_day`` to
    ``last_day`` (local dates, both included), as a dict of :data:`ATTENDANCE_EXPORT_COLUMNS`
    with times in the clinic's zone (ISO 8601 with offset).

    Lazy: the one query runs when the first row is asked for, and rows are fetched
    ``chunk_size`` at a time (default :data:`EXPORT_CHUNK_SIZE`), never all at once."""
    rows = attendance_export_queryset(
        user=user, first_day=first_day, last_day=last_day, group_id=group_id
    )
    zones: dict[str, zoneinfo.ZoneInfo] = {}
    for (
        session_id,
        start,
        end,
        session_status,
        clinic_id,
        tz_name,
        row_group_id,
        group_name,
        billing_code,
        member_id,
        member_name,
        legal_name,
        status,
        minutes,
        recorded_at,
    ) in rows.iterator(chunk_size=chunk_size or EXPORT_CHUNK_SIZE):
        tz = zones.get(tz_name)
        if tz is None:
            tz = zones[tz_name] = zoneinfo.ZoneInfo(tz_name)
        local_start = start.astimezone(tz)
        day = local_start.date()
        if not first_day <= day <= last_day:
            continue
        yield {
            "session_id": session_id,
            "session_date": day.isoformat(),
            "session_start": local_start.isoformat(),
            "session_end": end.astimezone(tz).isoformat(),
            "session_status": session_status,
            "clinic_id": clinic_id,
            "group_id": row_group_id,
            "group_name": group_name,
            "billing_code": billing_code,
            "member_id": member_id,
            "member_name": member_name,
            "member_legal_name": legal_name,
            "attendance_status": status,
            "minutes_attended": minutes,
            "recorded_at": recorded_at.astimezone(tz).isoformat(),
        }
