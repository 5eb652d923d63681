"""R4: the rows a district owns (score groups, grading tasks, credit types) and the state's.

One save and one delete for all three (``district_row_save``, ``district_row_delete``): the
state's push-down rows are never changed, the state's other rows only by superusers, and a
row in use on course tasks keeps serving them after its district changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import ProtectedError, RestrictedError

from grading.models import (
    CTE_NUMERIC,
    CourseGradingTask,
    CreditType,
    DistrictOwnedModel,
    GradingTask,
    ScoreGroup,
)
from schools.actors import Actor
from schools.errors import coded_error
from schools.models import District
from schools.services.writes import model_save, record_delete

D = TypeVar("D", bound=DistrictOwnedModel)

# The course task field that points at each kind of row (R6, R10).
COURSE_TASK_FIELD: dict[type[DistrictOwnedModel], str] = {
    ScoreGroup: "score_group",
    GradingTask: "grading_task",
    CreditType: "credit_type",
}


def is_protected_state_row(obj: models.Model) -> bool:
    """R4: the CTE tasks and CTE Numeric are never changed through the admin or the API."""
    if isinstance(obj, GradingTask):
        return bool(obj.pk) and obj.is_cte
    if isinstance(obj, ScoreGroup):
        return bool(obj.pk) and obj.district_id is None and obj.name == CTE_NUMERIC
    return False


def may_edit_row(obj: models.Model, *, by: Actor = None) -> bool:
    """R4: state rows (district null) are read-only for everyone but superusers."""
    if is_protected_state_row(obj):
        return False
    if getattr(obj, "district_id", None) is None and by is not None:
        return bool(getattr(by, "is_superuser", False))
    return True


def check_state_row_editable(
    obj: models.Model, *, by: Actor = None, deleting: bool = False
) -> None:
    """R4: refuse changes to the state's push-down and, for non-superusers, any state row."""
    if is_protected_state_row(obj):
        what = "delete" if deleting else "change"
        raise ValidationError(
            f"{obj} is provided by the state and cannot be {what}d here; "
            "ask the state to change it.",
            code="state_row_read_only",
        )
    if not may_edit_row(obj, by=by):
        raise coded_error(
            {"district": "Choose your district: rows without a district belong to the state."},
            code="state_row_read_only",
        )


def check_district_move(obj: models.Model, *, district: District | None) -> None:
    """R6/R10/R4: a row in use on course tasks keeps serving them after its district changes.

    Moving a district's score group, grading task or credit type to another district would
    leave course tasks of the old district using another district's row (the course task
    check refuses exactly that). Moving it to the state is fine for tasks and credit types;
    for a score group it is refused when the group is used on a KTS course (R6).
    ``obj`` is the row as saved; call this before the new district is assigned.
    """
    if not isinstance(obj, DistrictOwnedModel) or type(obj) not in COURSE_TASK_FIELD:
        return
    if not obj.pk or obj.district_id == (district.pk if district else None):
        return
    used = CourseGradingTask.objects.filter(**{COURSE_TASK_FIELD[type(obj)]: obj})
    if district is not None:
        used = used.exclude(course__calendar__school__district=district)
    elif isinstance(obj, ScoreGroup):
        used = used.filter(course__is_kts=True)
    else:
        return
    first = used.select_related("course").first()
    if first:
        what = obj._meta.verbose_name
        raise coded_error(
            {
                "district": f"Keep this {what} in its district: it is used on course "
                f"{first.course}; set up those course tasks with another {what} first."
            },
            code="in_use_other_district",
        )


def district_row_save(
    *,
    row: D,
    name: str,
    district: District | None,
    by: Actor = None,
    checks: Iterable[Callable[[], object]] = (),
    **fields: Any,
) -> D:
    """Create or update a score group, grading task or credit type (R4): refused for the
    state's push-down, for a state row unless ``by`` is a superuser, and for a move to
    another district while course tasks use the row. ``checks`` are the kind's own rules,
    run after the state-row checks and before anything is saved. Validates (``full_clean``)
    and saves; the caller's transaction, if any, holds it with what it writes next."""
    if row.pk:
        check_state_row_editable(row, by=by)
    check_state_row_editable(type(row)(name=name, district=district), by=by)
    for check in checks:
        check()
    check_district_move(row, district=district)
    with transaction.atomic():
        return model_save(instance=row, name=name, district=district, **fields)


def setup_row_delete(obj: models.Model, *, what: str, users: str, by: Actor = None) -> None:
    """Delete a setup row with its deletion record (R40); refused while ``users`` use it."""
    try:
        record_delete(instances=[obj], by=by)
    except (ProtectedError, RestrictedError) as exc:
        raise ValidationError(
            f"This {what} is in use by {users}; remove those first.",
            code="in_use",
        ) from exc


def district_row_delete(*, row: DistrictOwnedModel, users: str, by: Actor = None) -> None:
    """Delete a score group, grading task or credit type: never the state's push-down, a
    state row only by a superuser (R4), never one in use (``users`` names who uses it)."""
    check_state_row_editable(row, by=by, deleting=True)
    setup_row_delete(row, what=str(row._meta.verbose_name), users=users, by=by)
