"""What GroupCare tells people about the programme: the outbox of e-mails, the secret
calendar feeds, and the weekly attendance summaries the facilitators are sent.

Rules that need more than one row (who is expected, when a reminder is due, claiming a row
for sending) live in ``sessions.services.notifications`` and ``…summaries``.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from members.models import Clinic, Member
from sessions.enums import NotificationKind, NotificationStatus
from sessions.models.programme import Group, GroupSession, WaitlistOffer

User = settings.AUTH_USER_MODEL


class AttendanceSummary(models.Model):
    """A group's attendance in one week (Monday to Sunday, clinic-local): stored once, so
    the pages can show the trend and the facilitators' e-mail says what the page says."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="summaries")
    week_start = models.DateField(help_text="The Monday of the week, in the clinic's time zone.")
    sessions_held = models.PositiveSmallIntegerField()
    # Attended / expected over the week's held sessions (present, late and left early count
    # as attended); None when no member was expected.
    attendance_rate = models.DecimalField(max_digits=4, decimal_places=3, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["group", "-week_start"]
        verbose_name_plural = "attendance summaries"
        constraints = [
            models.UniqueConstraint(fields=["group", "week_start"], name="summary_once_per_week"),
        ]

    def __str__(self) -> str:
        return f"{self.group} week of {self.week_start:%Y-%m-%d}"


class AttendanceSummaryMember(models.Model):
    """One member's line in a weekly summary."""

    summary = models.ForeignKey(AttendanceSummary, on_delete=models.CASCADE, related_name="lines")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="+")
    sessions_expected = models.PositiveSmallIntegerField()
    sessions_attended = models.PositiveSmallIntegerField()
    rate = models.DecimalField(max_digits=4, decimal_places=3, null=True, blank=True)
    # Unexcused absences in a row up to the week's end, counted over the member's whole time
    # in the group (a run may have started in an earlier week).
    consecutive_unexcused = models.PositiveSmallIntegerField()
    at_risk = models.BooleanField()

    class Meta:
        ordering = ["summary", "member"]
        constraints = [
            models.UniqueConstraint(fields=["summary", "member"], name="summary_member_once"),
        ]

    def __str__(self) -> str:
        return f"{self.summary}: member #{self.member_id}"


def new_calendar_token() -> str:
    return secrets.token_urlsafe(32)


class CalendarFeed(models.Model):
    """A secret iCalendar URL (``/calendar/<token>.ics``) for one person.

    Either a login's feed (``user``: the sessions they facilitate and those of their member
    records) or a member record's (``member``, for a member without a login). The token is
    kept as it is, not hashed, so its owner can copy the URL again: it opens no more than
    this database already holds, and rotating it (a new row, the old one revoked) ends the
    old URL at once.
    """

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, null=True, blank=True, related_name="calendar_feeds"
    )
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, null=True, blank=True, related_name="calendar_feeds"
    )
    token = models.CharField(max_length=64, unique=True, default=new_calendar_token, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=True, member__isnull=False)
                | Q(user__isnull=False, member__isnull=True),
                name="calendar_feed_one_owner",
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(revoked_at__isnull=True, user__isnull=False),
                name="calendar_feed_one_live_per_user",
            ),
            models.UniqueConstraint(
                fields=["member"],
                condition=Q(revoked_at__isnull=True, member__isnull=False),
                name="calendar_feed_one_live_per_member",
            ),
        ]

    def __str__(self) -> str:
        owner = f"user #{self.user_id}" if self.user_id else f"member #{self.member_id}"
        return f"Calendar feed of {owner}"


class Notification(models.Model):
    """One e-mail in the outbox: written in the transaction of the change that causes it,
    sent by whichever worker claims it, at most once.

    ``key`` makes a row unique per session, recipient and kind (for a reminder also its
    offset and the start it was planned for, so a moved session gets reminders for its new
    time; for a move notice the session's sequence). Inserting the same key again is a no-op,
    which is what makes planning idempotent. The recipient is a member record or, for a
    weekly summary, a facilitator's login; the address is read when the message is sent.
    """

    key = models.CharField(max_length=150, unique=True)
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    session = models.ForeignKey(
        GroupSession,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    offer = models.ForeignKey(
        WaitlistOffer, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    summary = models.ForeignKey(
        AttendanceSummary, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    offset_minutes = models.PositiveIntegerField(null=True, blank=True)
    # The session's start when the message was planned: a reminder whose session has moved
    # since is stale and is skipped, never sent with the old time.
    session_start = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    skip_reason = models.CharField(max_length=100, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(member__isnull=True, user__isnull=False)
                | Q(member__isnull=False, user__isnull=True),
                name="notification_one_recipient",
            ),
            models.CheckConstraint(
                condition=Q(status__in=NotificationStatus.values),
                name="notification_status_valid",
            ),
        ]
        indexes = [
            # The minute dispatcher's scan: due rows still to send, and rows a dead worker
            # left claimed.
            models.Index(
                fields=["due_at"],
                condition=Q(status=NotificationStatus.PENDING),
                name="notification_pending_due",
            ),
            models.Index(
                fields=["claimed_at"],
                condition=Q(status=NotificationStatus.SENDING),
                name="notification_sending_claimed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.get_status_display()})"
