"""The checks of a grade post, before anything is written (R5, R13, R16, R23, R44): the
posting context (course task, active term, teacher, linked section) once per post, then
every row's student and value. A bulk post is refused as a whole, naming each bad row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q

from grading import scoring
from grading.error_codes import GradingErrorCode
from grading.models import (
    CTE_FINAL,
    CourseGradingTask,
    CourseTaskTerm,
    Grade,
    GradeSource,
    GradingTask,
)
from grading.services.grade_values import resolve_value
from schools.actors import Actor, user_or_none
from schools.errors import field_error
from schools.models import Roster, Section, Student, Term

LINKED_SECTION_MESSAGE = (
    "Grades on linked KTS sections come from the technical school through the nightly exchange."
)


class GradeRowsError(ValidationError):
    """A bulk post refused because of some rows: ``rows`` maps a row index to its errors.

    Each value is ``{field: [ValidationError, ...]}``. The exception itself carries the same
    errors as ``{"grades": ["Row n (student ...): message", ...]}`` so a caller that only knows
    Django's ValidationError still shows something useful.
    """

    def __init__(
        self, rows: dict[int, dict[str, list[ValidationError]]], students: Mapping[int, str]
    ):
        self.rows = rows
        flat = []
        for index in sorted(rows):
            label = students.get(index) or "?"
            for errors in rows[index].values():
                for error in errors:
                    flat.append(
                        ValidationError(
                            f"Row {index + 1} (student {label}): {error.messages[0]}",
                            code=error.code,
                        )
                    )
        super().__init__({"grades": flat})


@dataclass(frozen=True)
class PostingContext:
    """What every row of one post shares: section, course task, its active term, score rows."""

    section: Section
    course_task: CourseGradingTask
    term: Term
    rows: list[scoring.Row]
    is_cte_numeric: bool
    school_id: int  # the term's school: audit entries name it (R37)

    @property
    def is_final(self) -> bool:
        return self.course_task.grading_task.code == CTE_FINAL


def posting_context(
    *,
    section: Section,
    grading_task: GradingTask,
    term: Term,
    by: Actor,
    source: str,
) -> PostingContext:
    """R13/R23: refuse the whole post when the section, task or term do not allow it."""
    if source not in GradeSource.values:
        raise field_error(
            "source",
            f"Use one of: {', '.join(GradeSource.values)}.",
            code=GradingErrorCode.INVALID_SOURCE,
        )
    if source == GradeSource.TEACHER:
        user = user_or_none(by)
        if user is None or (
            not user.is_superuser and not section.teachers.filter(pk=user.pk).exists()
        ):
            raise field_error(
                "section",
                "You can post grades only for your own sections.",
                code=GradingErrorCode.NOT_YOUR_SECTION,
            )
    if source != GradeSource.EXCHANGE and (
        Section.objects.filter(pk=section.pk, kts_link__isnull=False).exists()
    ):
        # R23: the HS copy of a tech grade is written by the exchange only.
        raise field_error("section", LINKED_SECTION_MESSAGE, code=GradingErrorCode.LINKED_SECTION)
    course_task = (
        CourseGradingTask.objects.select_related("grading_task", "score_group")
        .prefetch_related("score_group__rows")
        .filter(course_id=section.course_id, grading_task_id=grading_task.pk)
        .first()
    )
    if course_task is None:
        raise field_error(
            "grading_task",
            f"{grading_task} is not set up on course "
            f"{section.course.number}; add it on the course's grading tasks first.",
            code=GradingErrorCode.TASK_NOT_ON_COURSE,
        )
    active = (
        CourseTaskTerm.objects.filter(course_task=course_task, active=True)
        .select_related("term__calendar")
        .first()
    )
    if active is None or active.term_id != term.pk:
        where = (
            f"the active term is {active.term.name}"
            if active
            else "no term is active for this task"
        )
        raise field_error(
            "term",
            f"Posting is open only for the active term; {where}. Ask the school "
            "to open a grading window for this term.",
            code=GradingErrorCode.TERM_NOT_ACTIVE,
        )
    return PostingContext(
        section=section,
        course_task=course_task,
        term=term,
        rows=scoring.rows_of(course_task.score_group.rows.all()),
        is_cte_numeric=course_task.score_group.is_cte_numeric,
        school_id=active.term.calendar.school_id,
    )


def _rostered_student_ids(section: Section, term: Term, student_ids: Iterable[int]) -> set[int]:
    """R13: students with a roster in ``section`` active on some day of ``term``."""
    return set(
        Roster.objects.filter(
            section_id=section.pk,
            student_id__in=list(student_ids),
            start_date__lte=term.end_date,
        )
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=term.start_date))
        .values_list("student_id", flat=True)
    )


def _error_dict(exc: ValidationError) -> dict[str, list[ValidationError]]:
    if hasattr(exc, "error_dict"):
        return {field: list(errors) for field, errors in exc.error_dict.items()}
    return {"__all__": list(exc.error_list)}


@dataclass
class PlannedRow:
    """One valid row of a post, as it will be written."""

    index: int
    student_id: int
    percent: Decimal | None
    score: str
    comments: str | None  # None keeps the current comments
    reason: str


def plan_rows(
    *, ctx: PostingContext, rows: Sequence[Mapping[str, Any]], source: str
) -> list[PlannedRow]:
    """Validate every row (R5, R13, R16); raise GradeRowsError naming each bad row."""
    errors: dict[int, dict[str, list[ValidationError]]] = {}
    labels: dict[int, str] = {}
    student_ids: list[int | None] = []
    for row in rows:
        student = row.get("student")
        student_ids.append(student.pk if isinstance(student, Student) else student)
    try:
        wanted = {int(s) for s in student_ids if s is not None}
    except (TypeError, ValueError):
        wanted = set()
    known = dict(Student.objects.filter(pk__in=wanted).values_list("pk", "state_id"))
    rostered = _rostered_student_ids(ctx.section, ctx.term, known)
    existing = {
        sid: (percent, score)
        for sid, percent, score in Grade.objects.filter(
            section_id=ctx.section.pk,
            grading_task_id=ctx.course_task.grading_task_id,
            term_id=ctx.term.pk,
            student_id__in=list(known),
        ).values_list("student_id", "percent", "score")
    }
    seen: set[int] = set()
    planned: list[PlannedRow] = []
    for index, row in enumerate(rows):
        row_errors: dict[str, list[ValidationError]] = {}
        raw = student_ids[index]
        try:
            sid = int(raw) if raw is not None else None
        except (TypeError, ValueError):
            sid = None
        labels[index] = known[sid] if sid is not None and sid in known else str(raw)
        if sid not in known:
            row_errors["student"] = [
                ValidationError(
                    "Choose an existing student.", code=GradingErrorCode.UNKNOWN_STUDENT
                )
            ]
        elif sid not in rostered:
            row_errors["student"] = [
                ValidationError(
                    f"Student {known[sid]} is not rostered in this section during "
                    f"{ctx.term.name}; roster the student first.",
                    code=GradingErrorCode.NOT_ROSTERED,
                )
            ]
        elif sid in seen:
            row_errors["student"] = [
                ValidationError(
                    f"Student {known[sid]} appears twice; give one grade per student.",
                    code=GradingErrorCode.DUPLICATE_STUDENT,
                )
            ]
        try:
            percent, score = resolve_value(
                rows=ctx.rows,
                group=ctx.course_task.score_group.name,
                is_cte_numeric=ctx.is_cte_numeric,
                percent=row.get("percent"),
                score=row.get("score"),
            )
        except ValidationError as exc:
            for field, errs in _error_dict(exc).items():
                row_errors.setdefault(field, []).extend(errs)
            percent, score = None, ""
        reason = (row.get("correction_reason") or "").strip()
        if (
            not row_errors
            and ctx.is_final
            and source != GradeSource.EXCHANGE
            and sid in existing
            and existing[sid] != (percent, score)
            and not reason
        ):
            # R16: a CTE Final Grade is posted once; a change is a correction with a reason.
            row_errors["correction_reason"] = [
                ValidationError(
                    "This final grade is already posted; give a correction reason to change it.",
                    code=GradingErrorCode.CORRECTION_REASON_REQUIRED,
                )
            ]
        if row_errors or sid is None:  # an unknown student is a row error above
            errors[index] = row_errors
            continue
        seen.add(sid)
        comments = row.get("comments")
        planned.append(
            PlannedRow(
                index=index,
                student_id=sid,
                percent=percent,
                score=score,
                comments=comments.strip() if isinstance(comments, str) else None,
                reason=reason,
            )
        )
    if errors:
        raise GradeRowsError(errors, labels)
    return planned
