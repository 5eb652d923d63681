"""R19-R22: what the grade flow reads for one tech school - its links, the tech grades and
their terms, the HS side - in plain SQL with the id lists as one array parameter each.

At Kentucky scale a part reads a few thousand rows in a handful of queries; building each
query through the ORM and binding hundreds of ids one by one would cost more than running
it. The rows come back as tuples keyed the way :func:`exchange.flows.grades.decide` looks
them up; on SQLite, the ORM's own converters turn its text dates and decimals into the
values PostgreSQL gives (PostgreSQL needs none).
"""

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any, NamedTuple

from django.db.models import Model

from exchange.flows import watermark
from exchange.flows.grade_writes import HS_GRADE_TAG, HsGrade
from grading.models import CTE_CODES, Grade, ScoreRow
from grading.scoring import Row, rows_of
from schools.access import sql
from schools.models import Roster, Term

# --- Named row types (tuples underneath: as fast to build and unpack as plain tuples) ----


class Link(NamedTuple):
    hs_section_id: int
    hs_course_id: int
    hs_school_id: int


class TechGrade(NamedTuple):
    """A CTE grade posted at the tech school (the source of a crossing): the fields of a
    :data:`TechGradeRow`, which is read as a plain tuple."""

    id: int
    student_id: int
    section_id: int
    task_id: int
    term_id: int
    percent: Decimal | None


# A tech grade as read: id, student, section, task, term, percent (TechGrade's fields).
TechGradeRow = tuple[int, int, int, int, int, Decimal | None]


class CourseTask(NamedTuple):
    id: int
    score_group_id: int


class ActiveTerm(NamedTuple):
    term_id: int
    start: dt.date
    end: dt.date


Spans = tuple[tuple[dt.date, dt.date | None], ...]  # a student's roster spans in a section


class HsSide(NamedTuple):
    """Everything read from the high schools' side, keyed for per-record lookups."""

    rosters: dict[int, dict[int, Spans]]  # HS section -> student -> spans
    course_tasks: dict[tuple[int, int], CourseTask]  # (HS course, task) -> course task
    active: dict[int, list[ActiveTerm]]  # course task -> its active terms
    rows_by_group: dict[int, list[Row]]  # score group -> score rows
    existing: dict[tuple[int, int, int], dict[int, HsGrade]]  # (section, task, term) -> ...


_new_tuple = tuple.__new__  # one HsGrade per HS grade read: no keyword handling


# --- Plain SQL helpers ---------------------------------------------------------------------


def _converted(
    rows: list[tuple[Any, ...]], fields: dict[int, tuple[type[Model], str]]
) -> list[tuple[Any, ...]]:
    """``rows`` with the columns at ``fields``' positions converted as the ORM would."""
    converters = {
        i: c for i, (model, name) in fields.items() if (c := sql.converter(model, name)) is not None
    }
    if not converters:
        return rows
    return [
        tuple(converters[i](v) if i in converters else v for i, v in enumerate(row)) for row in rows
    ]


def _cte_tasks() -> str:
    """The CTE grading tasks' ids, as a subquery (one parameter: the CTE codes)."""
    return f"SELECT id FROM grading_gradingtask WHERE {sql.any_of('code', 'text')}"


def read_links(*, tech_school_id: int, school_year: int) -> dict[int, list[Link]]:
    """The school's KTS links of the year: tech section -> its linked HS sections (with
    their courses and schools)."""
    links: dict[int, list[Link]] = defaultdict(list)
    for hs_id, tech_id, hs_course_id, hs_school_id in sql.fetch_all(
        """
        SELECT l.hs_section_id, l.tech_section_id, hs.course_id, hcal.school_id
        FROM exchange_ktslink l
        JOIN schools_section s ON s.id = l.tech_section_id
        JOIN schools_course c ON c.id = s.course_id
        JOIN schools_calendar cal ON cal.id = c.calendar_id
        JOIN schools_section hs ON hs.id = l.hs_section_id
        JOIN schools_course hc ON hc.id = hs.course_id
        JOIN schools_calendar hcal ON hcal.id = hc.calendar_id
        WHERE cal.school_id = %s AND cal.school_year = %s
        """,
        [tech_school_id, school_year],
        prepare=True,
    ):
        links[tech_id].append(Link(hs_id, hs_course_id, hs_school_id))
    return links


def read_tech_grades(
    links: dict[int, list[Link]], *, students: list[int] | None = None
) -> list[TechGradeRow]:
    """The CTE grades of the linked tech sections (of these ``students`` only, if named),
    in id order: a quiet night reads tens of thousands of unchanged rows, as tuples in
    :class:`TechGrade`'s field order."""
    by_student = f"AND {sql.any_of('student_id')}" if students is not None else ""
    rows = sql.fetch_all(
        f"""
        SELECT id, student_id, section_id, grading_task_id, term_id, percent
        FROM grading_grade
        WHERE {sql.any_of("section_id")} AND grading_task_id IN ({_cte_tasks()})
          {by_student}
        ORDER BY id
        """,
        [
            sql.list_param(links),
            sql.list_param(CTE_CODES),
            *([sql.list_param(students)] if students is not None else []),
        ],
    )
    return _converted(rows, {5: (Grade, "percent")})


def read_term_spans(term_ids: set[int]) -> dict[int, tuple[dt.date, dt.date]]:
    """The tech terms' dates from the few terms themselves, not joined onto every grade."""
    rows = sql.fetch_all(
        f"SELECT id, start_date, end_date FROM schools_term WHERE {sql.any_of('id')}",
        [sql.list_param(term_ids)],
    )
    return {
        term_id: (start, end)
        for term_id, start, end in _converted(
            rows, {1: (Term, "start_date"), 2: (Term, "end_date")}
        )
    }


def read_hs_side(
    links: dict[int, list[Link]],
    *,
    with_prints: bool = False,
    students: list[int] | None = None,
) -> HsSide:
    """Rosters, CTE course tasks with their active term, score rows and existing grades of
    the linked HS sections (the rosters and grades of these ``students`` only, if named),
    each keyed the way :func:`exchange.flows.grades.decide` looks it up.

    Lookups go by student id within one HS section (or HS grade key): an int key hashes
    faster than a tuple built per record. Spans are tuples, not lists: the garbage
    collector untracks tuples of dates, so a school's rosters do not make it rescan the heap.
    """
    hs_ids = sql.list_param(link.hs_section_id for pairs in links.values() for link in pairs)
    by_student = f"AND {sql.any_of('student_id')}" if students is not None else ""
    only = [sql.list_param(students)] if students is not None else []
    rosters: dict[int, dict[int, Spans]] = defaultdict(dict)
    for student_id, section_id, start, end in _converted(
        sql.fetch_all(
            f"""
            SELECT student_id, section_id, start_date, end_date FROM schools_roster
            WHERE {sql.any_of("section_id")} {by_student}
            """,
            [hs_ids, *only],
        ),
        {2: (Roster, "start_date"), 3: (Roster, "end_date")},
    ):
        section_rosters = rosters[section_id]
        section_rosters[student_id] = section_rosters.get(student_id, ()) + ((start, end),)

    # The HS courses' CTE tasks, each with its active term (none: NULLs) in one query.
    course_tasks: dict[tuple[int, int], CourseTask] = {}
    active: dict[int, list[ActiveTerm]] = defaultdict(list)
    for ct_id, course_id, task_id, group_id, term_id, start, end in _converted(
        sql.fetch_all(
            f"""
            SELECT ct.id, ct.course_id, ct.grading_task_id, ct.score_group_id,
                   m.term_id, t.start_date, t.end_date
            FROM grading_coursegradingtask ct
            LEFT JOIN grading_coursetaskterm m ON m.course_task_id = ct.id AND m.active
            LEFT JOIN schools_term t ON t.id = m.term_id
            WHERE {sql.any_of("ct.course_id")}
              AND ct.grading_task_id IN ({_cte_tasks()})
            """,
            [
                sql.list_param({link.hs_course_id for pairs in links.values() for link in pairs}),
                sql.list_param(CTE_CODES),
            ],
            prepare=True,
        ),
        {5: (Term, "start_date"), 6: (Term, "end_date")},
    ):
        course_tasks[(course_id, task_id)] = CourseTask(ct_id, group_id)
        if term_id is not None:
            active[ct_id].append(ActiveTerm(term_id, start, end))
    score_rows: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for group_id, score, min_percent, passing, gpa_value in _converted(
        sql.fetch_all(
            f"""
            SELECT group_id, score, min_percent, passing, gpa_value FROM grading_scorerow
            WHERE {sql.any_of("group_id")}
            """,
            [sql.list_param({ct.score_group_id for ct in course_tasks.values()})],
        ),
        {2: (ScoreRow, "min_percent"), 4: (ScoreRow, "gpa_value")},
    ):
        score_rows[group_id].append(
            {"score": score, "min_percent": min_percent, "passing": passing, "gpa_value": gpa_value}
        )
    existing: dict[tuple[int, int, int], dict[int, HsGrade]] = defaultdict(dict)
    # Task ids, not a join to the task table (which plans a nested loop per grade row); only
    # the HS courses' CTE tasks can be a grade's target. The row's hash in the watermark's
    # fingerprint (of its PostgreSQL xmin) is read when the watermark is on (R22).
    hashed = f", {watermark.row_hash(HS_GRADE_TAG, 'id', 'xmin')}" if with_prints else ""
    for grade_id, student_id, section_id, task_id, term_id, percent, score, *print_ in _converted(
        sql.fetch_all(
            f"""
            SELECT id, student_id, section_id, grading_task_id, term_id, percent, score{hashed}
            FROM grading_grade
            WHERE {sql.any_of("grading_task_id")} AND {sql.any_of("term_id")}
              AND {sql.any_of("section_id")} {by_student}
            """,
            [
                sql.list_param({task_id for _, task_id in course_tasks}),
                sql.list_param(t.term_id for terms in active.values() for t in terms),
                hs_ids,
                *only,
            ],
        ),
        {5: (Grade, "percent")},
    ):
        existing[(section_id, task_id, term_id)][student_id] = _new_tuple(
            HsGrade, (grade_id, percent, score, print_[0] if print_ else None)
        )
    return HsSide(
        rosters=rosters,
        course_tasks=course_tasks,
        active=active,
        rows_by_group={g: rows_of(rows) for g, rows in score_rows.items()},
        existing=existing,
    )
