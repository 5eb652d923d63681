"""Transcript posting and the registrar's review (R34).

Posting copies final grades - grades on course tasks with credit > 0 (the CTE Final Grade
on KTS courses, R10) - of one HS calendar to ``TranscriptLine`` rows, one per (student,
school, school year, course number). **Decision:** ``gpa_weight`` is the task's credit, so
cumulative GPA (R35) weighs a line by the credit it carries, whatever the term weights.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from grading.models import Grade, TranscriptLine, TranscriptLineAction, TranscriptLineHistory
from grading.selectors.gpa import course_task_map, resolve_row
from schools.actors import Actor, user_or_none
from schools.models import Calendar, School, SchoolKind

# Values copied from the grade itself: a change here after posting needs the registrar.
GRADE_FIELDS = ("score", "percent")
# Values derived from the course setup: posting again simply refreshes them.
SETUP_FIELDS = (
    "source_grade_id",
    "course_name",
    "state_code",
    "credits_attempted",
    "credits_earned",
    "credit_type",
    "gpa_value",
    "gpa_weight",
)
# Foreign keys read from the database a moment ago: re-checking them would cost a query per
# line (the unique (student, school, year, course) constraint is held by the lookup above).
KNOWN_FKS = ["student", "school", "source_grade", "posted_by"]


@dataclass
class LineValues:
    student_id: int
    course_number: str
    source_grade_id: int
    course_name: str
    state_code: str
    score: str
    percent: Decimal | None
    credits_attempted: Decimal
    credits_earned: Decimal
    credit_type: str
    gpa_value: Decimal | None
    gpa_weight: Decimal | None


def _final_grade_values(
    *, calendar: Calendar, grade_ids: list[int] | None = None
) -> list[LineValues]:
    """LineValues for every final grade of ``calendar`` (one per student and course).

    When a student has several final grades for one course (two sections), the most
    recently changed one is used. Three queries.
    """
    tasks = {
        key: info
        for key, info in course_task_map(calendar_id=calendar.pk).items()
        if info.credit is not None and info.credit > 0
    }
    grades = Grade.objects.filter(
        section__course__calendar_id=calendar.pk,
        grading_task_id__in={task_id for _, task_id in tasks},
    )
    if grade_ids is not None:
        grades = grades.filter(id__in=grade_ids)
    chosen: dict[tuple[int, str], LineValues] = {}
    for g in grades.order_by("modified_at", "id").values(
        "id",
        "student_id",
        "grading_task_id",
        "score",
        "percent",
        "section__course_id",
        "section__course__number",
        "section__course__name",
        "section__course__state_code",
    ):
        info = tasks.get((g["section__course_id"], g["grading_task_id"]))
        if info is None:
            continue
        row = resolve_row(info.rows, g["score"], g["percent"])
        if row is None or info.credit is None:
            continue  # no value posted yet
        chosen[(g["student_id"], g["section__course__number"])] = LineValues(
            student_id=g["student_id"],
            course_number=g["section__course__number"],
            source_grade_id=g["id"],
            course_name=g["section__course__name"],
            state_code=g["section__course__state_code"],
            score=g["score"] or row.score,
            percent=g["percent"],
            credits_attempted=info.credit,
            credits_earned=info.credit if row.passing else Decimal("0"),
            credit_type=info.credit_type,
            gpa_value=row.gpa_value,
            gpa_weight=info.credit,
        )
    return list(chosen.values())


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return (a is None) == (b is None) and (a is None or Decimal(a) == Decimal(b))
    return bool(a == b)


def check_calendar(*, school: School, calendar: Calendar) -> None:
    if school.kind != SchoolKind.HIGH_SCHOOL:
        raise ValidationError(
            {
                "school": ValidationError(
                    "Choose a high school; transcripts are posted by the home high school.",
                    code="not_a_high_school",
                )
            }
        )
    if calendar.school_id != school.pk:
        raise ValidationError(
            {
                "calendar": ValidationError(
                    f"Choose a calendar of {school.name}; this one belongs to another school.",
                    code="calendar_of_other_school",
                )
            }
        )


@transaction.atomic
def transcript_post(*, school: School, calendar: Calendar, by: Actor) -> dict[str, int]:
    """R34: post the final grades of ``calendar`` to transcript lines.

    A new final grade adds a line; a line whose setup-derived values changed (course name,
    credit, GPA value ...) is updated; a line whose final grade's score or percent changed
    since posting is marked ``needs_review`` and otherwise left alone until the registrar
    accepts or keeps (``transcript_line_accept`` / ``transcript_line_keep``). A value the
    registrar kept is not flagged again. Returns ``{added, updated, unchanged,
    needs_review, final_grades}``. A constant number of queries plus the writes.
    """
    check_calendar(school=school, calendar=calendar)
    author = user_or_none(by)
    values = _final_grade_values(calendar=calendar)
    existing = {
        (line.student_id, line.course_number): line
        for line in TranscriptLine.objects.select_for_update().filter(
            school_id=school.pk, school_year=calendar.school_year
        )
    }
    kept = _kept_values(line_ids=[line.pk for line in existing.values()])

    counts = {"added": 0, "updated": 0, "unchanged": 0, "needs_review": 0}
    new_lines: list[TranscriptLine] = []
    changed: list[TranscriptLine] = []
    flagged: list[TranscriptLine] = []
    history: list[TranscriptLineHistory] = []
    for v in values:
        line = existing.get((v.student_id, v.course_number))
        if line is None:
            new_lines.append(
                TranscriptLine(
                    school_id=school.pk,
                    school_year=calendar.school_year,
                    posted_by=author,
                    needs_review=False,
                    **v.__dict__,
                )
            )
            counts["added"] += 1
            continue
        if line.needs_review:
            counts["needs_review"] += 1
            continue
        grade_changed = any(not _same(getattr(line, f), getattr(v, f)) for f in GRADE_FIELDS)
        if grade_changed and kept.get(line.pk) != (v.score, _q(v.percent)):
            line.needs_review = True
            flagged.append(line)
            counts["needs_review"] += 1
            continue
        if grade_changed:
            # The registrar kept the posted value against exactly this grade: leave it.
            counts["unchanged"] += 1
            continue
        diffs = [f for f in SETUP_FIELDS if not _same(getattr(line, f), getattr(v, f))]
        if not diffs:
            counts["unchanged"] += 1
            continue
        for f in diffs:
            setattr(line, f, getattr(v, f))
        line.posted_by = author
        changed.append(line)
        history.append(_history(line, TranscriptLineAction.UPDATED, by, line.score, line.percent))
        counts["updated"] += 1

    for line in new_lines:
        line.full_clean(exclude=KNOWN_FKS, validate_constraints=False)
    created = TranscriptLine.objects.bulk_create(new_lines, batch_size=1000)
    if not all(line.pk for line in created):  # SQLite < 3.35 does not return ids
        created = list(
            TranscriptLine.objects.filter(
                school_id=school.pk,
                school_year=calendar.school_year,
                source_grade_id__in=[line.source_grade_id for line in new_lines],
            )
        )
    history += [
        _history(line, TranscriptLineAction.POSTED, by, line.score, line.percent, old=False)
        for line in created
    ]
    if changed:
        for line in changed:
            line.full_clean(exclude=KNOWN_FKS, validate_constraints=False)
        TranscriptLine.objects.bulk_update(changed, [*SETUP_FIELDS, "posted_by"], batch_size=1000)
    if flagged:
        TranscriptLine.objects.bulk_update(flagged, ["needs_review"], batch_size=1000)
    TranscriptLineHistory.objects.bulk_create(history, batch_size=1000)
    return {**counts, "final_grades": len(values)}


def _q(percent: Decimal | None) -> Decimal | None:
    return None if percent is None else Decimal(percent).quantize(Decimal("0.01"))


def _kept_values(*, line_ids: list[int]) -> dict[int, tuple[str, Decimal | None]]:
    """Per line, the grade value the registrar last declined (the newest decision is 'kept')."""
    latest: dict[int, TranscriptLineHistory] = {}
    for h in TranscriptLineHistory.objects.filter(
        line_id__in=line_ids, action__in=(TranscriptLineAction.ACCEPTED, TranscriptLineAction.KEPT)
    ).order_by("line_id", "changed_at", "id"):
        latest[h.line_id] = h
    return {
        line_id: (h.new_score, _q(h.new_percent))
        for line_id, h in latest.items()
        if h.action == TranscriptLineAction.KEPT
    }


def _history(
    line: TranscriptLine,
    action: TranscriptLineAction,
    by: Actor,
    new_score: str,
    new_percent: Decimal | None,
    *,
    old: bool = True,
) -> TranscriptLineHistory:
    return TranscriptLineHistory(
        line=line,
        changed_by=user_or_none(by),
        action=action,
        old_score=line.score if old else "",
        old_percent=line.percent if old else None,
        new_score=new_score,
        new_percent=new_percent,
    )


def transcript_line_current_grade(*, line: TranscriptLine) -> LineValues | None:
    """The values the line would take from its final grade as it stands now."""
    if line.source_grade_id is None:
        return None
    calendar = Calendar.objects.get(school_id=line.school_id, school_year=line.school_year)
    found = _final_grade_values(calendar=calendar, grade_ids=[line.source_grade_id])
    return found[0] if found else None


def _check_needs_review(line: TranscriptLine) -> None:
    if not line.needs_review:
        raise ValidationError(
            "This line does not need review; post the calendar again to refresh it.",
            code="line_not_in_review",
        )


@transaction.atomic
def transcript_line_accept(*, line: TranscriptLine, by: Actor) -> TranscriptLine:
    """R34: the registrar accepts the changed final grade: the line takes its new values,
    with a history row (old -> new)."""
    line = TranscriptLine.objects.select_for_update().get(pk=line.pk)
    _check_needs_review(line)
    current = transcript_line_current_grade(line=line)
    if current is None:
        raise ValidationError(
            "The final grade behind this line was removed; keep the posted value instead.",
            code="final_grade_missing",
        )
    history = _history(line, TranscriptLineAction.ACCEPTED, by, current.score, current.percent)
    for f in (*GRADE_FIELDS, *SETUP_FIELDS):
        setattr(line, f, getattr(current, f))
    line.needs_review = False
    line.posted_by = user_or_none(by)
    line.full_clean(validate_constraints=False)
    line.save()
    history.save()
    return line


@transaction.atomic
def transcript_line_keep(*, line: TranscriptLine, by: Actor) -> TranscriptLine:
    """R34: the registrar keeps the posted value; the declined grade value is recorded so
    the next posting does not flag the line again for the same change."""
    line = TranscriptLine.objects.select_for_update().get(pk=line.pk)
    _check_needs_review(line)
    current = transcript_line_current_grade(line=line)
    TranscriptLineHistory.objects.create(
        line=line,
        changed_by=user_or_none(by),
        action=TranscriptLineAction.KEPT,
        old_score=line.score,
        old_percent=line.percent,
        new_score=current.score if current else "",
        new_percent=current.percent if current else None,
    )
    line.needs_review = False
    line.save(update_fields=["needs_review", "modified_at"])
    return line


def transcript_lines_flag_changed(*, grade_ids: list[int]) -> int:
    """R34: mark ``needs_review`` every posted transcript line whose final grade is among
    ``grade_ids`` and now differs from the line, as soon as the grade changes.

    Called by the services that change grades (teacher posting, corrections, the exchange)
    in their own transaction; posting again finds the same lines already flagged. A value
    the registrar kept against exactly this grade is not flagged again. One query when no
    line is affected, three otherwise. Returns how many lines were flagged.
    """
    if not grade_ids:
        return 0
    lines = list(
        TranscriptLine.objects.filter(source_grade_id__in=grade_ids, needs_review=False).values(
            "id", "score", "percent", "source_grade__score", "source_grade__percent"
        )
    )
    changed = [
        r
        for r in lines
        if not _same(r["percent"], r["source_grade__percent"])
        or (r["source_grade__score"] and r["score"] != r["source_grade__score"])
    ]
    if not changed:
        return 0
    kept = _kept_values(line_ids=[r["id"] for r in changed])
    flag = [
        r["id"]
        for r in changed
        if kept.get(r["id"])
        != (r["source_grade__score"] or r["score"], _q(r["source_grade__percent"]))
    ]
    if not flag:
        return 0
    return TranscriptLine.objects.filter(pk__in=flag).update(needs_review=True)
