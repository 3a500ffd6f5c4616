from allauth.mfa.admin import AuthenticatorAdmin as AllauthAuthenticatorAdmin
from allauth.mfa.models import Authenticator
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from members.mfa import mfa_enforce_after_change
from members.models import AuditEntry, Clinic, ClinicRole, Member, User
from members.selectors import user_is_staff
from members.services import audit_log, user_sessions_end_if_became_staff


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

    # Granting Django admin access, or a staff role through the inline, makes the person
    # staff: their open sessions were decided at sign-in (no MFA, member logoff limits), so
    # they end, as when a role is granted in GroupCare.
    def save_model(self, request: HttpRequest, obj: User, form, change: bool) -> None:
        before = User.objects.filter(pk=obj.pk).first() if change else None
        form._groupcare_was_staff = before is None or user_is_staff(user=before)
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        user_sessions_end_if_became_staff(user=form.instance, was_staff=form._groupcare_was_staff)

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        """Roles given, changed or taken away in the inline are written to GroupCare's audit
        log, as the People pages' changes are (a changed row is one taken away and one
        given)."""
        if formset.model is not ClinicRole:
            super().save_formset(request, form, formset, change)
            return
        before = {
            role.pk: (role.clinic, role.role)
            for role in ClinicRole.objects.filter(user=form.instance).select_related("clinic")
        }
        super().save_formset(request, form, formset, change)
        after = {
            role.pk: (role.clinic, role.role)
            for role in ClinicRole.objects.filter(user=form.instance).select_related("clinic")
        }
        changes = [("members.role.revoked", pk, was) for pk, was in before.items()]
        changes += [("members.role.granted", pk, now) for pk, now in after.items()]
        for action, pk, (clinic, role) in changes:
            if before.get(pk) == after.get(pk):
                continue
            audit_log(
                action=action,
                actor=request.user,  # type: ignore[arg-type]
                clinic=clinic,
                obj=ClinicRole(pk=pk, user=form.instance, clinic=clinic, role=role),
                data={"user_id": form.instance.pk, "role": str(role)},
            )


# allauth's own admin for authenticators, plus what GroupCare does when a factor is removed
# in its pages: a person left without one loses their API tokens and their sessions.
admin.site.unregister(Authenticator)


@admin.register(Authenticator)
class AuthenticatorAdmin(AllauthAuthenticatorAdmin):
    def delete_model(self, request: HttpRequest, obj: Authenticator) -> None:
        super().delete_model(request, obj)
        self._after_deletion(request, [obj.user])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Authenticator]) -> None:
        users = list(User.objects.filter(pk__in=queryset.values("user_id")))
        super().delete_queryset(request, queryset)
        self._after_deletion(request, users)

    @staticmethod
    def _after_deletion(request: HttpRequest, users: list[User]) -> None:
        # Once the deletion has committed: sessions may live outside the database.
        def enforce() -> None:
            for user in users:
                mfa_enforce_after_change(user=user, by=request.user)  # type: ignore[arg-type]

        transaction.on_commit(enforce)


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
