"""Writes of the secret calendar feeds: issuing (and so rotating) and revoking one."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from members.models import Member, User
from members.services import ANONYMISED_REFUSAL, MemberAnonymisedError, audit_log
from sessions.errors import MemberHasLoginError
from sessions.models import CalendarFeed


def calendar_feed_issue(
    *, user: User | None = None, member: Member | None = None, by: User
) -> CalendarFeed:
    """Give a login (``user``) or a member record (``member``) a new secret feed, revoking
    the one it had: the old URL stops working at once.

    One transaction under a row lock on the owner (the user or the member row), so two
    rotations at the same time run one after the other and leave exactly one live feed.
    Writes ``sessions.calendar_feed.issued`` with ids only (never the token). Refuses
    (:class:`MemberHasLoginError`) a member record linked to a login. Each call rotates
    (that is what it is for), so it is not idempotent.
    """
    if (user is None) == (member is None):
        raise ValueError("A calendar feed belongs to a login or to a member record.")
    with transaction.atomic():
        if member is not None:
            # Read under the lock: a login linked to the record since it was loaded counts.
            locked = (
                Member.objects.select_for_update()
                .only("pk", "user_id", "anonymised_at")
                .get(pk=member.pk)
            )
            if locked.anonymised_at is not None:
                raise MemberAnonymisedError(ANONYMISED_REFUSAL)
            if locked.user_id is not None:
                raise MemberHasLoginError(
                    "This member signs in to GroupCare: they take their own calendar link "
                    "from their account."
                )
            live = CalendarFeed.objects.filter(member=member, revoked_at__isnull=True)
            clinic_id: int | None = member.clinic_id
        else:
            User.objects.select_for_update().only("pk").get(pk=user.pk)  # type: ignore[union-attr]
            live = CalendarFeed.objects.filter(user=user, revoked_at__isnull=True)
            clinic_id = None  # a login's feed spans every clinic it takes part in
        revoked_ids = list(live.values_list("pk", flat=True))
        live.update(revoked_at=timezone.now())
        feed = CalendarFeed.objects.create(user=user, member=member)
        audit_log(
            action="sessions.calendar_feed.issued",
            actor=by,
            clinic_id=clinic_id,
            obj=feed,
            data={
                "user_id": user.pk if user is not None else None,
                "member_id": member.pk if member is not None else None,
                "revoked_feed_ids": revoked_ids,
            },
        )
    return feed


def calendar_feed_revoke(*, feed: CalendarFeed, by: User) -> CalendarFeed:
    """Revoke the feed: its URL answers 404 from now on.

    Idempotent: revoking a revoked feed changes nothing and writes nothing. One
    transaction; writes ``sessions.calendar_feed.revoked`` with ids only.
    """
    with transaction.atomic():
        changed = CalendarFeed.objects.filter(pk=feed.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        feed.refresh_from_db(fields=["revoked_at"])
        if changed:
            audit_log(
                action="sessions.calendar_feed.revoked",
                actor=by,
                clinic_id=feed.member.clinic_id if feed.member_id is not None else None,
                obj=feed,
                data={"user_id": feed.user_id, "member_id": feed.member_id},
            )
    return feed
