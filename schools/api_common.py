"""Shared API pieces: pagination, error handling and the one validation path for writes.

R36/R37/R40 plug in here, so every resource gets them without doing anything:
``ScopedModelViewSet`` filters reads through ``schools.access.scope_queryset``, records an
``AuditEntry`` for every successful write and a ``Tombstone`` for every delete (the
``deletions`` feed); ``CleanModelSerializer`` limits every foreign key to records in the
user's scope and refuses a saved row that left the user's write scope.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, QuerySet, RestrictedError
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from schools import access
from schools.access import scope_queryset
from schools.actors import user_or_none
from schools.services.writes import model_save


def django_error_to_drf(exc: DjangoValidationError) -> DRFValidationError:
    """Turn a model ValidationError into DRF's 400 body ({field: [msg]} / non_field_errors)."""
    if hasattr(exc, "error_dict"):
        detail = {}
        for field, errors in exc.error_dict.items():
            key = "non_field_errors" if field == "__all__" else field
            detail.setdefault(key, []).extend(
                serializers.ErrorDetail(str(m), code=e.code or "invalid")
                for e in errors
                for m in e.messages
            )
        return DRFValidationError(detail)
    return DRFValidationError(
        {
            "non_field_errors": [
                serializers.ErrorDetail(str(m), code=exc.code or "invalid") for m in exc.messages
            ]
        }
    )


def validated_query(serializer_class, request) -> dict:
    """The request's query parameters as ``serializer_class`` validates them; a bad one
    answers 400 with the serializer's errors."""
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = django_error_to_drf(exc)
    elif isinstance(exc, IntegrityError):
        exc = DRFValidationError({"non_field_errors": ["This conflicts with an existing record."]})
    elif isinstance(exc, OverflowError):
        # An id too large for the database's integers (SQLite raises instead of matching none).
        exc = DRFValidationError({"non_field_errors": ["A number in the request is too large."]})
    elif isinstance(exc, (ProtectedError, RestrictedError)):
        exc = DRFValidationError(
            {
                "non_field_errors": [
                    serializers.ErrorDetail(
                        "This record is still in use; remove what refers to it first.",
                        code="in_use",
                    )
                ]
            }
        )
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):
        # A ValidationError without a field (e.g. DRF's search filter refusing a NUL
        # character) answers the documented shape, {"non_field_errors": [...]}, not a list.
        response.data = {"non_field_errors": response.data}
    return response


class CleanModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer whose writes run ``full_clean()`` inside a transaction.

    DRF does not call ``Model.clean()``; this does, so the API gives the same answer as the
    admin's ModelForm. Many-to-many values are set after the save, inside the same
    transaction, and ``after_save(instance, m2m)`` lets a subclass validate the whole object
    (raising Django's ValidationError rolls everything back).
    """

    def get_fields(self):
        """R36: a foreign key may only point at records in the user's scope, so a write
        cannot reach (or move a row into) another school; out of scope reads as not found."""
        fields = super().get_fields()
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is None or access.is_state_admin(user):
            return fields
        owner = getattr(getattr(self, "Meta", None), "model", None)
        for name, f in fields.items():
            relation = f.child_relation if isinstance(f, serializers.ManyRelatedField) else f
            queryset = getattr(relation, "queryset", None)
            if f.read_only or queryset is None:
                continue
            relation.queryset = access.fk_queryset(user, owner, name, queryset)
        return fields

    def save(self, **kwargs):
        """Save, then make sure the row is inside the user's write scope (R36), atomically."""
        request = self.context.get("request")
        user = getattr(request, "user", None)
        creating = self.instance is None
        with transaction.atomic():
            instance = super().save(**kwargs)
            if user is not None and not access.is_state_admin(user) and instance is not None:
                view = self.context.get("view")
                action = access.view_action(view, request) if view is not None else None
                if action is None or action == "delete":
                    action = "create" if creating else "update"
                if isinstance(instance, list):
                    rows = instance
                else:
                    rows = [instance]
                for row in rows:
                    if isinstance(row, self.Meta.model) and not access.can_write(user, row, action):
                        raise PermissionDenied("Your role may not make this change here.")
        return instance

    def _split_m2m(self, validated_data):
        m2m = {}
        for field in list(validated_data):
            model_field = (
                self.Meta.model._meta.get_field(field)
                if field in {f.name for f in self.Meta.model._meta.get_fields()}
                else None
            )
            if model_field is not None and model_field.many_to_many:
                m2m[field] = validated_data.pop(field)
        return m2m

    def save_instance(self, instance, validated_data):
        m2m = self._split_m2m(validated_data)
        for attr, value in validated_data.items():
            setattr(instance, attr, value)
        try:
            with transaction.atomic():
                model_save(instance=instance)
                for attr, value in m2m.items():
                    getattr(instance, attr).set(value)
                self.after_save(instance, m2m)
        except DjangoValidationError as exc:
            raise django_error_to_drf(exc) from exc
        return instance

    def after_save(self, instance, m2m) -> None:
        """Hook for rules that span related rows; raise Django's ValidationError to refuse."""

    def create(self, validated_data):
        return self.save_instance(self.Meta.model(), validated_data)

    def update(self, instance, validated_data):
        return self.save_instance(instance, validated_data)


class ScopedViewMixin:
    """R36 scope on reads, R37 audit on writes and disclosure on cross-school reads.

    A view whose services write their own audit entries (R43: grades, attendance) sets
    ``audited_by_service = True`` so each write is audited once, with the right action."""

    def get_queryset(self):
        return scope_queryset(self.request.user, super().get_queryset())

    def get_serializer(self, *args, **kwargs):
        if args and self.request.method == "GET":
            objs = args[0]
            rows = list(objs) if isinstance(objs, list | tuple | QuerySet) else [objs]
            if rows and hasattr(rows[0], "_meta"):
                access.log_cross_school_reads(
                    self.request.user, rows, resource=getattr(self, "basename", "") or ""
                )
        return super().get_serializer(*args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if (
            request.method not in ("GET", "HEAD", "OPTIONS", "DELETE")
            and 200 <= response.status_code < 300
            and not getattr(self, "audited_by_service", False)
        ):
            audit_write(request, self, response)
        return response


def _model_of(view):
    label = access.view_label(view)
    if not label:
        return None
    try:
        return access._model(label)
    except LookupError:
        return None


def audit_write(request, view, response) -> None:
    """R37: one AuditEntry per successful API write: who, what, which row, which fields."""
    from schools.models import AuditEntry

    model = _model_of(view)
    data = response.data if isinstance(response.data, dict) else {}
    object_id = data.get("id") or (view.kwargs.get("pk") if hasattr(view, "kwargs") else None)
    try:
        object_id = int(object_id) if object_id is not None else None
    except (TypeError, ValueError):
        object_id = None
    school_id = None
    if model is not None and object_id is not None:
        obj = model._base_manager.filter(pk=object_id).first()
        school_id = access.school_id_of(obj) if obj is not None else None
    sent = request.data if isinstance(request.data, dict) else {}
    AuditEntry.objects.create(
        user=user_or_none(request.user),
        action=access.view_action(view, request),
        model=model._meta.label if model is not None else (view.__class__.__name__[:50]),
        object_id=object_id,
        school_id=school_id,
        changes=sorted(str(k) for k in sent)[:100],
    )


class ScopedModelViewSet(ScopedViewMixin, viewsets.ModelViewSet):
    """Every API resource: the queryset passes through the R36 scope first; writes are
    audited (R37) and deletes leave a tombstone for the change feeds (R40)."""

    def destroy(self, request, *args, **kwargs):
        self.perform_destroy(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def perform_destroy(self, instance):
        # R43: the same service as the admin: deletion records (R40) and the audit entry.
        from schools.services.writes import record_delete

        record_delete(instances=[instance], by=self.request.user)


class ScopedReadOnlyModelViewSet(ScopedViewMixin, viewsets.ReadOnlyModelViewSet):
    pass


def not_found(request, exception=None):
    """``handler404``: under ``/api/`` a JSON 404 like every API answer (an id the URL
    pattern refuses, e.g. ``students/-5/cumulative-gpa/``); elsewhere Django's page."""
    from django.http import JsonResponse
    from django.views.defaults import page_not_found

    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


def register_viewsets(router, viewsets: dict[str, type]) -> None:
    """Add ``viewsets`` (URL prefix -> viewset) to the /api/v1/ router; each prefix is also
    its viewset's basename."""
    for name, viewset in viewsets.items():
        router.register(name, viewset, basename=name)
