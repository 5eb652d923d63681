"""R37: the Django admin's change log without student names.

Log entries of models that carry student data say ``"<Model> #<pk>"`` instead of
``str(obj)`` (which holds the student's name), in ``object_repr`` and in the change message.
"""

from __future__ import annotations

import json

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType

from schools import access


def carries_student_data(model) -> bool:
    """Models declared ``student_data`` in the access table, and any model with a foreign
    key to Student."""
    rule = access.REGISTRY.get(model._meta.label)
    if rule is not None and rule.student_data:
        return True
    return any(
        f.is_relation
        and f.concrete
        and f.related_model
        and f.related_model._meta.label == "schools.Student"
        for f in model._meta.get_fields()
    )


def log_repr(obj) -> str:
    """What the admin log says about ``obj``: its str(), or ``"<Model> #<pk>"`` (R37)."""
    if carries_student_data(type(obj)):
        return f"{type(obj)._meta.object_name} #{obj.pk}"
    return str(obj)[:200]


class NeutralLogAdminMixin:
    """A ModelAdmin whose log entries name rows by ``log_repr`` (R37)."""

    def _log(self, request, objs, flag, message="", *, single=False):
        if isinstance(message, list):
            message = json.dumps(message)
        entries = [
            LogEntry(
                user_id=request.user.pk,
                content_type_id=ContentType.objects.get_for_model(obj, for_concrete_model=False).pk,
                object_id=obj.pk,
                object_repr=log_repr(obj),
                action_flag=flag,
                change_message=message,
            )
            for obj in objs
        ]
        if single and len(entries) == 1:
            entries[0].save()
            return entries[0]
        return LogEntry.objects.bulk_create(entries)

    def log_addition(self, request, obj, message):
        return self._log(request, [obj], ADDITION, message, single=True)

    def log_change(self, request, obj, message):
        return self._log(request, [obj], CHANGE, message, single=True)

    def log_deletions(self, request, queryset):
        return self._log(request, list(queryset), DELETION)

    def construct_change_message(self, request, form, formsets, add=False):
        message = super().construct_change_message(request, form, formsets, add)
        # Inline rows are named in the message too: use the same neutral repr (R37).
        reprs = []
        for formset in formsets or ():
            reprs += [log_repr(o) for o in formset.new_objects]
            reprs += [log_repr(o) for o, _ in formset.changed_objects]
            reprs += [log_repr(o) for o in formset.deleted_objects]
        inline_parts = [
            part
            for entry in message
            for part in entry.values()
            if isinstance(part, dict) and "object" in part
        ]
        for part, text in zip(inline_parts, reprs, strict=False):
            part["object"] = text
        return message
