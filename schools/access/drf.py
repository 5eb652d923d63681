"""The API's permission class (R36): reads scoped by the queryset, writes by the table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework.permissions import SAFE_METHODS, BasePermission

from schools.access.registry import WRITES, _label
from schools.access.roles import grants_for, is_state_admin
from schools.access.scoping import can_write, may

if TYPE_CHECKING:
    # Under TYPE_CHECKING only: importing DRF's views reads the permission setting, which
    # names this package.
    from rest_framework.request import Request
    from rest_framework.views import APIView

_ACTION_NAMES = {"create": "create", "update": "update", "partial_update": "update"}
_ACTION_NAMES["destroy"] = "delete"


def view_label(view: APIView) -> str | None:
    """The model label a view works on (``access_resource`` overrides)."""
    label = getattr(view, "access_resource", None)
    if label:
        return str(label)
    queryset = getattr(view, "queryset", None)
    if queryset is not None:
        return _label(queryset.model)
    serializer_class = getattr(view, "serializer_class", None)
    meta = getattr(serializer_class, "Meta", None)
    if meta is not None and getattr(meta, "model", None) is not None:
        return _label(meta.model)
    return None


def view_action(view: APIView, request: Request) -> str:
    """The table action of a write request: create/update/delete or a named action."""
    name = getattr(view, "action", None)
    if name in _ACTION_NAMES:
        return _ACTION_NAMES[name]
    mapped = getattr(view, "access_actions", {}).get(name)
    if mapped:
        return str(mapped)
    label = view_label(view)
    table = WRITES.get(label, {}) if label is not None else {}
    if name and any(name in acts for acts in table.values()):
        return str(name)
    if request.method == "DELETE":
        return "delete"
    if name and getattr(view, "detail", False):
        return "update"
    return "create" if request.method == "POST" else "update"


class IsScopedUser(BasePermission):
    """R36: signed-in staff with a role (or a state admin). Reads are scoped by the queryset;
    writes follow the role-action table (403 otherwise) and stay inside the user's scope."""

    message = "You do not have access to this resource."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if user.is_superuser:
            return True
        # Roles are read afresh for every request (a client may reuse one user object);
        # token authentication read them with this request's user (schools.access.tokens).
        if getattr(request.auth, "_kts_grants_of", None) is not user:
            user.__dict__.pop("_kts_grants", None)
        if not grants_for(user).any:
            return False
        if request.method in SAFE_METHODS:
            return True
        label = view_label(view)
        if label is None:
            return False
        self.message = "Your role may not make this change."
        return may(user, label, view_action(view, request))

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        if request.method in SAFE_METHODS or is_state_admin(request.user):
            return True
        self.message = "Your role may not make this change."
        return can_write(request.user, obj, view_action(view, request))
