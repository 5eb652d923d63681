"""R5/R6: score groups and their rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from grading.models import CTE_NUMERIC, CourseGradingTask, ScoreGroup, ScoreRow
from grading.scoring import rows_of, thresholds
from grading.services.district_rows import district_row_delete, district_row_save
from schools import versions
from schools.actors import Actor
from schools.errors import coded_error
from schools.models import District

ROW_FIELDS = ("score", "min_percent", "passing", "gpa_value")

# A score row as sent by a form or the API: ``score``, ``min_percent``, ``passing``, ``gpa_value``.
RowData = Mapping[str, Any]


def validate_score_rows(rows: Sequence[RowData]) -> None:
    """R5: at least one row, Min % and score unique in the group, exactly one row at 0 %."""
    if not rows:
        raise coded_error(
            {"rows": "Add at least one row; one of them must have Min % 0."},
            code="score_group_empty",
        )
    mins = [Decimal(str(r["min_percent"])) for r in rows]
    if len(set(mins)) != len(mins):
        dup = next(m for m in mins if mins.count(m) > 1)
        raise coded_error(
            {"rows": f"Give each row a different Min %; {dup} is used twice."},
            code="min_percent_not_unique",
        )
    scores = [str(r["score"]).strip() for r in rows]
    if len(set(scores)) != len(scores):
        dup_score = next(s for s in scores if scores.count(s) > 1)
        raise coded_error(
            {"rows": f"Give each row a different score; {dup_score} is used twice."},
            code="score_not_unique",
        )
    if Decimal("0") not in mins:
        raise coded_error(
            {"rows": "Add a row with Min % 0 so that every percent maps to a score."},
            code="no_zero_row",
        )


def cte_numeric_thresholds() -> list[Decimal]:
    """The Min % column of the state's CTE Numeric (R6: 90, 80, 70, 60, 0)."""
    group = ScoreGroup.objects.get(name=CTE_NUMERIC, district=None)
    return thresholds(rows_of(group.rows.all()))


def check_kts_thresholds(group: ScoreGroup, rows: Sequence[RowData]) -> None:
    """R6: a district group used on a KTS course must keep CTE Numeric's Min % column."""
    if not group.pk or thresholds(rows_of(rows)) == cte_numeric_thresholds():
        return
    used = (
        CourseGradingTask.objects.filter(score_group=group, course__is_kts=True)
        .select_related("course")
        .first()
    )
    if used:
        raise coded_error(
            {
                "rows": f"Keep the Min % column 90, 80, 70, 60, 0: this group is used on the "
                f"KTS course {used.course}, which must match CTE Numeric."
            },
            code="score_group_used_on_kts_course",
        )


@transaction.atomic
def score_group_save(
    *,
    group: ScoreGroup | None,
    name: str,
    district: District | None,
    rows: Sequence[RowData],
    by: Actor = None,
) -> ScoreGroup:
    """Create or update a score group; its rows are replaced as a whole (R4, R5, R6)."""
    group = group or ScoreGroup()
    district_row_save(
        row=group,
        name=name,
        district=district,
        by=by,
        checks=[lambda: validate_score_rows(rows), lambda: check_kts_thresholds(group, rows)],
    )
    new_rows = [ScoreRow(group=group, **{k: r[k] for k in ROW_FIELDS if k in r}) for r in rows]
    errors: list[str] = []
    for row in new_rows:
        try:
            row.full_clean(exclude=["group"], validate_constraints=False)
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        raise coded_error({"rows": errors}, code="invalid_row")
    group.rows.all().delete()
    ScoreRow.objects.bulk_create(new_rows)
    versions.bump_setup()  # issue 13: score rows are a cached report's input
    return group


def score_group_delete(*, group: ScoreGroup, by: Actor = None) -> None:
    district_row_delete(row=group, users="course tasks", by=by)
