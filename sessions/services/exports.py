"""Exports of clinical records: each one is recorded before any of it leaves."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from members.models import Clinic, User
from members.services import audit_log
from sessions.models import Group


def attendance_export_record(
    *,
    by: User,
    clinics: list[Clinic | None],
    member_ids: dict[int, list[int]],
    group: Group | None,
    first_day: dt.date,
    last_day: dt.date,
    export_format: str,
) -> None:
    """Audit ``sessions.attendance.exported`` once per clinic the export reaches (``None``
    for a caller with no role anywhere, who exports nothing: that is recorded too), naming
    the clinic's members whose rows it holds (``member_ids``, by clinic id).

    Called before the first byte is sent: an export cut off half-way was still an export.
    Ids, dates and the format only; no names. An export is recorded even when it holds
    no row (someone asked for these rows).
    """
    with transaction.atomic():
        for clinic in clinics:
            audit_log(
                action="sessions.attendance.exported",
                actor=by,
                clinic=clinic,
                obj=group,
                data={
                    "from": first_day.isoformat(),
                    "to": last_day.isoformat(),
                    "group_id": group.pk if group is not None else None,
                    "format": export_format,
                    "member_ids": sorted(member_ids.get(clinic.pk, [])) if clinic else [],
                },
            )
