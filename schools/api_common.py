"""Shared API pieces: pagination, error handling and the one validation path for writes."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.views import exception_handler as drf_exception_handler

from schools.access import scope_queryset


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


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = django_error_to_drf(exc)
    elif isinstance(exc, IntegrityError):
        exc = DRFValidationError({"non_field_errors": ["This conflicts with an existing record."]})
    return drf_exception_handler(exc, context)


class CleanModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer whose writes run ``full_clean()`` inside a transaction.

    DRF does not call ``Model.clean()``; this does, so the API gives the same answer as the
    admin's ModelForm. Many-to-many values are set after the save, inside the same
    transaction, and ``after_save(instance, m2m)`` lets a subclass validate the whole object
    (raising Django's ValidationError rolls everything back).
    """

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
                instance.full_clean()
                instance.save()
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


class ScopedModelViewSet(viewsets.ModelViewSet):
    """Every API resource: the queryset passes through the R36 scope first."""

    def get_queryset(self):
        return scope_queryset(self.request.user, super().get_queryset())


class ScopedReadOnlyModelViewSet(viewsets.ReadOnlyModelViewSet):
    def get_queryset(self):
        return scope_queryset(self.request.user, super().get_queryset())
