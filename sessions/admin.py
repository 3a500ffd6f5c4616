"""The Django admin: a technical window onto a clinic's programme for the people who run
the installation. Writes that carry rules (stages, seats, attendance) belong to the app's
pages and API, so those records are read-only here."""

from django.contrib import admin

from sessions.models import (
    Agreement,
    AgreementAcceptance,
    Attendance,
    AttendanceChange,
    AttendanceSummary,
    AttendanceSummaryMember,
    CalendarFeed,
    Enrolment,
    Group,
    GroupSession,
    Modality,
    Notification,
    Room,
    Schedule,
    Screening,
    SessionFacilitator,
    StageTransition,
    WaitlistOffer,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records that only the services may write: visible, searchable, never edited here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "clinic", "capacity", "is_active"]
    list_filter = ["clinic", "is_active"]
    search_fields = ["name"]


@admin.register(Modality)
class ModalityAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "clinic"]
    list_filter = ["clinic"]
    search_fields = ["name", "slug"]


class StageTransitionInline(admin.TabularInline):
    model = StageTransition
    extra = 0
    can_delete = False
    readonly_fields = ["from_stage", "to_stage", "by", "at", "note"]

    def has_add_permission(self, request, obj=None):
        return False


class ScheduleInline(admin.StackedInline):
    model = Schedule
    extra = 0
    can_delete = False
    readonly_fields = ["rrule", "first_date", "start_time", "duration_minutes", "updated_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "clinic",
        "modality",
        "stage",
        "lead_facilitator",
        "enrolment_policy",
        "max_size",
        "planned_start",
        "status",
    ]
    list_filter = ["clinic", "stage", "modality", "enrolment_policy", "status"]
    search_fields = ["name"]
    list_select_related = ["clinic", "modality", "lead_facilitator"]
    raw_id_fields = ["lead_facilitator"]
    filter_horizontal = ["co_facilitators"]
    # The stage moves only through its service, which records the transition.
    readonly_fields = ["stage", "final_session_date", "created_at"]
    inlines = [ScheduleInline, StageTransitionInline]


class SessionFacilitatorInline(admin.TabularInline):
    model = SessionFacilitator
    extra = 0
    can_delete = False
    readonly_fields = ["facilitator", "start", "end", "is_cancelled"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(GroupSession)
class GroupSessionAdmin(ReadOnlyAdmin):
    list_display = ["group", "start", "end", "room", "status", "stage", "is_moved", "is_final"]
    list_filter = ["status", "stage", "is_final", "group__clinic"]
    search_fields = ["group__name", "topic"]
    date_hierarchy = "start"
    list_select_related = ["group", "room"]
    inlines = [SessionFacilitatorInline]


@admin.register(Enrolment)
class EnrolmentAdmin(ReadOnlyAdmin):
    list_display = ["pk", "group", "member", "status", "joined_on", "left_on", "waitlisted_at"]
    list_filter = ["status", "group__clinic", "group"]
    search_fields = ["group__name", "member__preferred_name"]
    list_select_related = ["group", "member"]


@admin.register(Screening)
class ScreeningAdmin(ReadOnlyAdmin):
    list_display = ["pk", "enrolment", "outcome", "screened_by", "screened_at"]
    list_filter = ["outcome"]
    list_select_related = ["enrolment", "screened_by"]


@admin.register(WaitlistOffer)
class WaitlistOfferAdmin(ReadOnlyAdmin):
    list_display = ["pk", "enrolment", "status", "offered_at", "expires_at"]
    list_filter = ["status"]


@admin.register(Agreement)
class AgreementAdmin(ReadOnlyAdmin):
    list_display = ["group", "version", "created_by", "created_at"]
    search_fields = ["group__name"]


@admin.register(AgreementAcceptance)
class AgreementAcceptanceAdmin(ReadOnlyAdmin):
    list_display = ["agreement", "member", "method", "accepted_at"]
    list_filter = ["method"]


@admin.register(Attendance)
class AttendanceAdmin(ReadOnlyAdmin):
    list_display = ["session", "member", "status", "minutes_attended", "recorded_at"]
    list_filter = ["status"]
    list_select_related = ["session__group", "member"]


@admin.register(AttendanceChange)
class AttendanceChangeAdmin(ReadOnlyAdmin):
    list_display = ["attendance", "old_status", "new_status", "changed_by", "changed_at"]


@admin.register(StageTransition)
class StageTransitionAdmin(ReadOnlyAdmin):
    list_display = ["group", "from_stage", "to_stage", "by", "at"]
    list_filter = ["to_stage"]
    list_select_related = ["group", "by"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """The outbox: what was sent, skipped (and why) or failed (with the error)."""

    list_display = ["pk", "kind", "status", "due_at", "sent_at", "attempts", "clinic"]
    list_filter = ["status", "kind", "clinic"]
    date_hierarchy = "due_at"
    list_select_related = ["clinic"]
    raw_id_fields = ["member", "user", "session", "offer", "summary"]
    search_fields = ["key"]


class AttendanceSummaryMemberInline(admin.TabularInline):
    model = AttendanceSummaryMember
    extra = 0
    can_delete = False
    readonly_fields = [
        "member",
        "sessions_expected",
        "sessions_attended",
        "rate",
        "consecutive_unexcused",
        "at_risk",
    ]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(AttendanceSummary)
class AttendanceSummaryAdmin(ReadOnlyAdmin):
    list_display = ["group", "week_start", "sessions_held", "attendance_rate", "created_at"]
    list_filter = ["group__clinic"]
    date_hierarchy = "week_start"
    list_select_related = ["group"]
    inlines = [AttendanceSummaryMemberInline]


@admin.register(CalendarFeed)
class CalendarFeedAdmin(ReadOnlyAdmin):
    # The token is a password to the person's calendar: never shown here.
    list_display = ["pk", "user", "member", "created_at", "revoked_at"]
    exclude = ["token"]
    list_select_related = ["user", "member"]
