from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from members.models import AuditEntry, Clinic, ClinicRole, Member, User


class ClinicRoleInline(admin.TabularInline):
    model = ClinicRole
    extra = 0
    autocomplete_fields = ["clinic"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_active", "is_staff", "last_login"]
    search_fields = ["email", "full_name"]
    inlines = [ClinicRoleInline]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("full_name",)}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "full_name", "password1", "password2")}),
    )
    filter_horizontal = ("groups",)


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "timezone"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ["preferred_name", "clinic", "user"]
    list_filter = ["clinic"]
    search_fields = ["preferred_name", "legal_name", "email"]
    raw_id_fields = ["user"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit log: searchable by action, object and actor; nobody can alter it here."""

    list_display = ["at", "action", "actor", "clinic", "object_type", "object_id", "ip_address"]
    list_filter = ["clinic", "action"]
    search_fields = ["action", "object_type", "object_id", "actor__email"]
    date_hierarchy = "at"
    list_select_related = ["actor", "clinic"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
