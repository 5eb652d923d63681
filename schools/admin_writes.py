"""The admin writes through the services (R43), like the API and the pages.

``ScopedAdminMixin`` takes this mixin, so every scoped ModelAdmin saves with an audit entry
and deletes — one row, the "delete selected" action, or inline rows — with the deletion
records the ``changed_since`` feeds report (R40), in the change view's transaction.
"""

from __future__ import annotations

from django.forms.models import BaseModelFormSet

from schools.services.writes import record_delete, record_save


class ServiceWritesAdminMixin:
    def save_model(self, request, obj, form, change):
        # The ModelForm has just run full_clean() on this instance (the service's validation).
        fields = form.changed_data if change else list(form.cleaned_data)
        record_save(instance=obj, by=request.user, changes=fields, clean=False)

    def delete_model(self, request, obj):
        record_delete(instances=[obj], by=request.user)

    def delete_queryset(self, request, queryset):
        record_delete(instances=queryset, by=request.user)

    def save_formset(self, request, form, formset, change):
        if type(formset).save is not BaseModelFormSet.save:
            # A formset with its own save goes through its own services (e.g. course tasks).
            return super().save_formset(request, form, formset, change)
        formset.save(commit=False)  # collects new, changed and deleted rows; writes nothing
        if formset.deleted_objects:
            record_delete(instances=formset.deleted_objects, by=request.user)
        for obj in formset.new_objects:
            record_save(instance=obj, by=request.user, clean=False)
        for obj, fields in formset.changed_objects:
            record_save(instance=obj, by=request.user, changes=fields, clean=False)
        formset.save_m2m()
        return None


class ViewOnlyAdminMixin:
    """For a ModelAdmin or an inline of rows only their service writes (grades, attendance,
    their histories, the exchange's outcomes): the admin shows them and never adds or changes
    one, so no write skips the rules. Place it first, before the scoping mixin."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
