"""The teacher's grade grid (R13, R16): one percent input per (student, course task) cell.

The grid is not a Django Form (its fields depend on the roster and the course tasks); this
class reads the posted cells into rows for ``grade_post_bulk`` and maps each row's errors
back to its cell, so the page shows the error next to the value that caused it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from grading.models import CTE_CODES, CourseTaskTerm, Grade
from grading.services.grades import GradeRowsError
from schools.models import Student

CORRECTION_FIELD = "correction_reason"

# A percent as a teacher types it: ASCII digits and at most one decimal point ("85", "85.5",
# "85.50"). The grid's inline preview uses the same pattern, so the two always agree.
PLAIN_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)
COMMA_DECIMAL = re.compile(r"[0-9]+,[0-9]+", re.ASCII)


def percent_refusal(raw: str) -> str | None:
    """Why ``raw`` is not a percent the grid accepts, or None when it is a plain decimal or
    a score label. Anything number-like but not plain ("1e2", "１００", "٨٥", "85,5") is
    refused with what to type instead."""
    if PLAIN_DECIMAL.fullmatch(raw):
        return None
    if COMMA_DECIMAL.fullmatch(raw):
        whole, frac = raw.split(",")
        return f"Use a decimal point: type {whole}.{frac}, not {raw}."
    number_like = any(ch.isdigit() or ch.isdecimal() for ch in raw)
    try:
        Decimal(raw)
        number_like = True
    except InvalidOperation:
        pass
    if number_like:
        return (
            f"{raw} is not a plain number; type the percent with the digits 0-9 and at most "
            "one decimal point, e.g. 85 or 85.5."
        )
    return None


def cell_name(student_id: int, course_task_id: int) -> str:
    return f"g-{student_id}-{course_task_id}"


def cte_order(column: CourseTaskTerm) -> tuple:
    code = column.course_task.grading_task.code
    return (CTE_CODES.index(code) if code in CTE_CODES else len(CTE_CODES), str(column.course_task))


@dataclass
class Cell:
    name: str
    course_task_id: int
    value: str
    grade: Grade | None
    enabled: bool
    errors: list[str] = field(default_factory=list)


@dataclass
class GradeGrid:
    """Columns = the course's tasks with an active term; rows = the rostered students."""

    columns: list[CourseTaskTerm]
    students: list[Student]
    rostered: dict[int, set[int]]  # course task id -> student ids rostered in its term
    grades: dict[tuple[int, int], Grade]  # (student id, grading task id) -> grade
    data: dict | None = None
    column_errors: dict[int, list[str]] = field(default_factory=dict)
    cell_errors: dict[str, list[str]] = field(default_factory=dict)

    def cell(self, student: Student, column: CourseTaskTerm) -> Cell:
        name = cell_name(student.pk, column.course_task_id)
        grade = self.grades.get((student.pk, column.course_task.grading_task_id))
        if self.data is not None:
            value = (self.data.get(name) or "").strip()
        elif grade is None:
            value = ""
        else:
            value = str(grade.percent) if grade.percent is not None else grade.score
        return Cell(
            name=name,
            course_task_id=column.course_task_id,
            value=value,
            grade=grade,
            enabled=student.pk in self.rostered.get(column.course_task_id, set()),
            errors=self.cell_errors.get(name, []),
        )

    def headers(self) -> list[tuple[CourseTaskTerm, list[str]]]:
        return [(c, self.column_errors.get(c.course_task_id, [])) for c in self.columns]

    def table(self) -> list[tuple[Student, list[Cell]]]:
        return [(s, [self.cell(s, c) for c in self.columns]) for s in self.students]

    @property
    def correction_reason(self) -> str:
        return ((self.data or {}).get(CORRECTION_FIELD) or "").strip()

    def rows_for(self, column: CourseTaskTerm) -> list[dict]:
        """The non-empty cells of ``column`` as rows for ``grade_post_bulk``.

        A number is a percent; anything else is a score label (R5 decides if it is allowed).
        Empty cells are left alone: clearing a cell never deletes a posted grade.
        """
        rows = []
        for student in self.students:
            if student.pk not in self.rostered.get(column.course_task_id, set()):
                continue
            raw = (
                (self.data or {}).get(cell_name(student.pk, column.course_task_id)) or ""
            ).strip()
            if not raw:
                continue
            refusal = percent_refusal(raw)
            if refusal is not None:
                name = cell_name(student.pk, column.course_task_id)
                self.cell_errors.setdefault(name, []).append(refusal)
                continue
            row = {"student": student.pk, "correction_reason": self.correction_reason}
            if PLAIN_DECIMAL.fullmatch(raw):
                row["percent"] = raw
            else:
                row["score"] = raw
            rows.append(row)
        return rows

    def add_row_errors(self, column: CourseTaskTerm, rows: list[dict], exc: GradeRowsError):
        for index, errors in exc.rows.items():
            name = cell_name(rows[index]["student"], column.course_task_id)
            self.cell_errors.setdefault(name, []).extend(
                m for errs in errors.values() for e in errs for m in e.messages
            )

    def add_column_error(self, column: CourseTaskTerm, messages: list[str]):
        self.column_errors.setdefault(column.course_task_id, []).extend(messages)

    @property
    def has_errors(self) -> bool:
        return bool(self.cell_errors or self.column_errors)

    def score_groups_json(self) -> dict:
        """What the inline script needs to show the derived score as the teacher types."""
        return {
            str(c.course_task_id): {
                "numeric": c.course_task.score_group.is_cte_numeric,
                "rows": [
                    [r.score, float(r.min_percent)]
                    for r in sorted(
                        c.course_task.score_group.rows.all(), key=lambda r: -r.min_percent
                    )
                ],
            }
            for c in self.columns
        }
