"""Reads behind scheduling: which existing booking stands in the way of a proposed one."""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import reduce

from django.db.models import F, FilteredRelation, IntegerField, Q, Value

from sessions.enums import SessionStatus
from sessions.models import GroupSession, Room


@dataclass(frozen=True)
class BookingConflict:
    """An existing, non-cancelled session that overlaps a proposed interval.

    ``facilitator_id`` is set when a facilitator is double-booked, otherwise ``room_id`` is.
    ``index`` is the position of the proposed interval that collides.
    """

    index: int
    session_id: int
    start: dt.datetime
    end: dt.datetime
    group_name: str
    clinic_id: int
    clinic_timezone: str
    room_id: int | None = None
    facilitator_id: int | None = None


def booking_conflict_find(
    *,
    intervals: Sequence[tuple[dt.datetime, dt.datetime]],
    room: Room | None,
    facilitator_ids: Collection[int],
    exclude_session_ids: Collection[int] = (),
) -> BookingConflict | None:
    """The first booking that overlaps one of ``intervals`` for ``room`` or a facilitator.

    Intervals are half-open ``[start, end)``: a session ending at 19:30 does not collide
    with one starting at 19:30. Cancelled sessions (and cancelled facilitations) never
    block. One query for the whole batch, whatever its length: it fetches every candidate
    in the batch's overall span and the exact overlap test runs in Python.
    """
    if not intervals or (room is None and not facilitator_ids):
        return None
    span_start = min(start for start, _ in intervals)
    span_end = max(end for _, end in intervals)
    facilitator_ids = set(facilitator_ids)

    resources: list[Q] = []
    queryset = GroupSession.objects.all()
    if facilitator_ids:
        queryset = queryset.annotate(
            busy=FilteredRelation(
                "facilitations",
                condition=Q(
                    facilitations__facilitator_id__in=facilitator_ids,
                    facilitations__is_cancelled=False,
                ),
            ),
            busy_facilitator_id=F("busy__facilitator_id"),
        )
        resources.append(Q(busy__isnull=False))
    else:
        queryset = queryset.annotate(busy_facilitator_id=Value(None, IntegerField()))
    if room is not None:
        resources.append(Q(room=room))
    rows = (
        queryset.filter(reduce(operator.or_, resources), start__lt=span_end, end__gt=span_start)
        .exclude(status=SessionStatus.CANCELLED)
        .exclude(pk__in=list(exclude_session_ids))
        .order_by("start", "pk", "busy_facilitator_id")
        .values_list(
            "pk",
            "start",
            "end",
            "room_id",
            "busy_facilitator_id",
            "group__name",
            "group__clinic_id",
            "group__clinic__timezone",
        )
    )
    candidates = list(rows)
    if not candidates:
        return None
    ordered = sorted(enumerate(intervals), key=lambda item: item[1][0])
    for index, (start, end) in ordered:
        for pk, c_start, c_end, c_room_id, c_facilitator_id, name, clinic_id, tz in candidates:
            if not (c_start < end and start < c_end):
                continue
            common = {
                "index": index,
                "session_id": pk,
                "start": c_start,
                "end": c_end,
                "group_name": name,
                "clinic_id": clinic_id,
                "clinic_timezone": tz,
            }
            if c_facilitator_id is not None and c_facilitator_id in facilitator_ids:
                return BookingConflict(**common, facilitator_id=c_facilitator_id)
            if room is not None and c_room_id == room.pk:
                return BookingConflict(**common, room_id=room.pk)
    return None
