"""R4: grading tasks. The state's CTE tasks are never changed here."""

from __future__ import annotations

from grading.models import GradingTask
from grading.services.district_rows import district_row_delete, district_row_save
from schools.actors import Actor
from schools.models import District


def grading_task_save(
    *,
    task: GradingTask | None,
    name: str,
    code: str = "",
    district: District | None = None,
    by: Actor = None,
) -> GradingTask:
    """Create or update a grading task; the state's CTE tasks cannot be changed (R4)."""
    return district_row_save(
        row=task or GradingTask(), name=name, district=district, by=by, code=code or ""
    )


def grading_task_delete(*, task: GradingTask, by: Actor = None) -> None:
    district_row_delete(row=task, users="course tasks or grades", by=by)
