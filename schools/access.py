"""Who may see and change what (R36). Every API view and page goes through here.

Until the role model lands, only superusers (state admins) pass. Deny by default.
"""

from rest_framework.permissions import BasePermission


class IsScopedUser(BasePermission):
    """Deny by default: anonymous users never pass; others pass only if scoped."""

    message = "You do not have access to this resource."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_superuser)


def scope_queryset(user, queryset):
    """Filter ``queryset`` to the records ``user`` may see (R36)."""
    if user.is_authenticated and user.is_superuser:
        return queryset
    return queryset.none()
