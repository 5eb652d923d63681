"""R19-R22, R24: CTE grades posted at a tech school cross to the linked HS sections.

Each run reconciles the whole current school year (R22): a grade skipped because the HS
setup was wrong arrives on the first run after the fix, with no watermark to get wrong.
Reads are a handful of joined queries into dicts; the decision is pure Python; the writes
are one batched upsert of the changed grades plus their history rows (R14). A run that
changes nothing writes nothing.
"""

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import FilteredRelation, OuterRef, Q, Subquery
from django.utils import timezone

from exchange import bulk
from exchange.flows import FlowResult, outcome
from exchange.models import Action, Flow, KtsLink, Reason
from grading.models import (
    CTE_CODES,
    CourseGradingTask,
    Grade,
    GradeHistory,
    GradeSource,
    ScoreRow,
)
from grading.scoring import row_for_percent, rows_of
from grading.services.transcripts import transcript_lines_flag_changed
from schools.models import Roster, Term

FIX = {
    Reason.NOT_ROSTERED: "Roster the student in the linked HS section, or remove the KTS link.",
    Reason.NO_HS_TASK: "Add this CTE task to the HS course's grading tasks.",
    Reason.NO_ACTIVE_TERM: "Mark exactly one term active for this CTE task on the HS course.",
    Reason.TERM_OUT_OF_RANGE: "Make the HS term that lies inside the tech term the active one.",
    Reason.SCORE_UNTRANSLATABLE: "Give the HS task a score group whose Min % column matches "
    "CTE Numeric, and post a percent at the tech school.",
}

GRADE_FIELDS = ("percent", "score", "source", "run_id", "source_grade", "modified_at")
GRADE_COLUMNS_UPDATED = ("percent", "score", "source", "run_id", "source_grade_id", "modified_at")


# --- Named row types (tuples underneath: as fast to build and unpack as plain tuples) ----


class Link(NamedTuple):
    hs_section_id: int
    hs_course_id: int


class TechGrade(NamedTuple):
    """A CTE grade posted at the tech school (the source of a crossing)."""

    id: int
    student_id: int
    section_id: int
    task_id: int
    term_id: int
    percent: Decimal | None


class CourseTask(NamedTuple):
    id: int
    score_group_id: int


class ActiveTerm(NamedTuple):
    term_id: int
    start: dt.date
    end: dt.date


class HsGrade(NamedTuple):
    """A HS grade already there (the target of a crossing)."""

    id: int
    percent: Decimal | None
    score: str


_new_tuple = tuple.__new__  # one HsGrade per HS grade read: no keyword handling

Spans = tuple[tuple[dt.date, dt.date | None], ...]  # a student's roster spans in a section


class Candidate(NamedTuple):
    """A linked HS section for one (tech section, task, tech term): either a skip reason,
    or the HS active term and everything deciding a grade there needs."""

    hs_section_id: int
    rosters: dict[int, Spans]
    reason: str
    term_id: int | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    score_rows: list | None = None
    by_percent: dict | None = None  # percent -> score row (a per-score-group cache)
    existing: dict[int, HsGrade] | None = None  # student -> HS grade
    written: set[int] | None = None  # students already written to this HS grade key


class Write(NamedTuple):
    """A HS grade to add or update: its key, its new value, its source and what it was."""

    outcome: dict[str, Any]
    student_id: int
    section_id: int
    task_id: int
    term_id: int
    percent: Decimal | None
    score: str
    source_grade_id: int
    old: HsGrade | None


class HsSide(NamedTuple):
    """Everything read from the high schools' side, keyed for per-record lookups."""

    rosters: dict[int, dict[int, Spans]]  # HS section -> student -> spans
    course_tasks: dict[tuple[int, int], CourseTask]  # (HS course, task) -> course task
    active: dict[int, list[ActiveTerm]]  # course task -> its active terms
    rows_by_group: dict[int, list]  # score group -> score rows
    existing: dict[tuple[int, int, int], dict[int, HsGrade]]  # (section, task, term) -> ...


def sync_grades(
    *, run_id: int, tech_school_id: int, as_of: dt.date, school_year: int, dry_run: bool
) -> FlowResult:
    """R19-R21: one outcome per tech CTE grade and linked HS section the student is rostered
    in (``not_rostered`` once, without a HS section, when the student is in none of them);
    unchanged ones are counted.

    Steps: find the tech grades to decide (:func:`_dirty_grades`); read the links, those
    tech grades and their terms, the HS side; decide each grade; write the changed ones
    with their history.
    """
    # Only the tech grades whose crossing would differ from the HS grade already there are
    # read into Python; the database counts the others (a quiet night: all of them).
    dirty, unchanged_before = _dirty_grades(tech_school_id=tech_school_id, school_year=school_year)
    if not dirty:
        return FlowResult(Flow.GRADES, [], unchanged_before)
    links = read_links(tech_school_id=tech_school_id, school_year=school_year)
    students = None
    tech_grades = read_tech_grades(links)
    if len(dirty) < len(tech_grades):
        tech_grades = [g for g in tech_grades if g[0] in dirty]
        if len(tech_grades) <= NARROW_READ_MAX:
            students = {g[1] for g in tech_grades}
    tech_terms = read_term_spans({g[4] for g in tech_grades})
    hs = read_hs_side(links, students=students)
    outcomes, writes, unchanged = decide(
        tech_grades=tech_grades, tech_terms=tech_terms, links=links, hs=hs
    )
    if writes and not dry_run:
        _write(writes, run_id=run_id)
    return FlowResult(Flow.GRADES, outcomes, unchanged_before + unchanged)


# One outcome-free pass in the database over every tech CTE grade of the school and each
# linked HS section its student is rostered in: the pair is "same" when the HS setup is
# valid (one active HS term inside the tech term, the roster covering it, R20/R23) and the
# HS grade there already holds the percent and its translated score (R5), written by no
# other tech grade. Answers the tech grades not "same" in every pair (or rostered in none),
# and, as a last row with a NULL id, the number of "same" pairs of the others. Python
# decides the answered ones (``decide``), so their outcomes and reasons come from one place.
# Portable SQL: PostgreSQL, and SQLite 3.39 or later.
_DIRTY_GRADES_SQL = """
WITH link AS (
    SELECT l.hs_section_id, l.tech_section_id, hs.course_id AS hs_course_id
    FROM exchange_ktslink l
    JOIN schools_section ts ON ts.id = l.tech_section_id
    JOIN schools_course tc ON tc.id = ts.course_id
    JOIN schools_calendar cal ON cal.id = tc.calendar_id
    JOIN schools_section hs ON hs.id = l.hs_section_id
    WHERE cal.school_id = %(school)s AND cal.school_year = %(year)s
), tech AS (
    SELECT g.id, g.student_id, g.section_id, g.grading_task_id, g.term_id, g.percent
    FROM grading_grade g
    JOIN grading_gradingtask t ON t.id = g.grading_task_id
    WHERE g.section_id IN (SELECT tech_section_id FROM link) AND t.code IN ({codes})
), active AS (
    SELECT ct.course_id, ct.grading_task_id, ct.score_group_id, m.term_id,
           tm.start_date, tm.end_date, COUNT(*) OVER (PARTITION BY ct.id) AS n_active
    FROM grading_coursegradingtask ct
    JOIN grading_gradingtask t ON t.id = ct.grading_task_id
    JOIN grading_coursetaskterm m ON m.course_task_id = ct.id AND m.active
    JOIN schools_term tm ON tm.id = m.term_id
    WHERE ct.course_id IN (SELECT hs_course_id FROM link) AND t.code IN ({codes})
), band AS (
    SELECT group_id, score, min_percent,
           LEAD(min_percent) OVER (PARTITION BY group_id ORDER BY min_percent) AS next_min
    FROM grading_scorerow WHERE group_id IN (SELECT score_group_id FROM active)
), pair AS (
    SELECT g.id, g.student_id, k.hs_section_id, g.grading_task_id, a.term_id,
           a.start_date AS h_start, a.end_date AS h_end,
           CASE WHEN a.n_active = 1
                 AND tt.start_date <= a.start_date AND a.end_date <= tt.end_date
                 AND e.percent = g.percent AND e.score = b.score
           THEN 1 ELSE 0 END AS same
    FROM tech g
    JOIN link k ON k.tech_section_id = g.section_id
    JOIN schools_term tt ON tt.id = g.term_id
    LEFT JOIN active a
         ON a.course_id = k.hs_course_id AND a.grading_task_id = g.grading_task_id
    LEFT JOIN band b
         ON b.group_id = a.score_group_id AND b.min_percent <= g.percent
        AND (b.next_min IS NULL OR g.percent < b.next_min)
    LEFT JOIN grading_grade e
         ON e.student_id = g.student_id AND e.section_id = k.hs_section_id
        AND e.grading_task_id = g.grading_task_id AND e.term_id = a.term_id
), rostered AS (
    SELECT p.id, p.student_id, p.hs_section_id, p.grading_task_id, p.term_id,
           MAX(CASE WHEN p.same = 1 AND r.start_date <= p.h_end
                     AND (r.end_date IS NULL OR r.end_date >= p.h_start)
               THEN 1 ELSE 0 END) AS same
    FROM pair p
    JOIN schools_roster r ON r.section_id = p.hs_section_id AND r.student_id = p.student_id
    GROUP BY p.id, p.student_id, p.hs_section_id, p.grading_task_id, p.term_id
), targeted AS (
    SELECT id, same, COUNT(*) OVER (
        PARTITION BY student_id, hs_section_id, grading_task_id, term_id) AS writers
    FROM rostered
), graded AS (
    SELECT id, MIN(CASE WHEN same = 1 AND writers = 1 THEN 1 ELSE 0 END) AS same,
           COUNT(*) AS pairs
    FROM targeted GROUP BY id
)
SELECT g.id, 0 FROM tech g LEFT JOIN graded d ON d.id = g.id WHERE d.id IS NULL OR d.same = 0
UNION ALL
SELECT NULL, COALESCE(SUM(pairs), 0) FROM graded WHERE same = 1
""".format(codes=", ".join(f"%(code{i})s" for i in range(len(CTE_CODES))))
NARROW_READ_MAX = 2_000  # up to this many tech grades to decide, read only their students


def _dirty_grades(*, tech_school_id: int, school_year: int) -> tuple[set[int], int]:
    """The tech grades to decide, and the number of HS grades already as they should be
    for all the others - one query, whatever the number of grades."""
    params = {"school": tech_school_id, "year": school_year}
    params.update({f"code{i}": code for i, code in enumerate(CTE_CODES)})
    dirty: set[int] = set()
    unchanged = 0
    with connection.cursor() as cursor:
        cursor.execute(_DIRTY_GRADES_SQL, params)
        for grade_id, pairs in cursor.fetchall():
            if grade_id is None:
                unchanged = int(pairs)
            else:
                dirty.add(grade_id)
    return dirty, unchanged


def read_links(*, tech_school_id: int, school_year: int) -> dict[int, list[Link]]:
    """The school's KTS links of the year: tech section -> its linked HS sections."""
    links: dict[int, list[Link]] = defaultdict(list)
    for hs_id, tech_id, hs_course_id in (
        KtsLink.objects.filter(
            tech_section__course__calendar__school_id=tech_school_id,
            tech_section__course__calendar__school_year=school_year,
        )
        .order_by()
        .values_list("hs_section_id", "tech_section_id", "hs_section__course_id")
    ):
        links[tech_id].append(Link(hs_id, hs_course_id))
    return links


def read_tech_grades(links: dict[int, list[Link]]) -> list[TechGrade]:
    """The CTE grades of the linked tech sections, in id order.

    Small id lists (one school's linked sections) keep every read on an index, and
    order_by() drops the models' default orderings, which would join half the schema.
    Tuples (values_list) named as they come, not values() dicts: a quiet night reads tens
    of thousands of unchanged rows.
    """
    rows = (
        Grade.objects.filter(section_id__in=list(links), grading_task__code__in=CTE_CODES)
        .order_by("id")
        .values_list("id", "student_id", "section_id", "grading_task_id", "term_id", "percent")
    )
    return list(rows)  # each row in TechGrade's field order


def read_term_spans(term_ids: set[int]) -> dict[int, tuple[dt.date, dt.date]]:
    """The tech terms' dates from the few terms themselves, not joined onto every grade."""
    return {
        term_id: (start, end)
        for term_id, start, end in Term.objects.filter(pk__in=term_ids)
        .order_by()
        .values_list("id", "start_date", "end_date")
    }


def read_hs_side(links: dict[int, list[Link]], *, students: set[int] | None = None) -> HsSide:
    """Rosters, CTE course tasks with their active term, score rows and existing grades of
    the linked HS sections, each keyed the way :func:`decide` looks it up.

    Lookups go by student id within one HS section (or HS grade key): an int key hashes
    faster than a tuple built per record. Spans are tuples, not lists: the garbage
    collector untracks tuples of dates, so a school's rosters do not make it rescan the heap.
    ``students``: read only these students' rosters and grades (a night with few changes).
    """
    hs_ids = [link.hs_section_id for pairs in links.values() for link in pairs]
    of_students = {} if students is None else {"student_id__in": students}
    rosters: dict[int, dict[int, Spans]] = defaultdict(dict)
    for student_id, section_id, start, end in (
        Roster.objects.filter(section_id__in=hs_ids, **of_students)
        .order_by()
        .values_list("student_id", "section_id", "start_date", "end_date")
    ):
        section_rosters = rosters[section_id]
        section_rosters[student_id] = section_rosters.get(student_id, ()) + ((start, end),)

    # The HS courses' CTE tasks, each with its active term (none: NULLs) in one query.
    course_tasks: dict[tuple[int, int], CourseTask] = {}
    active: dict[int, list[ActiveTerm]] = defaultdict(list)
    for ct_id, course_id, task_id, group_id, term_id, start, end in (
        CourseGradingTask.objects.filter(
            grading_task__code__in=CTE_CODES,
            course_id__in={link.hs_course_id for pairs in links.values() for link in pairs},
        )
        .annotate(active_term=FilteredRelation("mask", condition=Q(mask__active=True)))
        .order_by()
        .values_list(
            "id",
            "course_id",
            "grading_task_id",
            "score_group_id",
            "active_term__term_id",
            "active_term__term__start_date",
            "active_term__term__end_date",
        )
    ):
        course_tasks[(course_id, task_id)] = CourseTask(ct_id, group_id)
        if term_id is not None:
            active[ct_id].append(ActiveTerm(term_id, start, end))
    score_rows: dict[int, list] = defaultdict(list)
    for row in (
        ScoreRow.objects.filter(group_id__in={ct.score_group_id for ct in course_tasks.values()})
        .order_by()
        .values("group_id", "score", "min_percent", "passing", "gpa_value")
    ):
        score_rows[row["group_id"]].append(row)
    existing: dict[tuple[int, int, int], dict[int, HsGrade]] = defaultdict(dict)
    for grade_id, student_id, section_id, task_id, term_id, percent, score in (
        # Task ids, not a join to the task table (which plans a nested loop per grade row);
        # only the HS courses' CTE tasks can be a grade's target.
        Grade.objects.filter(
            grading_task_id__in={task_id for _, task_id in course_tasks},
            term_id__in=[t.term_id for terms in active.values() for t in terms],
            section_id__in=hs_ids,
            **of_students,
        )
        .order_by()
        .values_list(
            "id", "student_id", "section_id", "grading_task_id", "term_id", "percent", "score"
        )
    ):
        existing[(section_id, task_id, term_id)][student_id] = _new_tuple(
            HsGrade, (grade_id, percent, score)
        )
    return HsSide(
        rosters=rosters,
        course_tasks=course_tasks,
        active=active,
        rows_by_group={g: rows_of(rows) for g, rows in score_rows.items()},
        existing=existing,
    )


class _Candidates:
    """The HS side of each (HS section, task, tech term), decided once and shared by every
    grade of that tech section, task and term (R20, R23)."""

    __slots__ = ("hs", "targets", "score_cache")

    def __init__(self, hs: HsSide) -> None:
        self.hs = hs
        self.targets: dict[tuple[int, int, int], set[int]] = defaultdict(set)
        self.score_cache: dict[int, dict] = defaultdict(dict)  # group -> percent -> row

    def of(self, link: Link, task_id: int, t_start: dt.date, t_end: dt.date) -> Candidate:
        hs = self.hs
        hs_id = link.hs_section_id
        section_rosters = hs.rosters.get(hs_id, {})
        ct = hs.course_tasks.get((link.hs_course_id, task_id))
        if ct is None:
            return Candidate(hs_id, section_rosters, Reason.NO_HS_TASK)
        terms = hs.active.get(ct.id, [])
        if len(terms) != 1:
            return Candidate(hs_id, section_rosters, Reason.NO_ACTIVE_TERM)
        term = terms[0]
        if not (t_start <= term.start and term.end <= t_end):
            return Candidate(hs_id, section_rosters, Reason.TERM_OUT_OF_RANGE)
        key = (hs_id, task_id, term.term_id)
        return Candidate(
            hs_id,
            section_rosters,
            "",
            term.term_id,
            term.start,
            term.end,
            hs.rows_by_group.get(ct.score_group_id, []),
            self.score_cache[ct.score_group_id],
            hs.existing.get(key, {}),
            self.targets[key],
        )


def decide(
    *,
    tech_grades: list[TechGrade],
    tech_terms: dict[int, tuple[dt.date, dt.date]],
    links: dict[int, list[Link]],
    hs: HsSide,
) -> tuple[list[dict[str, Any]], list[Write], int]:
    """Each tech grade's outcome per linked HS section (R19-R21, R23), and the HS grades
    to write. Pure Python: no query.

    Many grades share one tech section, task and term: their HS sections are found and each
    HS setup decided once; many share one percent on a score group: translated once.
    Returns the outcomes to record, the writes and the number of unchanged HS grades.
    """
    candidates: dict[tuple[int, int, int], list[Candidate]] = {}
    make = _Candidates(hs).of
    outcomes: list[dict[str, Any]] = []
    writes: list[Write] = []
    unchanged = 0
    grades_flow, skipped = Flow.GRADES, Action.SKIPPED
    for grade_id, student_id, tech_section_id, task_id, tech_term_id, percent in tech_grades:
        group_key = (tech_section_id, task_id, tech_term_id)
        cands = candidates.get(group_key)
        if cands is None:
            t_start, t_end = tech_terms[tech_term_id]
            cands = candidates[group_key] = [
                make(link, task_id, t_start, t_end) for link in links[tech_section_id]
            ]
        rostered = False
        for cand in cands:
            spans = cand.rosters.get(student_id)
            if spans is None:
                continue
            rostered = True
            # Unpacked once into locals: this loop runs for every tech grade of the night.
            hs_id, _, reason, term_id, h_start, h_end, rows, by_percent, olds, written = cand
            message = ""
            if not reason:
                for start, end in spans:
                    if start <= h_end and (end is None or end >= h_start):
                        break  # rostered during the HS active term
                else:
                    reason = Reason.NOT_ROSTERED
                    message = "The student's HS roster does not cover the HS active term; "
                if not reason:
                    row = by_percent.get(percent, False)
                    if row is False:
                        row = by_percent[percent] = (
                            row_for_percent(rows, Decimal(percent)) if percent is not None else None
                        )
                    if row is None:
                        reason = Reason.SCORE_UNTRANSLATABLE
            if reason:
                outcomes.append(
                    outcome(
                        grades_flow,
                        skipped,
                        reason=reason,
                        student_id=student_id,
                        hs_section_id=hs_id,
                        source_id=grade_id,
                        message=message + FIX[reason],
                    )
                )
                continue
            if student_id in written:  # cannot happen with non-overlapping terms; never
                continue  # write one HS grade twice
            written.add(student_id)
            old = olds.get(student_id)
            if old is not None and old.percent == percent and old.score == row.score:
                unchanged += 1  # the common case on a quiet night: counted, not listed
                continue
            o = outcome(
                grades_flow,
                Action.UPDATED if old else Action.ADDED,
                student_id=student_id,
                hs_section_id=hs_id,
                source_id=grade_id,
                target_id=old.id if old else None,
                message=f"{row.score} ({percent}%)",
            )
            outcomes.append(o)
            writes.append(
                Write(o, student_id, hs_id, task_id, term_id, percent, row.score, grade_id, old)
            )
        if not rostered:
            outcomes.append(
                outcome(
                    grades_flow,
                    skipped,
                    reason=Reason.NOT_ROSTERED,
                    student_id=student_id,
                    source_id=grade_id,
                    message=FIX[Reason.NOT_ROSTERED],
                )
            )
    return outcomes, writes, unchanged


def _write(writes: list[Write], *, run_id: int) -> None:
    """Upsert the HS grades on (student, section, task, term) with one history row each
    (R14), and set each write's outcome ``target_id`` to its HS grade."""
    now = timezone.now()
    # A correction reason matters where the HS grade changes, not where it first arrives.
    reasons = _latest_reasons({w.source_grade_id for w in writes if w.old})
    if connection.vendor == "postgresql":
        ids = _write_pg(writes, run_id=run_id, now=now, reasons=reasons)
    else:
        ids = _write_orm(writes, run_id=run_id, now=now, reasons=reasons)
    for w, grade_id in zip(writes, ids, strict=True):
        w.outcome["target_id"] = grade_id
    # R34: a posted transcript line whose final grade the exchange changed awaits review.
    transcript_lines_flag_changed(grade_ids=[w.old.id for w in writes if w.old])


# PostgreSQL: the writes are copied as plain rows into a temporary table, then one statement
# upserts the grades, inserts their history and answers each row's grade id - no model
# instance per row, no history row built in Python.
_INCOMING = (
    "i integer, student_id bigint, section_id bigint, grading_task_id bigint, term_id bigint, "
    "percent numeric(5,2), score varchar(20), source_grade_id bigint, "
    "old_percent numeric(5,2), old_score varchar(20), reason text"
)
_KEY = "student_id, section_id, grading_task_id, term_id"
_GRADE_VALUES = {  # grading_grade column -> value
    "student_id": "n.student_id",
    "section_id": "n.section_id",
    "grading_task_id": "n.grading_task_id",
    "term_id": "n.term_id",
    "percent": "n.percent",
    "score": "n.score",
    "comments": "''",
    "source": "%(source)s",
    "posted_by_id": "NULL",
    "run_id": "%(run)s",
    "source_grade_id": "n.source_grade_id",
    "created_at": "%(now)s",
    "modified_at": "%(now)s",
}
_HISTORY_VALUES = {  # grading_gradehistory column -> value
    "grade_id": "up.id",
    "changed_at": "%(now)s",
    "changed_by_id": "NULL",
    "source": "%(source)s",
    "run_id": "%(run)s",
    "old_score": "n.old_score",
    "old_percent": "n.old_percent",
    "new_score": "n.score",
    "new_percent": "n.percent",
    "reason": "n.reason",
    "old_comments": "''",
    "new_comments": "''",
}


def _columns_covered(model, values: dict[str, str]) -> None:
    columns = {f.column for f in model._meta.concrete_fields if not f.primary_key}
    if columns != set(values):
        raise RuntimeError(f"{model.__name__}: the exchange's raw insert must name {columns}")


def _write_pg(writes: list[Write], *, run_id: int, now: dt.datetime, reasons: dict) -> list[int]:
    _columns_covered(Grade, _GRADE_VALUES)
    _columns_covered(GradeHistory, _HISTORY_VALUES)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in GRADE_COLUMNS_UPDATED)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE exchange_grade_in ({_INCOMING})")
        try:
            with cursor.cursor.copy("COPY exchange_grade_in FROM STDIN") as copy:
                for i, w in enumerate(writes):
                    old = w.old
                    copy.write_row(
                        (
                            i,
                            w.student_id,
                            w.section_id,
                            w.task_id,
                            w.term_id,
                            w.percent,
                            w.score,
                            w.source_grade_id,
                            old.percent if old else None,
                            old.score if old else "",
                            reasons.get(w.source_grade_id, ""),
                        )
                    )
            cursor.execute(
                f"""
                WITH up AS (
                    INSERT INTO grading_grade ({", ".join(_GRADE_VALUES)})
                    SELECT {", ".join(_GRADE_VALUES.values())} FROM exchange_grade_in n
                    ON CONFLICT ({_KEY}) DO UPDATE SET {updates}
                    RETURNING id, {_KEY}
                ), history AS (
                    INSERT INTO grading_gradehistory ({", ".join(_HISTORY_VALUES)})
                    SELECT {", ".join(_HISTORY_VALUES.values())}
                    FROM up JOIN exchange_grade_in n USING ({_KEY})
                )
                SELECT n.i, up.id FROM up JOIN exchange_grade_in n USING ({_KEY})
                """,
                {"source": GradeSource.EXCHANGE, "run": run_id, "now": now},
            )
            ids = dict(cursor.fetchall())
        finally:
            cursor.execute("DROP TABLE exchange_grade_in")
    return [ids[i] for i in range(len(writes))]


def _write_orm(writes: list[Write], *, run_id: int, now: dt.datetime, reasons: dict) -> list[int]:
    """Other databases: the same rows through the ORM's bulk upsert."""
    grades = [
        Grade(
            student_id=w.student_id,
            section_id=w.section_id,
            grading_task_id=w.task_id,
            term_id=w.term_id,
            percent=w.percent,
            score=w.score,
            source=GradeSource.EXCHANGE,
            run_id=run_id,
            source_grade_id=w.source_grade_id,
            created_at=now,
            modified_at=now,
        )
        for w in writes
    ]
    bulk.upsert(
        grades,
        unique_fields=["student", "section", "grading_task", "term"],
        update_fields=list(GRADE_FIELDS),
    )
    ids = [
        g.pk if g.pk is not None else (w.old.id if w.old else None)
        for g, w in zip(grades, writes, strict=True)
    ]
    bulk.insert(
        [
            GradeHistory(
                grade_id=grade_id,
                changed_at=now,
                source=GradeSource.EXCHANGE,
                run_id=run_id,
                old_score=w.old.score if w.old else "",
                old_percent=w.old.percent if w.old else None,
                new_score=w.score,
                new_percent=w.percent,
                reason=reasons.get(w.source_grade_id, ""),
            )
            for w, grade_id in zip(writes, ids, strict=True)
        ]
    )
    return ids


def _latest_reasons(tech_grade_ids: set[int]) -> dict[int, str]:
    """R16: the correction reason of each tech grade's latest change travels with it to the
    HS history. Reasons are rare: one query finds the grades that ever had one, a second
    (only when there are some) reads their latest change."""
    with_reason = set(
        GradeHistory.objects.filter(grade_id__in=tech_grade_ids)
        .exclude(reason="")
        .order_by()
        .values_list("grade_id", flat=True)
        .distinct()
    )
    if not with_reason:
        return {}
    latest = GradeHistory.objects.filter(grade_id=OuterRef("pk")).order_by("-changed_at", "-id")
    return {
        pk: reason
        for pk, reason in Grade.objects.filter(pk__in=with_reason)
        .order_by()
        .annotate(reason=Subquery(latest.values("reason")[:1]))
        .values_list("pk", "reason")
        if reason
    }
