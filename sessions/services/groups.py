"""Writes about groups themselves: rooms, modalities, creating a group, moving its stage."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from members.enums import Role
from members.models import Clinic, ClinicRole, User
from members.services import audit_log
from sessions.enums import EnrolmentPolicy, GroupStatus, SessionStatus, Stage
from sessions.errors import GroupError, NameInUseError, StageChangeError
from sessions.models import Group, GroupSession, Modality, Room, StageTransition
from sessions.selectors.enrolment import seats_taken
from sessions.services.scheduling import group_sessions_finalise, group_sessions_unfinalise


def room_create(*, clinic: Clinic, name: str, capacity: int, by: User) -> Room:
    """Add a room to the clinic. Raises ValidationError for a blank name or a capacity below
    one, and NameInUseError for a name the clinic already uses."""
    room = Room(clinic=clinic, name=name.strip(), capacity=capacity)
    _refuse_room_name_in_use(room)
    # The name check above and the capacity's validator cover Room's constraints.
    room.full_clean(exclude=["clinic"], validate_constraints=False)
    try:
        with transaction.atomic():
            room.save()
            audit_log(action="sessions.room.created", actor=by, clinic=clinic, obj=room)
    except IntegrityError:  # the same name, saved by someone else since the check
        _refuse_room_name_in_use(room)
        raise
    return room


def _refuse_room_name_in_use(room: Room) -> None:
    """Name the room in the way, where the unique constraint would only say "exists"."""
    other = (
        Room.objects.filter(clinic_id=room.clinic_id, name=room.name)
        .exclude(pk=room.pk)
        .values_list("pk", flat=True)
        .first()
    )
    if other is not None:
        raise NameInUseError("The clinic already has a room with this name.", conflict_id=other)


def modality_create(*, clinic: Clinic, name: str, by: User) -> Modality:
    """Add a modality of the clinic's own beside the built-in six. Raises NameInUseError
    when the clinic or the built-in list already has one of that name (in any case)."""
    # A name of symbols only has no slug of its own; the slug is not unique in a clinic.
    modality = Modality(clinic=clinic, name=name.strip(), slug=slugify(name)[:50] or "custom")
    _refuse_modality_name_in_use(modality)
    # The name check above covers the clinic's constraint; the built-in one needs no clinic.
    modality.full_clean(exclude=["clinic"], validate_constraints=False)
    try:
        with transaction.atomic():
            modality.save()
            audit_log(action="sessions.modality.created", actor=by, clinic=clinic, obj=modality)
    except IntegrityError:  # the same name, saved by someone else since the check
        _refuse_modality_name_in_use(modality)
        raise
    return modality


def _refuse_modality_name_in_use(modality: Modality) -> None:
    other = (
        Modality.objects.filter(
            Q(clinic_id=modality.clinic_id) | Q(clinic__isnull=True), name__iexact=modality.name
        )
        .values_list("pk", flat=True)
        .first()
    )
    if other is not None:
        raise NameInUseError("A modality of this name already exists.", conflict_id=other)


def _facilitator_ids(clinic: Clinic, users: Iterable[User]) -> set[int]:
    return set(
        ClinicRole.objects.filter(
            clinic=clinic, role=Role.FACILITATOR, user__in=list(users), user__is_active=True
        ).values_list("user_id", flat=True)
    )


def group_create(
    *,
    clinic: Clinic,
    by: User,
    name: str,
    modality: Modality,
    lead_facilitator: User,
    planned_start: dt.date,
    co_facilitators: Iterable[User] = (),
    description: str = "",
    min_size: int = 4,
    max_size: int = 10,
    enrolment_policy: EnrolmentPolicy = EnrolmentPolicy.CLOSED,
    room: Room | None = None,
    video_link: str = "",
    billing_code: str = "90853",
    planned_end: dt.date | None = None,
    late_cancel_notice_hours: int = 24,
) -> Group:
    """Create a group in forming, with its first stage transition and an audit entry.

    Field problems (sizes, dates, a room of another clinic, room and video link together)
    raise ValidationError with a message per field; every facilitator must hold the
    facilitator role in the clinic.
    """
    co_facilitators = [user for user in co_facilitators if user.pk != lead_facilitator.pk]
    group = Group(
        clinic=clinic,
        name=name.strip(),
        modality=modality,
        description=description,
        lead_facilitator=lead_facilitator,
        min_size=min_size,
        max_size=max_size,
        enrolment_policy=enrolment_policy,
        room=room,
        video_link=video_link,
        billing_code=billing_code,
        planned_start=planned_start,
        planned_end=planned_end,
        late_cancel_notice_hours=late_cancel_notice_hours,
    )
    # The related rows are instances the caller holds, and clean() and the field validators
    # cover every check constraint of Group: no query per foreign key or constraint here.
    group.full_clean(exclude=["clinic", "modality", "lead_facilitator"], validate_constraints=False)
    facilitators = [lead_facilitator, *co_facilitators]
    missing = {user.pk for user in facilitators} - _facilitator_ids(clinic, facilitators)
    if missing:
        raise GroupError(
            "Every facilitator of a group must be a facilitator of its clinic "
            f"(user ids without that role: {', '.join(map(str, sorted(missing)))})."
        )
    with transaction.atomic():
        group.save()
        if co_facilitators:
            group.co_facilitators.add(*co_facilitators)
        StageTransition.objects.create(group=group, from_stage="", to_stage=Stage.FORMING, by=by)
        audit_log(
            action="sessions.group.created",
            actor=by,
            clinic=clinic,
            obj=group,
            data={"lead_facilitator_id": lead_facilitator.pk},
        )
    return group


def stage_change(
    *,
    group: Group,
    to: Stage,
    by: User,
    note: str = "",
    final_session_date: dt.date | None = None,
    now: dt.datetime | None = None,
) -> StageTransition:
    """Move the group to stage ``to`` and record the transition (from, to, who, when, note).

    Forward moves are normal; moving back needs a note. Moving to adjourning needs the date
    of the final session: that session is marked final and no session takes place or is
    generated after it (:func:`group_sessions_finalise`). Leaving adjourning (back, with a
    note) lifts the final date, restores the sessions finalising cancelled and generates
    the series again (:func:`group_sessions_unfinalise`; a facilitator or room booked
    meanwhile refuses the move with :class:`DoubleBookingError`). Future sessions take the
    new stage. One transaction, under the group's row lock (the group row only).
    """
    to = Stage(to)
    now = now or timezone.now()
    note = note.strip()
    with transaction.atomic():
        group = (
            Group.objects.select_for_update(of=("self",)).select_related("clinic").get(pk=group.pk)
        )
        current = Stage(group.stage)
        if group.status == GroupStatus.ARCHIVED:
            raise StageChangeError("This group is archived; its stage can no longer change.")
        if to == current:
            raise StageChangeError(f"The group is already {current.label.lower()}.")
        if to.order < current.order and not note:
            raise StageChangeError(
                f"Moving back from {current.label.lower()} to {to.label.lower()} needs a note "
                "saying why."
            )
        if to == Stage.ADJOURNING:
            if final_session_date is None:
                raise StageChangeError(
                    "Moving to adjourning needs the date of the group's final session."
                )
            group_sessions_finalise(group=group, final_date=final_session_date, by=by, now=now)
        elif final_session_date is not None:
            raise StageChangeError("A final session date applies only when moving to adjourning.")
        if current == Stage.ADJOURNING:
            group_sessions_unfinalise(group=group, by=by, now=now)

        group.stage = to
        group.save(update_fields=["stage", "final_session_date"])
        GroupSession.objects.filter(
            group=group, start__gt=now, status=SessionStatus.SCHEDULED
        ).update(stage=to)
        transition = StageTransition.objects.create(
            group=group, from_stage=current, to_stage=to, by=by, at=now, note=note
        )
        audit_log(
            action="sessions.group.stage_changed",
            actor=by,
            clinic_id=group.clinic_id,
            obj=group,
            data={"from": str(current), "to": str(to), "transition_id": transition.pk},
        )
    return transition


def room_update(
    *,
    room: Room,
    by: User,
    name: str | None = None,
    capacity: int | None = None,
    is_active: bool | None = None,
) -> Room:
    """Rename a room, change its capacity or take it out of (or back into) use.

    Fields left None keep their value. Raises ValidationError for a blank name or a capacity
    below one, NameInUseError for a name the clinic already uses. Taking a room out of use
    moves no session: the sessions booked there keep it. Audit ``sessions.room.updated``
    with the names of the changed fields.
    """
    changes = {
        field: value
        for field, value in (
            ("name", name.strip() if name is not None else None),
            ("capacity", capacity),
            ("is_active", is_active),
        )
        if value is not None and getattr(room, field) != value
    }
    if not changes:
        return room
    for field, value in changes.items():
        setattr(room, field, value)
    _refuse_room_name_in_use(room)
    # The name check above and the capacity's validator cover Room's constraints.
    room.full_clean(exclude=["clinic"], validate_constraints=False)
    try:
        with transaction.atomic():
            room.save(update_fields=list(changes))
            audit_log(
                action="sessions.room.updated",
                actor=by,
                clinic_id=room.clinic_id,
                obj=room,
                data={"fields": sorted(changes)},
            )
    except IntegrityError:  # the same name, saved by someone else since the check
        _refuse_room_name_in_use(room)
        raise
    return room


#: What :func:`group_update` may change. Clinic, stage, status, the final session date and
#: the lead facilitator each have their own rule (and service), so they are not here.
GROUP_UPDATABLE_FIELDS: frozenset[str] = frozenset(
    {
        "name",
        "description",
        "modality",
        "min_size",
        "max_size",
        "enrolment_policy",
        "room",
        "video_link",
        "billing_code",
        "planned_start",
        "planned_end",
        "late_cancel_notice_hours",
    }
)


def group_update(
    *,
    group: Group,
    by: User,
    co_facilitators: Iterable[User] | None = None,
    **fields: object,
) -> Group:
    """Change a group's description, capacity, policy, place, billing code or planned dates.

    ``fields`` may hold only :data:`GROUP_UPDATABLE_FIELDS` (anything else is a TypeError:
    a caller bug, not input); ``co_facilitators`` (when not None) replaces the
    co-facilitators, who must be facilitators of the clinic (the lead is dropped from the
    list). Field problems raise ValidationError per field, as in :func:`group_create`;
    lowering the maximum below the seats taken raises :class:`GroupError`, and so does
    changing an archived group. A new room or video link applies to sessions generated from
    now on; sessions already scheduled keep theirs (move them one by one).

    One transaction under the group's row lock (seats are counted under it, as the
    enrolment services do); audit ``sessions.group.updated`` with the changed field names.
    """
    unknown = set(fields) - GROUP_UPDATABLE_FIELDS
    if unknown:
        raise TypeError(f"group_update() cannot change {', '.join(sorted(unknown))}")
    if "name" in fields and isinstance(fields["name"], str):
        fields["name"] = fields["name"].strip()
    with transaction.atomic():
        locked = (
            Group.objects.select_for_update(of=("self",))
            .select_related("clinic", "modality", "room")
            .get(pk=group.pk)
        )
        if locked.status == GroupStatus.ARCHIVED:
            raise GroupError("This group is archived; it can no longer change.")
        changed = sorted(
            field for field, value in fields.items() if getattr(locked, field) != value
        )
        for field in changed:
            setattr(locked, field, fields[field])
        # clean() and the field validators state every check constraint of Group in plain
        # words; validating the constraints again would cost three queries each. The clinic
        # and the lead do not change here, so their rows need no existence check either.
        locked.full_clean(exclude=["clinic", "lead_facilitator"], validate_constraints=False)

        co_changed = False
        if co_facilitators is not None:
            wanted = [user for user in co_facilitators if user.pk != locked.lead_facilitator_id]
            missing = {user.pk for user in wanted} - _facilitator_ids(locked.clinic, wanted)
            if missing:
                raise GroupError(
                    "Every facilitator of a group must be a facilitator of its clinic "
                    f"(user ids without that role: {', '.join(map(str, sorted(missing)))})."
                )
            current = set(locked.co_facilitators.values_list("pk", flat=True))
            co_changed = current != {user.pk for user in wanted}

        if "max_size" in changed:
            taken = seats_taken(group=locked)
            if taken > locked.max_size:
                raise GroupError(
                    f"The group already has {taken} seats taken; the maximum cannot go "
                    f"below that (asked for {locked.max_size})."
                )
        if changed:
            locked.save(update_fields=changed)
        if co_changed:
            locked.co_facilitators.set(wanted)
            changed.append("co_facilitators")
        if changed:
            audit_log(
                action="sessions.group.updated",
                actor=by,
                clinic_id=locked.clinic_id,
                obj=locked,
                data={"fields": changed},
            )
    return locked
