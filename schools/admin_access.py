"""Admin for access and audit (R36, R37): API tokens, the disclosure log, the audit trail.

* "Issue API token" on users: a new DRF token (replacing any old one), shown once.
* Users: a superuser manages everyone. A district admin (R36) adds and edits the staff users
  of their own district, with their staff roles inline: they see only users holding a role in
  their district (or any school of it), never a superuser, and may neither grant superuser
  status, groups or model permissions nor give a role outside their district. A new user
  needs at least one role, so that it stays in the admin's scope.
* Disclosure log and audit entries: read-only; a district admin (staff user with a district
  admin role) sees the rows of their own district's schools, a superuser sees all.
* Both sign-in pages limit failed attempts (``schools.login``).
"""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied, ValidationError
from rest_framework.authtoken.models import Token

from schools import access
from schools.admin_scoping import (
    ScopedAdminMixin,
    ScopedInlineMixin,
    ScopedPermissionsMixin,
    _autocomplete_source,
    _limited,
    _user_choices,
)
from schools.login import LimitedAdminAuthenticationForm
from schools.models import AuditEntry, DisclosureLog, StaffRole, Tombstone


class RoleAdminAuthenticationForm(LimitedAdminAuthenticationForm):
    """R42: the admin site signs in state, district and school admins by their role;
    ``is_staff`` alone lets no one in (and its absence keeps no school admin out)."""

    def confirm_login_allowed(self, user):
        AuthenticationForm.confirm_login_allowed(self, user)
        if not access.admin_site_allowed(user):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


def _admin_site_has_permission(request) -> bool:
    """R42: who may use the admin site at all (``schools.access.admin_site_allowed``)."""
    return access.admin_site_allowed(request.user)


admin.site.login_form = RoleAdminAuthenticationForm
admin.site.has_permission = _admin_site_has_permission

User = get_user_model()


@admin.action(description="Issue API token (replaces the user's old token)")
def issue_api_token(modeladmin, request, queryset):
    for user in queryset:
        Token.objects.filter(user=user).delete()
        token = Token.objects.create(user=user)
        modeladmin.message_user(
            request,
            f"API token for {user.get_username()}: {token.key} - copy it now; it is shown once.",
            messages.SUCCESS,
        )


if User in admin.site._registry:
    _base = type(admin.site._registry[User])
    admin.site.unregister(User)
else:  # pragma: no cover - the auth admin is always there
    from django.contrib.auth.admin import UserAdmin as _base


USER_LABEL = User._meta.label


def staff_users(user, queryset):
    """The users a non-state admin may see and edit (R41): ``access.managed_users`` - users
    whose every role is inside the admin's district(s), or who hold no role; never a
    superuser. Anyone else is absent (their change and password pages answer 404)."""
    return access.managed_users(user, queryset)


class StaffRoleInline(ScopedInlineMixin, admin.TabularInline):
    """A user's staff roles; a district admin sees and picks only their own district's."""

    model = StaffRole
    fk_name = "user"
    extra = 1
    fields = ["role", "district", "school"]

    def get_queryset(self, request):
        return access.scope_queryset(request.user, super().get_queryset(request))

    def get_formset(self, request, obj=None, **kwargs):
        if _limited(request.user) and obj is None:
            # A new user must get a role in the admin's district, or they would vanish.
            kwargs.setdefault("min_num", 1)
            kwargs.setdefault("validate_min", True)
        return super().get_formset(request, obj, **kwargs)


class ManagedUsersAdminMixin(ScopedPermissionsMixin):
    """R36/R41 for the user admin: a district admin reads and writes the users they manage
    (``staff_users``), not rows of the access table, so the scope is checked here."""

    def _may_read(self, request) -> bool:
        return bool(access.grants_for(request.user).admin_districts)

    def _may_write(self, request, action: str, obj=None) -> bool:
        if not access.may(request.user, USER_LABEL, action):
            return False
        return obj is None or staff_users(request.user, User.objects.filter(pk=obj.pk)).exists()

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not _limited(request.user):
            return queryset
        return staff_users(request.user, queryset).order_by("username")

    def get_search_results(self, request, queryset, search_term):
        if _limited(request.user):
            source = _autocomplete_source(request)
            if source is not None:  # a staff role's or a section's user picker
                queryset = _user_choices(
                    request.user, source, User.objects.all(), request.GET.get("field_name")
                )
                queryset = queryset.filter(is_superuser=False).order_by("username")
            else:
                queryset = staff_users(request.user, queryset)
        return super().get_search_results(request, queryset, search_term)

    def save_model(self, request, obj, form, change):
        if _limited(request.user):
            if obj.is_superuser or (change and not self._may_write(request, "update", obj)):
                raise PermissionDenied("District admins may not change this user.")
            obj.is_superuser = False
        super().save_model(request, obj, form, change)


@admin.register(User)
class UserWithTokenAdmin(ManagedUsersAdminMixin, _base):
    actions = [*(_base.actions or []), issue_api_token]
    inlines = [*(getattr(_base, "inlines", None) or []), StaffRoleInline]

    # --- R41: what a district admin may set on a user -------------------------------------

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not _limited(request.user):
            return fieldsets
        if obj is None:
            names = [f for _, opts in fieldsets for f in opts["fields"]]
            return (
                (None, {"classes": ("wide",), "fields": names[:1]}),
                ("Personal info", {"fields": ("first_name", "last_name", "email")}),
                ("Admin site", {"fields": ("is_staff",)}),
                ("Password", {"fields": names[1:]}),
            )
        hidden = {"is_superuser", "groups", "user_permissions"}
        return tuple(
            (name, {**opts, "fields": tuple(f for f in opts["fields"] if f not in hidden)})
            for name, opts in fieldsets
        )

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if _limited(request.user) and obj is not None:
            return (*fields, "last_login", "date_joined")
        return fields

    def get_list_filter(self, request):
        if _limited(request.user):
            return ["is_staff", "is_active"]
        return super().get_list_filter(request)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if _limited(request.user):
            # Tokens and bulk deletion of people stay with the state admin.
            actions.pop("issue_api_token", None)
            actions.pop("delete_selected", None)
        return actions


class ReadOnlyScopedAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Read-only; who sees which rows is the access table's answer (as in the API)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return access.scope_queryset(request.user, super().get_queryset(request))


@admin.register(DisclosureLog)
class DisclosureLogAdmin(ReadOnlyScopedAdmin):
    list_display = ["at", "user", "reader_school", "source_school", "resource", "record_count"]
    list_filter = ["resource", "source_school"]
    list_select_related = ["user", "reader_school", "source_school"]
    date_hierarchy = "at"


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyScopedAdmin):
    list_display = ["at", "user", "action", "model", "object_id", "school", "run_id"]
    list_filter = ["action", "model"]
    list_select_related = ["user", "school"]
    date_hierarchy = "at"


@admin.register(Tombstone)
class TombstoneAdmin(ReadOnlyScopedAdmin):
    list_display = ["deleted_at", "model", "object_id", "school", "deleted_by"]
    list_filter = ["model"]
