"""Admin for access and audit (R36, R37): API tokens, the disclosure log, the audit trail.

* "Issue API token" on users: a new DRF token (replacing any old one), shown once.
* Disclosure log and audit entries: read-only; a district admin (staff user with a district
  admin role) sees the rows of their own district's schools, a superuser sees all.
* Both sign-in pages limit failed attempts (``schools.login``).
"""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from schools import access
from schools.admin_scoping import ScopedAdminMixin
from schools.login import LimitedAdminAuthenticationForm
from schools.models import AuditEntry, DisclosureLog, Tombstone

admin.site.login_form = LimitedAdminAuthenticationForm

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


@admin.register(User)
class UserWithTokenAdmin(_base):
    actions = [*(_base.actions or []), issue_api_token]


class ReadOnlyScopedAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Read-only; non-superusers see only their district's rows (schools.access scope)."""

    def _district_admin(self, request) -> bool:
        return bool(access.grants_for(request.user).admin_districts)

    def has_module_permission(self, request):
        return request.user.is_superuser or self._district_admin(request)

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or self._district_admin(request)

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
