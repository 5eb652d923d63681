"""The Django admin under the same roles as the API and the pages (R36) and without student
names in its change log (R37).

Every ModelAdmin of the setup and operational models takes ``ScopedAdminMixin`` (placed just
before ``admin.ModelAdmin``); inlines take ``ScopedInlineMixin``. Both are plain overrides of
``ModelAdmin``'s hooks (``has_*_permission``, ``get_queryset``, ``formfield_for_*``,
``get_form``), each calling ``super()``. A superuser (the state admin) is untouched. For any
other staff user, ``schools.access`` decides everything:

* view / module: the model's ``REGISTRY`` rule lets one of the user's roles read it;
* add / change / delete: the ``WRITES`` table (``may`` for the page, ``can_write`` for a row);
* the change list, the change page and autocomplete answers: ``scope_queryset``; foreign-key
  and many-to-many choices: ``fk_queryset`` (state rows stay selectable where the API allows
  them, e.g. CTE tasks, CTE Numeric, state credit types);
* a save that would put the row outside the user's write scope is refused with a form error,
  and ``save_model`` asks again before anything is written;
* inlines follow their parent: visible with it, editable when the parent is.

``ScopedPermissionsMixin`` is what both share with the user admin (``schools.admin_access``),
whose scope is the users a district admin manages rather than an access-table row.
R37: the admin log (``schools.admin_log``) names rows of student data by number only.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import NotRelationField, get_fields_from_path
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db.models import Q

from schools import access
from schools.admin_log import NeutralLogAdminMixin
from schools.admin_writes import ServiceWritesAdminMixin

# Admin actions and the WRITES action each needs; any other custom action needs "update".
ACTION_RIGHTS = {
    "apply_now": "apply",
    "accept_new_value": "review",
    "keep_posted_value": "review",
    "run_exchange_now": "create",
}

OUT_OF_SCOPE = (
    "You may only save records of your own district or school: pick a school, calendar, "
    "course or section you manage."
)


def _limited(user) -> bool:
    """True for staff who are not the state admin: schools.access decides for them."""
    return not access.is_state_admin(user)


def _autocomplete_source(request):
    """The model whose autocomplete widget sent ``request`` (None for any other request)."""
    match = getattr(request, "resolver_match", None)
    if match is None or match.url_name != "autocomplete":
        return None
    from django.apps import apps

    try:
        return apps.get_model(request.GET["app_label"], request.GET["model_name"])
    except (KeyError, LookupError):
        return None


def _scoped_choices(user, owner_model, db_field, queryset):
    if queryset is None:
        queryset = db_field.remote_field.model._default_manager.all()
    if queryset.model is get_user_model():
        return _user_choices(user, owner_model, queryset, db_field.name)
    return access.fk_queryset(user, owner_model, db_field.name, queryset)


def _user_choices(user, owner_model, queryset, field_name: str | None = None):
    """People a non-state admin may pick (R41): for a staff role's user, the users they
    manage; for a section's teachers, teacher-role holders in scope; otherwise holders of a
    role in the admin's scope."""
    from schools.models import Section, StaffRole

    if field_name is None:
        field_name = {StaffRole: "user", Section: "teachers"}.get(owner_model)
    people = access.user_fk_queryset(user, owner_model, field_name, queryset)
    if people is not None:
        return people
    in_scope = Q(pk__in=access.scope_queryset(user, StaffRole.objects.all()).values("user_id"))
    return queryset.filter(in_scope)


class ScopeCheckedForm:
    """Form mixin: refuse, as a form error, a row that would land outside the write scope."""

    scope_user = None

    def _post_clean(self):
        super()._post_clean()
        if self._errors or self.scope_user is None:
            return
        action = "create" if self.instance._state.adding else "update"
        if not access.lands_in_write_scope(self.scope_user, self.instance, action):
            self.add_error(None, ValidationError(OUT_OF_SCOPE, code="out_of_scope"))


class ScopedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """A related-field filter offering only the records the user may see."""

    def field_choices(self, field, request, model_admin):
        queryset = access.scope_queryset(request.user, field.related_model._default_manager.all())
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            queryset = queryset.order_by(*ordering)
        return [(obj.pk, str(obj)) for obj in queryset]


class ScopedChoicesMixin:
    """Foreign-key and many-to-many choices limited to the user's scope (admins and inlines)."""

    def _scope_choices(self, db_field, request, kwargs):
        if _limited(request.user):
            queryset = kwargs.get("queryset")
            if queryset is None:
                queryset = self.get_field_queryset(kwargs.get("using"), db_field, request)
            kwargs["queryset"] = _scoped_choices(request.user, self.model, db_field, queryset)
        return kwargs

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs = self._scope_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs = self._scope_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class ScopedPermissionsMixin(ServiceWritesAdminMixin, NeutralLogAdminMixin, ScopedChoicesMixin):
    """R36/R37 for any scoped ModelAdmin: permissions from ``_may_read`` and ``_may_write``
    (which a subclass defines), the actions they allow, the disclosure log of what is shown,
    autocompletes and list filters in scope, writes through the services, a neutral log."""

    def _label(self) -> str:
        return self.model._meta.label

    def _may_read(self, request) -> bool:
        raise NotImplementedError

    def _may_write(self, request, action: str, obj=None) -> bool:
        raise NotImplementedError

    # --- permissions ----------------------------------------------------------------------

    def has_module_permission(self, request):
        if not _limited(request.user):
            return super().has_module_permission(request)
        return self._may_read(request)

    def has_view_permission(self, request, obj=None):
        if not _limited(request.user):
            return super().has_view_permission(request, obj)
        return self._may_read(request)

    def has_add_permission(self, request):
        if not _limited(request.user):
            return super().has_add_permission(request)
        return self._may_write(request, "create")

    def has_change_permission(self, request, obj=None):
        if not _limited(request.user):
            return super().has_change_permission(request, obj)
        return self._may_write(request, "update", obj)

    def has_delete_permission(self, request, obj=None):
        if not _limited(request.user):
            return super().has_delete_permission(request, obj)
        return self._may_write(request, "delete", obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not _limited(request.user):
            return actions
        return {
            name: action
            for name, action in actions.items()
            if name == "delete_selected"
            or access.may(request.user, self._label(), ACTION_RIGHTS.get(name, "update"))
        }

    # --- what the user sees ---------------------------------------------------------------

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        # R37/R43: HS staff listing tech grades or attendance is a disclosure.
        access.log_cross_school_reads(
            request.user, list(changelist.result_list), resource=f"admin:{self._label()}"
        )
        return changelist

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk is not None:
            # R37/R43: opening a tech grade or attendance record (with its history).
            access.log_cross_school_reads(request.user, [obj], resource=f"admin:{self._label()}")
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_autocomplete_fields(self, request):
        # An autocomplete needs the target's admin (e.g. users): without it, a plain select.
        fields = super().get_autocomplete_fields(request)
        if not _limited(request.user):
            return fields
        return [name for name in fields if self._may_autocomplete(request, name)]

    def _may_autocomplete(self, request, name: str) -> bool:
        related = self.model._meta.get_field(name).related_model
        related_admin = self.admin_site._registry.get(related)
        return related_admin is not None and related_admin.has_view_permission(request)

    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        if not _limited(request.user):
            return filters
        scoped = []
        for entry in filters:
            if isinstance(entry, str):
                try:
                    field = get_fields_from_path(self.model, entry)[-1]
                except (FieldDoesNotExist, NotRelationField):
                    field = None
                if field is not None and field.is_relation and field.related_model is not None:
                    entry = (entry, ScopedRelatedFieldListFilter)
            scoped.append(entry)
        return scoped


class ScopedAdminMixin(ScopedPermissionsMixin):
    """R36/R37 for the ModelAdmin of a model in the access table; see the module docstring."""

    def _may_read(self, request) -> bool:
        rule = access.REGISTRY.get(self._label())
        return rule is not None and access.read_q(request.user, rule) is not None

    def _may_write(self, request, action: str, obj=None) -> bool:
        if obj is None:
            return access.may(request.user, self._label(), action)
        return access.can_write(request.user, obj, action)

    # --- what the user sees ---------------------------------------------------------------

    def get_queryset(self, request):
        return access.scope_queryset(request.user, super().get_queryset(request))

    def get_search_results(self, request, queryset, search_term):
        if _limited(request.user):
            queryset = self._autocomplete_choices(request) or access.scope_queryset(
                request.user, queryset
            )
        return super().get_search_results(request, queryset, search_term)

    def _autocomplete_choices(self, request):
        """For an autocomplete widget: what the source field may point at (fk_queryset)."""
        source = _autocomplete_source(request)
        if source is None:
            return None
        try:
            field = source._meta.get_field(request.GET["field_name"])
        except (KeyError, FieldDoesNotExist):
            return None
        if field.related_model is not self.model:
            return None
        base = self.model._default_manager.complex_filter(field.get_limit_choices_to())
        return access.fk_queryset(request.user, source, field.name, base)

    # --- saving ---------------------------------------------------------------------------

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if not _limited(request.user):
            return form
        return type(form.__name__, (ScopeCheckedForm, form), {"scope_user": request.user})

    def save_model(self, request, obj, form, change):
        # The form has refused an out-of-scope row already; a form that skips that check is
        # refused here, before anything is written.
        action = "update" if change else "create"
        if _limited(request.user) and not access.lands_in_write_scope(request.user, obj, action):
            raise PermissionDenied(OUT_OF_SCOPE)
        super().save_model(request, obj, form, change)


class ScopedInlineMixin(ScopedChoicesMixin):
    """Inlines follow their parent (R36): seen with it, added/changed/deleted when the parent
    may be changed (or added, on the add page); choices scoped like the parent's."""

    def _parent_admin(self):
        return self.admin_site._registry.get(self.parent_model)

    def has_view_permission(self, request, obj=None):
        if not _limited(request.user):
            return super().has_view_permission(request, obj)
        parent = self._parent_admin()
        return parent is not None and parent.has_view_permission(request, obj)

    def _parent_writable(self, request, obj) -> bool:
        parent = self._parent_admin()
        if parent is None:
            return False
        if obj is None:
            return parent.has_add_permission(request)
        return parent.has_change_permission(request, obj)

    def has_add_permission(self, request, obj):
        if not _limited(request.user):
            return super().has_add_permission(request, obj)
        return self._parent_writable(request, obj)

    def has_change_permission(self, request, obj=None):
        if not _limited(request.user):
            return super().has_change_permission(request, obj)
        return self._parent_writable(request, obj)

    def has_delete_permission(self, request, obj=None):
        if not _limited(request.user):
            return super().has_delete_permission(request, obj)
        return self._parent_writable(request, obj)
