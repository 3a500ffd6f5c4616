"""Reads behind scheduling: which existing booking stands in the way of a proposed one."""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import reduce

from django.db.models import F, FilteredRelation, IntegerField, Q, Value

from sessions.enums import SessionStatus
from sessions.models import GroupSession


@dataclass(frozen=True)
class BookingRequest:
    """One interval a write is about to book, with the room and facilitators it needs."""

    start: dt.datetime
    end: dt.datetime
    room_id: int | None
    facilitator_ids: frozenset[int]


@dataclass(frozen=True)
class BookingConflict:
    """An existing, non-cancelled session that overlaps a proposed interval.

    ``facilitator_id`` is set when a facilitator is double-booked, otherwise ``room_id`` (and
    ``room_name``) is. ``index`` is the position of the request that collides.
    """

    index: int
    session_id: int
    start: dt.datetime
    end: dt.datetime
    group_name: str
    clinic_id: int
    clinic_timezone: str
    room_id: int | None = None
    room_name: str | None = None
    facilitator_id: int | None = None


def booking_conflict_find(
    *,
    requests: Sequence[BookingRequest],
    exclude_session_ids: Collection[int] = (),
) -> BookingConflict | None:
    """The first booking that overlaps one of ``requests`` for its room or a facilitator.

    Each request names its own room and facilitators, so one call checks a whole series
    whose sessions differ (a substitute here, another room there). Intervals are half-open
    ``[start, end)``: a session ending at 19:30 does not collide with one starting at 19:30.
    Cancelled sessions (and cancelled facilitations) never block. One query for the whole
    batch, whatever its length: it fetches every candidate in the batch's overall span for
    any of the rooms or facilitators, and the exact test runs in Python.
    """
    indexed = [
        (index, request)
        for index, request in enumerate(requests)
        if request.room_id is not None or request.facilitator_ids
    ]
    if not indexed:
        return None
    span_start = min(request.start for _, request in indexed)
    span_end = max(request.end for _, request in indexed)
    facilitator_ids: set[int] = set().union(*(request.facilitator_ids for _, request in indexed))
    room_ids = {request.room_id for _, request in indexed if request.room_id is not None}

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
    if room_ids:
        resources.append(Q(room_id__in=room_ids))
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
            "room__name",
            "busy_facilitator_id",
            "group__name",
            "group__clinic_id",
            "group__clinic__timezone",
        )
    )
    candidates = list(rows)
    if not candidates:
        return None
    for index, request in sorted(indexed, key=lambda item: item[1].start):
        for (
            pk,
            c_start,
            c_end,
            c_room_id,
            c_room,
            c_facilitator_id,
            name,
            clinic_id,
            tz,
        ) in candidates:
            if not (c_start < request.end and request.start < c_end):
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
            if c_facilitator_id is not None and c_facilitator_id in request.facilitator_ids:
                return BookingConflict(**common, facilitator_id=c_facilitator_id)
            if request.room_id is not None and c_room_id == request.room_id:
                return BookingConflict(**common, room_id=c_room_id, room_name=c_room)
    return None
