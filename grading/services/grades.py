"""Every write of a grade (R13, R14, R16, R23); its checks are in ``grade_checks``.

``grade_post`` and ``grade_post_bulk`` share one validation path: the posting context
(course task, active term, teacher, linked section) is checked once, then every row's value,
and only when everything is valid are the grades and their history rows written, set-based.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from grading.error_codes import GradingErrorCode
from grading.models import (
    Grade,
    GradeHistory,
    GradeSource,
    GradingTask,
)
from grading.services.grade_checks import (
    GradeRowsError,
    PlannedRow,
    PostingContext,
    plan_rows,
    posting_context,
)
from grading.services.transcripts import transcript_lines_flag_changed
from schools import versions
from schools.access import sql
from schools.actors import Actor, user_or_none
from schools.errors import field_error
from schools.models import AuditEntry, Calendar, Course, Section, Student, Term

BULK_MAX_ROWS = 1000  # R44: rows in one bulk post
GRADE_UPDATE_FIELDS = ["percent", "score", "comments", "source", "posted_by", "run_id"]


def _write(
    *,
    ctx: PostingContext,
    planned: Sequence[PlannedRow],
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
    to_create: list[tuple[PlannedRow, Grade]] = []
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
    if to_create or to_update:
        # Issue 13: the school's cached honor roll and standings are stale from now on.
        versions.bump_grades(school_ids=[ctx.school_id])
    return [by_index[p.index] for p in planned], created


def grades_changed(*, section_ids: Iterable[int], writer: str = "post") -> None:
    """Issue 13: grades of these sections were written (by SQL, or set-based outside
    ``grade_post``): bump their schools' grades version in the writing transaction, so no
    cached honor roll or term standing of those schools is served again. Two queries."""
    ids = list(section_ids)
    school_ids = (
        {school for (school,) in sql.fetch_all(_schools_of_sections_sql(), [sql.list_param(ids)])}
        if ids
        else set()
    )
    versions.bump_grades(school_ids=school_ids, writer=writer)


@functools.cache  # a query text; the models do not change
def _schools_of_sections_sql() -> str:
    """The distinct schools of the sections given as one list parameter, in plain SQL built
    once. (The exchange's grade flow knows its HS sections' schools from its link read and
    bumps their versions itself.)"""
    col, table = sql.quoted_column, sql.quoted_table
    return (
        f"SELECT DISTINCT c.{col(Calendar, 'school')} FROM {table(Section)} s"
        f" JOIN {table(Course)} co ON co.{col(Course)} = s.{col(Section, 'course')}"
        f" JOIN {table(Calendar)} c ON c.{col(Calendar)} = co.{col(Course, 'calendar')}"
        f" WHERE {sql.any_of(f's.{col(Section)}')}"
    )


def _clean(grade: Grade) -> None:
    # Keys were checked set-based above; this runs the field checks without a query per row.
    grade.full_clean(
        exclude=["student", "section", "grading_task", "term", "posted_by", "source_grade"],
        validate_unique=False,
        validate_constraints=False,
    )


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
    ctx = posting_context(
        section=section, grading_task=grading_task, term=term, by=by, source=source
    )
    _lock_posting(section)
    planned = plan_rows(ctx=ctx, rows=rows, source=source)
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
    ctx = posting_context(
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
        planned = plan_rows(ctx=ctx, rows=[row], source=source)
    except GradeRowsError as exc:
        raise ValidationError(exc.rows[0]) from exc
    grades, created = _write(ctx=ctx, planned=planned, by=by, source=source, run_id=run_id)
    return grades[0], bool(created)
