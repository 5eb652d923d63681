"""The shape of a valid KTS configuration, in one place: the test world (``tests/factories.py``,
``tests/world``) and the benchmark data sets (``bench_exchange``, ``bench_reports``) both build
their school years and KTS courses here, so a change to what "set up correctly" means is made
once.

- A school year: one calendar per school with its terms (quarters at a high school, semesters
  at a technical school).
- A KTS course set up as the seed says (R6-R11): CTE Term Grade on every term with at most one
  active and the Term GPA weight on it; CTE Final Grade with credit on the last term. The score
  group, tasks and credit type are the state's (district None) unless a district's are given.

Everything is written with ``bulk_create``, so one course and 2,000 courses cost the same few
queries; the bench keeps its own bulk path for students, rosters and grades.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from grading.models import (
    CTE_FINAL,
    CTE_NUMERIC,
    CTE_TERM,
    CourseGradingTask,
    CourseTaskTerm,
    CreditType,
    Grade,
    GradingTask,
    ScoreGroup,
)
from grading.scoring import Row, row_for_percent
from schools.models import Calendar, Course, School, Term

YEAR = 2027  # the 2026-27 school year
YEAR_START = dt.date(2026, 8, 10)
YEAR_END = dt.date(2027, 5, 28)

Span = tuple[dt.date, dt.date]
QUARTERS: tuple[Span, ...] = (
    (dt.date(2026, 8, 10), dt.date(2026, 10, 9)),
    (dt.date(2026, 10, 12), dt.date(2026, 12, 18)),
    (dt.date(2027, 1, 4), dt.date(2027, 3, 12)),
    (dt.date(2027, 3, 15), dt.date(2027, 5, 28)),
)
SEMESTERS: tuple[Span, ...] = (
    (dt.date(2026, 8, 10), dt.date(2026, 12, 18)),
    (dt.date(2027, 1, 4), dt.date(2027, 5, 28)),
)
CREDIT_TYPE = "Career and Technical"
BATCH = 5000


def calendars_create(
    schools: Sequence[School], *, name: str = "{code} 2026-27", year: int = YEAR
) -> list[Calendar]:
    """One calendar per school for the 2026-27 school year (``name`` formatted with the
    school's ``code`` and ``name``)."""
    return Calendar.objects.bulk_create(
        (
            Calendar(
                school=s,
                school_year=year,
                name=name.format(code=s.code, name=s.name),
                start_date=YEAR_START,
                end_date=YEAR_END,
            )
            for s in schools
        ),
        batch_size=BATCH,
    )


def terms_create(
    calendars: Sequence[Calendar], *, spans: Sequence[Span], prefix: str
) -> dict[int, list[Term]]:
    """The terms of each calendar (``prefix`` + 1, 2, ... in order); calendar id -> terms."""
    terms = Term.objects.bulk_create(
        (
            Term(calendar=c, name=f"{prefix}{i}", seq=i, start_date=start, end_date=end)
            for c in calendars
            for i, (start, end) in enumerate(spans, start=1)
        ),
        batch_size=BATCH,
    )
    by_calendar: dict[int, list[Term]] = {c.pk: [] for c in calendars}
    for t in terms:
        by_calendar[t.calendar_id].append(t)
    return by_calendar


def quarters_create(calendars: Sequence[Calendar]) -> dict[int, list[Term]]:
    """Four high school quarters Q1-Q4 in each calendar."""
    return terms_create(calendars, spans=QUARTERS, prefix="Q")


def semesters_create(calendars: Sequence[Calendar]) -> dict[int, list[Term]]:
    """Two technical school semesters S1-S2 in each calendar."""
    return terms_create(calendars, spans=SEMESTERS, prefix="S")


@dataclass(frozen=True, slots=True)
class CteRows:
    """The rows a KTS course's CTE tasks point at: the state's unless a district's."""

    score_group: ScoreGroup
    term_task: GradingTask
    final_task: GradingTask
    credit_type: CreditType

    @classmethod
    def state(cls) -> "CteRows":
        """The seeded state rows (R4): CTE Numeric, CTE Term/Final Grade, CTE credit."""
        tasks = {t.code: t for t in GradingTask.objects.filter(code__in=(CTE_TERM, CTE_FINAL))}
        return cls(
            score_group=ScoreGroup.objects.get(name=CTE_NUMERIC, district=None),
            term_task=tasks[CTE_TERM],
            final_task=tasks[CTE_FINAL],
            credit_type=CreditType.objects.get_or_create(name=CREDIT_TYPE, district=None)[0],
        )


def cte_course_tasks_create(
    courses: Iterable[tuple[Course, Sequence[Term]]],
    *,
    rows: CteRows | None = None,
    active_seq: int | None = 1,
    final: bool = True,
    final_active: bool = False,
    term_gpa_weight: Decimal | None = Decimal("1"),
) -> dict[int, dict[str, CourseGradingTask]]:
    """Set up each (course, its terms) as the seed says (R6-R11): CTE Term Grade on every
    term, active on the term numbered ``active_seq`` (None: none active), Term GPA weight on
    it; with ``final``, CTE Final Grade (credit 1) on the last term, active if
    ``final_active``. Returns course id -> {task code: course task}."""
    rows = rows or CteRows.state()
    pairs = list(courses)
    term_tasks = [
        CourseGradingTask(
            course=c,
            grading_task=rows.term_task,
            score_group=rows.score_group,
            term_gpa_weight=term_gpa_weight,
        )
        for c, _ in pairs
    ]
    final_tasks = (
        [
            CourseGradingTask(
                course=c,
                grading_task=rows.final_task,
                score_group=rows.score_group,
                credit=Decimal("1"),
                credit_type=rows.credit_type,
            )
            for c, _ in pairs
        ]
        if final
        else []
    )
    CourseGradingTask.objects.bulk_create(term_tasks + final_tasks, batch_size=BATCH)
    masks = [
        CourseTaskTerm(course_task=task, term=t, active=t.seq == active_seq)
        for task, (_, terms) in zip(term_tasks, pairs, strict=True)
        for t in terms
    ]
    masks += [
        CourseTaskTerm(course_task=task, term=terms[-1], active=final_active)
        for task, (_, terms) in zip(final_tasks, pairs, strict=False)
    ]
    CourseTaskTerm.objects.bulk_create(masks, batch_size=BATCH)
    out: dict[int, dict[str, CourseGradingTask]] = {c.pk: {} for c, _ in pairs}
    for task in term_tasks:
        out[task.course_id][CTE_TERM] = task
    for task in final_tasks:
        out[task.course_id][CTE_FINAL] = task
    return out


def grade_of_percent(rows: Sequence[Row], percent: Decimal, **fields: Any) -> Grade:
    """An unsaved grade of ``percent`` with the score it translates to on ``rows`` (R5): the
    demo and the benchmarks draw percents and write their grades in bulk."""
    row = row_for_percent(rows, percent)
    if row is None:
        raise ValueError(f"{percent}% is below every Min % of the score group.")
    return Grade(percent=percent, score=row.score, **fields)
