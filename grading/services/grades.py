"""Every write of a grade (R13, R14, R16, R23); the value rules are in ``grade_values``.

``grade_post`` and ``grade_post_bulk`` share one validation path: the posting context
(course task, active term, teacher, linked section) is checked once, then every row's value,
and only when everything is valid are the grades and their history rows written, set-based.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from grading import scoring
from grading.error_codes import GradingErrorCode
from grading.models import (
    CTE_FINAL,
    CourseGradingTask,
    CourseTaskTerm,
    Grade,
    GradeHistory,
    GradeSource,
    GradingTask,
)
from grading.services.grade_values import resolve_value
from grading.services.transcripts import transcript_lines_flag_changed
from schools.actors import Actor, user_or_none
from schools.errors import field_error
from schools.models import AuditEntry, Roster, Section, Student, Term

LINKED_SECTION_MESSAGE = (
    "Grades on linked KTS sections come from the technical school through the nightly exchange."
)
BULK_MAX_ROWS = 1000  # R44: rows in one bulk post
GRADE_UPDATE_FIELDS = ["percent", "score", "comments", "source", "posted_by", "run_id"]


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


def _posting_context(
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
class _Planned:
    index: int
    student_id: int
    percent: Decimal | None
    score: str
    comments: str | None  # None keeps the current comments
    reason: str


def _write(
    *,
    ctx: PostingContext,
    planned: Sequence[_Planned],
    by: Actor,
    source: str,
    run_id: int | None,
) -> tuple[list[Grade], set[int]]:
    """Write validated rows set-based; R14 history for every value change. Returns the grades
    in row order and the indexes of the rows that created a grade."""
    existing = {
        g.student_id: g
        for g in Grade.objects.select_for_update().filter(
            section_id=ctx.section.pk,
            grading_task_id=ctx.course_task.grading_task_id,
            term_id=ctx.term.pk,
            student_id__in=[p.student_id for p in planned],
        )
    }
    posted_by = user_or_none(by)
    now = timezone.now()
    to_create: list[tuple[_Planned, Grade]] = []
    to_update: list[Grade] = []
    history: list[tuple[Grade, dict[str, Any]]] = []
    by_index: dict[int, Grade] = {}
    changed_fields: dict[int, list[str]] = {}
    for p in planned:
        grade = existing.get(p.student_id)
        if grade is None:
            grade = Grade(
                student_id=p.student_id,
                section_id=ctx.section.pk,
                grading_task_id=ctx.course_task.grading_task_id,
                term_id=ctx.term.pk,
                percent=p.percent,
                score=p.score,
                comments=p.comments or "",
                source=source,
                posted_by=posted_by,
                run_id=run_id,
            )
            _clean(grade)
            to_create.append((p, grade))
            history.append(
                (
                    grade,
                    {"old_score": "", "old_percent": None, "old_comments": "", "reason": p.reason},
                )
            )
        else:
            value_changed = grade.percent != p.percent or grade.score != p.score
            comments_changed = p.comments is not None and grade.comments != p.comments
            if value_changed or comments_changed:
                # R14/R43: a value change or a comments-only change, each with a history row.
                history.append(
                    (
                        grade,
                        {
                            "old_score": grade.score,
                            "old_percent": grade.percent,
                            "old_comments": grade.comments,
                            "reason": p.reason,
                        },
                    )
                )
                changed_fields[p.index] = [
                    name
                    for name, moved in (
                        ("percent", grade.percent != p.percent),
                        ("score", grade.score != p.score),
                        ("comments", comments_changed),
                    )
                    if moved
                ]
                grade.percent, grade.score = p.percent, p.score
                if p.comments is not None:
                    grade.comments = p.comments
                grade.source, grade.posted_by, grade.run_id = source, posted_by, run_id
                grade.modified_at = now
                _clean(grade)
                to_update.append(grade)
        by_index[p.index] = grade
    if to_create:
        Grade.objects.bulk_create([g for _, g in to_create])
    if to_update:
        Grade.objects.bulk_update(to_update, [*GRADE_UPDATE_FIELDS, "modified_at"])
    if history:
        GradeHistory.objects.bulk_create(
            GradeHistory(
                grade=grade,
                changed_by=posted_by,
                source=source,
                run_id=run_id,
                old_score=old["old_score"],
                old_percent=old["old_percent"],
                new_score=grade.score,
                new_percent=grade.percent,
                reason=old["reason"],
                old_comments=old["old_comments"],
                new_comments=grade.comments,
            )
            for grade, old in history
        )
    if to_update:
        # R34: a posted transcript line whose final grade just changed awaits review now.
        transcript_lines_flag_changed(grade_ids=[g.pk for g in to_update])
    created = {p.index for p, _ in to_create}
    # R37/R43: one audit entry per grade written, "create" or "update", in this transaction.
    audits = [
        AuditEntry(
            user=posted_by,
            run_id=run_id,
            action="create" if p.index in created else "update",
            model=Grade._meta.label,
            object_id=by_index[p.index].pk,
            school_id=ctx.school_id,
            changes=["comments", "percent", "score"]
            if p.index in created
            else changed_fields[p.index],
        )
        for p in planned
        if p.index in created or p.index in changed_fields
    ]
    if audits:
        AuditEntry.objects.bulk_create(audits)
    return [by_index[p.index] for p in planned], created


def _clean(grade: Grade) -> None:
    # Keys were checked set-based above; this runs the field checks without a query per row.
    grade.full_clean(
        exclude=["student", "section", "grading_task", "term", "posted_by", "source_grade"],
        validate_unique=False,
        validate_constraints=False,
    )


def _plan_rows(
    *, ctx: PostingContext, rows: Sequence[Mapping[str, Any]], source: str
) -> list[_Planned]:
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
    planned: list[_Planned] = []
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
            _Planned(
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


def check_bulk_size(count: int) -> None:
    """R44: refuse a bulk post of more than ``BULK_MAX_ROWS`` rows before reading any row."""
    if count > BULK_MAX_ROWS:
        raise field_error(
            "grades",
            f"Send at most {BULK_MAX_ROWS:,} grades in one post (this one has {count:,}); "
            "split them into several posts.",
            code=GradingErrorCode.TOO_MANY_ROWS,
        )


def _lock_posting(section: Section) -> None:
    """R49: posts to one section run one at a time (the section row is locked until the
    transaction ends), so two identical batches sent at once both succeed: the second one
    plans against the first one's committed grades and writes no duplicate history."""
    list(Section.objects.select_for_update().filter(pk=section.pk).values_list("pk"))


@transaction.atomic
def grade_post_bulk(
    *,
    section: Section,
    grading_task: GradingTask,
    term: Term,
    rows: Sequence[Mapping[str, Any]],
    by: Actor,
    source: str = GradeSource.TEACHER,
    run_id: int | None = None,
) -> list[Grade]:
    """Post many grades of one (section, task, term): all or nothing (R13).

    ``rows`` are mappings with ``student`` (a Student or id), ``percent`` and/or ``score``,
    optional ``comments`` and ``correction_reason``. Every row is validated first; if any is
    wrong, :class:`GradeRowsError` names each bad row and nothing is written. Then new grades
    are bulk-created, changed ones bulk-updated, and one history row is written per value
    change (R14); an unchanged value writes nothing. Returns the grades in row order.
    """
    check_bulk_size(len(rows))
    ctx = _posting_context(
        section=section, grading_task=grading_task, term=term, by=by, source=source
    )
    _lock_posting(section)
    planned = _plan_rows(ctx=ctx, rows=rows, source=source)
    grades, _ = _write(ctx=ctx, planned=planned, by=by, source=source, run_id=run_id)
    return grades


@transaction.atomic
def grade_post(
    *,
    student: Student,
    section: Section,
    grading_task: GradingTask,
    term: Term,
    percent: Decimal | str | None = None,
    score: str = "",
    comments: str | None = None,
    by: Actor,
    source: str = GradeSource.TEACHER,
    correction_reason: str = "",
    run_id: int | None = None,
) -> tuple[Grade, bool]:
    """Post one grade (upsert on student, section, task, term): R5, R13, R14, R16, R23.

    R16 applies to teacher and import posts; the exchange copies a correction already made
    (with its reason) at the tech school. A change of comments alone updates the grade but
    is a change too: it writes a history row with the old and new comments (R43).
    Returns ``(grade, created)``.
    Errors are keyed by field (``student``, ``percent``,
    ``score``, ``term``, ``section``, ``correction_reason``) with a code.
    ``comments=None`` keeps the current comments.
    """
    ctx = _posting_context(
        section=section, grading_task=grading_task, term=term, by=by, source=source
    )
    row = {
        "student": student,
        "percent": percent,
        "score": score,
        "comments": comments,
        "correction_reason": correction_reason,
    }
    _lock_posting(section)
    try:
        planned = _plan_rows(ctx=ctx, rows=[row], source=source)
    except GradeRowsError as exc:
        raise ValidationError(exc.rows[0]) from exc
    grades, created = _write(ctx=ctx, planned=planned, by=by, source=source, run_id=run_id)
    return grades[0], bool(created)
