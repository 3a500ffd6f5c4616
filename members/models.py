"""Who: accounts, the clinics they work in or attend, their roles there, and client records."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from members.audit_chain import GENESIS
from members.enums import Role
from members.validators import validate_reminder_offsets, validate_timezone

DEFAULT_REMINDER_OFFSETS = (24 * 60, 2 * 60)


def default_reminder_offsets() -> list[int]:
    return list(DEFAULT_REMINDER_OFFSETS)


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)

    @classmethod
    def normalize_email(cls, email: str | None) -> str:
        # The whole address is compared case-insensitively: people type their e-mail
        # in whatever case, and two accounts differing only by case would be a trap.
        return (email or "").strip().lower()

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    """A login. What it may see follows from its :class:`ClinicRole` rows, not from flags.

    ``is_staff`` only opens the Django admin (for the people who run the installation);
    clinic staff are admins and facilitators through their roles.
    """

    email = models.EmailField("e-mail address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        "Django admin access",
        default=False,
        help_text="Opens the technical admin site; clinic roles are granted separately.",
    )
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    def clean(self) -> None:
        super().clean()
        self.email = UserManager.normalize_email(self.email)

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class Clinic(models.Model):
    """The tenant boundary: nothing crosses between clinics."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    timezone = models.CharField(
        max_length=64,
        validators=[validate_timezone],
        help_text="IANA time zone, e.g. Europe/London; schedules are kept in this local time.",
    )
    attendance_lock_days = models.PositiveSmallIntegerField(
        default=7,
        help_text="Days after a session when its attendance locks; then only an admin may amend.",
    )
    waitlist_offer_days = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1)],
        help_text="Days a waitlisted member has to take up a freed place before it moves on.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ClinicRole(models.Model):
    """One role of one person in one clinic. A person may be admin and facilitator at once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="clinic_roles")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "clinic", "role"], name="clinic_role_unique_per_user"
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="clinic_role_role_valid"
            ),
        ]
        indexes = [models.Index(fields=["clinic", "role"])]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} at {self.clinic}"


class Member(models.Model):
    """A client's record in one clinic. A member needs no login; ``user`` links one if any."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="members")
    user = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="member_records",
    )
    preferred_name = models.CharField(max_length=100)
    legal_name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    emergency_contact_name = models.CharField(max_length=200, blank=True)
    emergency_contact_phone = models.CharField(max_length=40, blank=True)
    timezone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_timezone],
        help_text="Leave blank to use the clinic's time zone.",
    )
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    reminders_enabled = models.BooleanField(default=True)
    reminder_offsets = models.JSONField(
        default=default_reminder_offsets,
        validators=[validate_reminder_offsets],
        help_text="Minutes before a session at which to send a reminder.",
    )
    quiet_hours = models.BooleanField(
        default=True,
        help_text="No reminder between 21:00 and 08:00 in the member's time zone (it waits "
        "until 08:00) unless the session starts before then.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Set when an admin anonymised the record after the retention period: its identity and
    # notes are gone, its attendance stays (counted, with no one behind it).
    anonymised_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["preferred_name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "user"],
                condition=models.Q(user__isnull=False),
                name="member_one_record_per_user_per_clinic",
            ),
        ]

    def __str__(self) -> str:
        return self.preferred_name

    @property
    def effective_timezone(self) -> str:
        return self.timezone or self.clinic.timezone


class ApiToken(models.Model):
    """A personal API token: the caller sends ``Authorization: Bearer <token>``.

    Only a SHA-256 digest of the token is stored (a token is 256 random bits, so a slow hash
    adds nothing); the clear token is shown once, when it is issued. ``prefix`` (the first
    characters) lets a person tell their tokens apart. A revoked token stays, for the record.
    """

    PREFIX = "gc_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuditEntry(models.Model):
    """One thing that happened, append-only: who did what to which object, when, from where.

    ``action`` is a dotted name (``sessions.session.cancelled``). ``data`` holds ids and
    codes only, never names, notes or contact details. Rows are never updated or deleted
    by the application, and on PostgreSQL a trigger refuses it to anyone else. Entries
    form a hash chain in ``seq`` order (``members.audit_chain``), written only by
    ``members.services.audit_log`` and checked by ``manage.py audit_verify``.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    clinic = models.ForeignKey(
        Clinic, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    seq = models.PositiveBigIntegerField("sequence number", unique=True, editable=False)
    prev_hash = models.CharField("previous entry's hash", max_length=64, editable=False)
    entry_hash = models.CharField("hash", max_length=64, editable=False)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_type}#{self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise PermissionError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("Audit entries are append-only.")


class AuditChainHead(models.Model):
    """The end of the audit log's hash chain: the last entry's ``seq`` and hash.

    A single row (pk 1). ``audit_log`` locks it to chain entries one at a time, so two
    concurrent writers cannot both link to the same entry.
    """

    PK: ClassVar[int] = 1

    seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="audit_chain_head_single_row")
        ]

    def __str__(self) -> str:
        return f"audit chain head at #{self.seq}"
