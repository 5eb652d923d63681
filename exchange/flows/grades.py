"""R19-R22, R24: CTE grades posted at a tech school cross to the linked HS sections.

Each run reconciles the whole current school year: a grade skipped because the HS setup was
wrong arrives on the first run after the fix. Reads are a handful of joined queries into
dicts; the decision is pure Python; the writes are one batched upsert of the changed grades
plus their history rows (R14, :mod:`exchange.flows.grade_writes`). A run that changes
nothing writes nothing, and a school whose inputs did not change since the last run replays
what it found then (R22, :mod:`exchange.flows.watermark`).
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from django.db.models import FilteredRelation, Q
from django.db.models.expressions import RawSQL

from exchange.flows import FlowResult, inputs, outcome, watermark
from exchange.flows.grade_writes import HsGrade, Write, write_grades
from exchange.models import Action, Flow, KtsLink, Reason
from grading.models import (
    CTE_CODES,
    CourseGradingTask,
    Grade,
    ScoreRow,
)
from grading.scoring import Row, row_for_percent, rows_of
from grading.services.grades import grades_changed
from schools.models import Roster, Term

FIX: dict[str, str] = {  # skip reason -> what to fix
    Reason.NOT_ROSTERED: "Roster the student in the linked HS section, or remove the KTS link.",
    Reason.NO_HS_TASK: "Add this CTE task to the HS course's grading tasks.",
    Reason.NO_ACTIVE_TERM: "Mark exactly one term active for this CTE task on the HS course.",
    Reason.TERM_OUT_OF_RANGE: "Make the HS term that lies inside the tech term the active one.",
    Reason.SCORE_UNTRANSLATABLE: "Give the HS task a score group whose Min % column matches "
    "CTE Numeric, and post a percent at the tech school.",
}


# --- Named row types (tuples underneath: as fast to build and unpack as plain tuples) ----


class Link(NamedTuple):
    hs_section_id: int
    hs_course_id: int


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


_new_tuple = tuple.__new__  # one HsGrade per HS grade read: no keyword handling

Spans = tuple[tuple[dt.date, dt.date | None], ...]  # a student's roster spans in a section


ScoreCache = dict[Decimal | None, Row | None]  # percent -> its score row (None: none fits)


# A linked HS section whose setup is right: its HS active term (id, start, end), the score
# rows, the score group's cache, the existing HS grades (student -> HS grade) and the students
# already written to that HS grade key.
Target = tuple[int, dt.date, dt.date, list[Row], ScoreCache, dict[int, HsGrade], set[int]]

# A linked HS section for one (tech section, task, tech term): (HS section, its rosters
# (student -> spans), skip reason, target) - a skip has its reason and no target, a section
# whose setup is right has no reason and its Target. Both are plain tuples, not NamedTuples:
# decide() unpacks them for every grade, and CPython unpacks an exact tuple on a fast path
# (a tuple subclass goes through an iterator: measurably slower on that loop).
Candidate = tuple[int, dict[int, Spans], str, Target | None]


class HsSide(NamedTuple):
    """Everything read from the high schools' side, keyed for per-record lookups."""

    rosters: dict[int, dict[int, Spans]]  # HS section -> student -> spans
    course_tasks: dict[tuple[int, int], CourseTask]  # (HS course, task) -> course task
    active: dict[int, list[ActiveTerm]]  # course task -> its active terms
    rows_by_group: dict[int, list[Row]]  # score group -> score rows
    existing: dict[tuple[int, int, int], dict[int, HsGrade]]  # (section, task, term) -> ...


def sync_grades(
    *, run_id: int, tech_school_id: int, as_of: dt.date, school_year: int, dry_run: bool
) -> FlowResult:
    """R19-R21: one outcome per tech CTE grade and linked HS section the student is rostered
    in (``not_rostered`` once, without a HS section, when the student is in none of them);
    unchanged ones are counted.

    Steps: read the links, the tech grades and their terms, the HS side; decide each
    grade; write the changed ones with their history.
    """
    links = read_links(tech_school_id=tech_school_id, school_year=school_year)
    if not links:
        return FlowResult(Flow.GRADES, [])
    mark = _Mark(tech_school_id=tech_school_id, school_year=school_year)
    # what the grade flow finds holds on any day
    if (replay := mark.replay(as_of=dt.date.max)) is not None:
        return replay
    tech_grades = read_tech_grades(links)
    tech_terms = read_term_spans({g[4] for g in tech_grades})
    hs = read_hs_side(links, with_versions=mark.on)
    outcomes, writes, unchanged = decide(
        tech_grades=tech_grades, tech_terms=tech_terms, links=links, hs=hs
    )
    if not dry_run:
        versions = write_grades(writes, run_id=run_id) if writes else []
        if writes:
            # The HS schools' cached honor rolls are stale from this transaction on.
            grades_changed(section_ids={w.section_id for w in writes}, writer=f"x{tech_school_id}")
        # A run on the state just written writes nothing and skips the same grades (the
        # skips do not depend on the HS grades): what it would find is known now.
        mark.store_written(
            writes=writes,
            versions=versions,
            as_of=as_of,
            run_id=run_id,
            unchanged=unchanged + len(writes),
            outcomes=[o for o in outcomes if o["action"] == Action.SKIPPED],
        )
    return FlowResult(Flow.GRADES, outcomes, unchanged)


class _Mark(watermark.FlowMark):
    """The grade flow's watermark for one tech school (R22, :mod:`exchange.flows.watermark`):
    stored after the writes, for the state they leave."""

    flow = Flow.GRADES
    fingerprints = staticmethod(inputs.grade_fingerprints)

    def store_written(
        self,
        *,
        writes: list[Write],
        versions: list[str],
        as_of: dt.date,
        run_id: int,
        unchanged: int,
        outcomes: list[dict[str, Any]],
    ) -> None:
        if not self.on:
            return
        if self.print_:  # the state read, with the rows written swapped for their new versions
            print_ = watermark.swapped(
                self.print_,
                tag="hs grade",
                old=[(w.old.id, w.old.xmin) for w in writes if w.old],
                new=[(w.outcome["target_id"], v) for w, v in zip(writes, versions, strict=True)],
            )
        else:
            print_ = self.fingerprint()
        self.store(
            print_=print_, as_of=as_of, run_id=run_id, unchanged=unchanged, outcomes=outcomes
        )


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


def read_tech_grades(links: dict[int, list[Link]]) -> list[TechGradeRow]:
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


def read_hs_side(links: dict[int, list[Link]], *, with_versions: bool = False) -> HsSide:
    """Rosters, CTE course tasks with their active term, score rows and existing grades of
    the linked HS sections, each keyed the way :func:`decide` looks it up.

    Lookups go by student id within one HS section (or HS grade key): an int key hashes
    faster than a tuple built per record. Spans are tuples, not lists: the garbage
    collector untracks tuples of dates, so a school's rosters do not make it rescan the heap.
    """
    hs_ids = [link.hs_section_id for pairs in links.values() for link in pairs]
    rosters: dict[int, dict[int, Spans]] = defaultdict(dict)
    for student_id, section_id, start, end in (
        Roster.objects.filter(section_id__in=hs_ids)
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
    score_rows: dict[int, list[Mapping[str, object]]] = defaultdict(list)
    for row in (
        ScoreRow.objects.filter(group_id__in={ct.score_group_id for ct in course_tasks.values()})
        .order_by()
        .values("group_id", "score", "min_percent", "passing", "gpa_value")
    ):
        score_rows[row["group_id"]].append(row)
    existing: dict[tuple[int, int, int], dict[int, HsGrade]] = defaultdict(dict)
    hs_grades = Grade.objects.filter(
        # Task ids, not a join to the task table (which plans a nested loop per grade row);
        # only the HS courses' CTE tasks can be a grade's target.
        grading_task_id__in={task_id for _, task_id in course_tasks},
        term_id__in=[t.term_id for terms in active.values() for t in terms],
        section_id__in=hs_ids,
    ).order_by()
    if with_versions:  # PostgreSQL's row version, for the watermark's fingerprint (R22)
        hs_grades = hs_grades.annotate(version=RawSQL("grading_grade.xmin::text", ()))
    fields = ("id", "student_id", "section_id", "grading_task_id", "term_id", "percent", "score")
    for (
        grade_id,
        student_id,
        section_id,
        task_id,
        term_id,
        percent,
        score,
        *version,
    ) in hs_grades.values_list(*fields, *(["version"] if with_versions else [])):
        existing[(section_id, task_id, term_id)][student_id] = _new_tuple(
            HsGrade, (grade_id, percent, score, version[0] if version else None)
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
        self.score_cache: dict[int, ScoreCache] = defaultdict(dict)  # group -> its cache

    def of(self, link: Link, task_id: int, t_start: dt.date, t_end: dt.date) -> Candidate:
        hs = self.hs
        hs_id = link.hs_section_id
        section_rosters = hs.rosters.get(hs_id, {})
        ct = hs.course_tasks.get((link.hs_course_id, task_id))
        if ct is None:
            return (hs_id, section_rosters, Reason.NO_HS_TASK, None)
        terms = hs.active.get(ct.id, [])
        if len(terms) != 1:
            return (hs_id, section_rosters, Reason.NO_ACTIVE_TERM, None)
        term = terms[0]
        if not (t_start <= term.start and term.end <= t_end):
            return (hs_id, section_rosters, Reason.TERM_OUT_OF_RANGE, None)
        key = (hs_id, task_id, term.term_id)
        return (
            hs_id,
            section_rosters,
            "",
            (
                term.term_id,
                term.start,
                term.end,
                hs.rows_by_group.get(ct.score_group_id, []),
                self.score_cache[ct.score_group_id],
                hs.existing.get(key, {}),
                self.targets[key],
            ),
        )


def decide(
    *,
    tech_grades: Sequence[TechGradeRow],
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
    row: Row | Literal[False] | None  # a grade's HS score row; False: not in the cache yet
    for grade_id, student_id, tech_section_id, task_id, tech_term_id, percent in tech_grades:
        group_key = (tech_section_id, task_id, tech_term_id)
        cands = candidates.get(group_key)
        if cands is None:
            t_start, t_end = tech_terms[tech_term_id]
            cands = candidates[group_key] = [
                make(link, task_id, t_start, t_end) for link in links[tech_section_id]
            ]
        rostered = False
        # Unpacked into locals: this loop runs for every tech grade of the night.
        for hs_id, section_rosters, reason, target in cands:
            spans = section_rosters.get(student_id)
            if spans is None:
                continue
            rostered = True
            message = ""
            row = None  # stays None on a skip
            if target is not None:  # the HS setup is right: the roster and percent decide
                term_id, h_start, h_end, rows, by_percent, olds, written = target
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
            if row is None:  # skipped (a reason is set); else the target's locals are set
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
