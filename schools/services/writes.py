"""The one write path (STYLE "One validation path", R37, R40, R43): validate and save a row
(``model_save``), with its audit entry (``record_save``), and delete rows with their deletion
records and audit entries (``record_delete``). Services of every app, the API's serializers
and the admin use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from django.db import models, router, transaction
from django.db.models.deletion import Collector

from schools import versions
from schools.actors import Actor, user_or_none
from schools.models import AuditEntry, TimeStampedModel, Tombstone

M = TypeVar("M", bound=models.Model)


@transaction.atomic
def model_save(*, instance: M, **fields: Any) -> M:
    """The one validate-then-save helper (STYLE "One validation path"): set ``fields`` on
    ``instance``, ``full_clean()`` it (fields, ``clean()``, uniqueness, constraints), save.
    Services of every app, the API's serializers and the admin (``record_save``) use it."""
    for name, value in fields.items():
        setattr(instance, name, value)
    instance.full_clean()
    instance.save()
    versions.bump_for(type(instance))  # issue 13: cached reports that read it are stale
    return instance


# --- R37/R40/R43: the audit entry and the deletion record of every write ------------------


def audit_record(
    *,
    action: str,
    instance: models.Model | None = None,
    model: str = "",
    object_id: int | None = None,
    school_id: int | None = None,
    by: Actor = None,
    run_id: int | None = None,
    changes: Iterable[str] = (),
) -> AuditEntry:
    """R37/R43: one audit entry for one write: who (``by``) or which run, what, which row,
    which fields (names only, never values)."""
    from schools import access

    if instance is not None:
        model = model or instance._meta.label
        object_id = object_id if object_id is not None else instance.pk
        if school_id is None and instance.pk is not None:
            school_id = access.school_id_of(instance)
    return AuditEntry.objects.create(
        user=user_or_none(by),
        run_id=run_id,
        action=action[:30],
        model=model[:50],
        object_id=object_id,
        school_id=school_id,
        changes=sorted(str(c) for c in changes)[:100],
    )


def record_save(
    *,
    instance: M,
    by: Actor,
    changes: Iterable[str] = (),
    action: str | None = None,
    clean: bool = True,
) -> M:
    """R43: validate (``full_clean``), save and audit one row, atomically. The admin's
    ``save_model`` and code paths without a dedicated service use it; ``clean=False`` only
    where a ModelForm has just validated the same instance."""
    creating = instance._state.adding
    with transaction.atomic():
        if clean:
            model_save(instance=instance)
        else:
            instance.save()
            versions.bump_for(type(instance))
        audit_record(
            action=action or ("create" if creating else "update"),
            instance=instance,
            by=by,
            changes=changes,
        )
    return instance


def _school_ids(model: type[models.Model], pks: list[int]) -> dict[int, int | None]:
    """The school of each row (its access rule's first path), in one query per model."""
    from schools import access

    rule = access.REGISTRY.get(model._meta.label)
    path = rule.schools[0] if rule is not None and rule.schools else None
    if path is None or not pks:
        return {}
    rows = model._base_manager.filter(pk__in=pks).values_list("pk", path or "pk").order_by()
    return dict(rows)


def _is_fed(model: type[models.Model]) -> bool:
    """Rows the ``changed_since`` lists serve (R40): every model with ``modified_at``."""
    return issubclass(model, TimeStampedModel)


def record_delete(
    *, instances: Iterable[models.Model], by: Actor, run_id: int | None = None
) -> int:
    """R40/R43: delete rows with a deletion record (``Tombstone``) for each of them and for
    every row the delete cascades to that a change feed serves, plus an audit entry per row
    asked for, in one transaction. The API's DELETE, the admin's delete view and its
    "delete selected" action all come here, so the ``deletions`` feed misses none.
    Returns the number of rows deleted (cascades included)."""
    instances = list(instances)
    if not instances:
        return 0
    user = user_or_none(by)
    using = router.db_for_write(type(instances[0]))
    with transaction.atomic(using=using):
        # The stubs take one origin; Django passes any value through to the delete signals.
        collector = Collector(using=using, origin=instances)  # type: ignore[arg-type]
        collector.collect(instances)
        doomed: dict[type[models.Model], set[int]] = {}
        for model, objs in collector.data.items():
            if _is_fed(model):
                doomed.setdefault(model, set()).update(o.pk for o in objs)
        for qs in collector.fast_deletes:
            if _is_fed(qs.model):
                doomed.setdefault(qs.model, set()).update(qs.values_list("pk", flat=True))
        schools = {model: _school_ids(model, sorted(pks)) for model, pks in doomed.items()}
        for model in {type(o) for o in instances} - set(schools):
            schools[model] = _school_ids(model, [o.pk for o in instances if type(o) is model])
        asked = [(o._meta.label, o.pk, schools[type(o)].get(o.pk)) for o in instances]
        for model, pks in doomed.items():
            Tombstone.objects.bulk_create(
                [
                    Tombstone(
                        model=model._meta.label,
                        object_id=pk,
                        school_id=schools[model].get(pk),
                        deleted_by=user,
                    )
                    for pk in sorted(pks)
                ]
            )
        deleted, _ = collector.delete()
        touched = {*collector.data, *(qs.model for qs in collector.fast_deletes)}
        if any(versions.is_input(model) for model in touched):
            versions.bump_setup()  # issue 13: cached reports that read them are stale
        AuditEntry.objects.bulk_create(
            [
                AuditEntry(
                    user=user,
                    run_id=run_id,
                    action="delete",
                    model=label,
                    object_id=pk,
                    school_id=school_id,
                )
                for label, pk, school_id in asked
            ]
        )
    return deleted
