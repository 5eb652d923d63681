"""Term GPA, honor roll and athletic eligibility (R30, R31, R33).

The arithmetic lives in pure functions (``weighted_gpa``, ``choose_tier``, ``resolve_row``,
``gpa_histogram``) so it can be tested on its own; the selectors read a whole school and
term in a constant number of queries and call them. Nothing here queries per student.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from django.db.models import Q

from grading.models import CourseGradingTask, CourseTaskTerm, Grade, HonorRollTier, ScoreRow
from grading.scoring import Row, row_for_percent, rows_of
from grading.selectors.cache import versioned
from schools.models import Roster, School, Section, Student, Term

TWO_PLACES = Decimal("0.01")


# --- pure computation ---------------------------------------------------------------------


class CountedGrade(NamedTuple):
    """One grade that counts toward term GPA (its course task has a Term GPA weight > 0)."""

    gpa_value: Decimal
    weight: Decimal
    passing: bool
    percent: Decimal | None


# A grade of a term as ``term_grades`` reads it: (student id, section id, course id,
# grading task id, score, percent).
TermGrade = tuple[int, int, int, int, str, Decimal | None]


class TierRule(NamedTuple):
    name: str
    min_gpa: Decimal
    min_percent: Decimal | None = None


def quantize_gpa(value: Decimal) -> Decimal:
    """R30: shown to 2 places, half up."""
    return value.quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def weighted_gpa(pairs: Iterable[tuple[Decimal, Decimal]]) -> Decimal | None:
    """R30/R35: Σ(value × weight) / Σ(weight), half up to 2 places; None when Σ(weight) = 0.

    A weight of 0 adds nothing to either sum, so a grade whose only weight is 0 is not
    counted and, alone, gives no GPA.
    """
    total = Decimal("0")
    weights = Decimal("0")
    for value, weight in pairs:
        if not weight:
            continue
        total += Decimal(value) * Decimal(weight)
        weights += Decimal(weight)
    if not weights:
        return None
    return quantize_gpa(total / weights)


def choose_tier(
    gpa: Decimal | None, counted: Sequence[CountedGrade], tiers: Sequence[TierRule]
) -> str | None:
    """R31: the highest tier met, or None.

    No GPA, or any non-passing counted grade, keeps the student off every tier. A tier's
    minimum percent applies to every counted grade; a grade posted as a label only (no
    percent) is not refused by it - the percent rule is checked where a percent exists.
    """
    if gpa is None or any(not g.passing for g in counted):
        return None
    for tier in sorted(tiers, key=lambda t: t.min_gpa, reverse=True):
        if gpa < tier.min_gpa:
            continue
        if tier.min_percent is not None and any(
            g.percent is not None and g.percent < tier.min_percent for g in counted
        ):
            continue
        return tier.name
    return None


def resolve_row(rows: Sequence[Row], score: str, percent: Decimal | None) -> Row | None:
    """The score-group row a grade stands on: its label, else the row its percent maps to."""
    if score:
        for row in rows:
            if row.score == score:
                return row
    if percent is not None:
        return row_for_percent(rows, Decimal(percent))
    return None


def gpa_histogram(
    gpas: Iterable[Decimal], *, width: Decimal = Decimal("0.5")
) -> list[dict[str, Any]]:
    """GPA distribution in bins of ``width`` from 0 up to the highest GPA (at least 4.0)."""
    values = [Decimal(g) for g in gpas]
    top = max([Decimal("4"), *values])
    bins: list[dict[str, Any]] = []
    low = Decimal("0")
    while low < top or not bins:
        high = low + width
        last = high >= top
        count = sum(1 for v in values if low <= v and (v < high or (last and v <= high)))
        bins.append({"low": low, "high": high, "count": count})
        low = high
    return bins


# --- loading ------------------------------------------------------------------------------


@dataclass
class CourseTaskInfo:
    id: int
    course_id: int
    grading_task_id: int
    term_gpa_weight: Decimal | None
    credit: Decimal | None
    credit_type: str
    rows: list[Row] = field(default_factory=list)

    @property
    def counts_for_gpa(self) -> bool:
        """R8/R30: only a task with a Term GPA weight above 0 counts."""
        return self.term_gpa_weight is not None and self.term_gpa_weight > 0


def course_task_map(**course_filter: Any) -> dict[tuple[int, int], CourseTaskInfo]:
    """Course tasks keyed by (course id, grading task id), with their score rows.

    Two queries whatever the number of courses: ``course_filter`` is applied to
    ``CourseGradingTask.course`` (e.g. ``calendar_id=3`` or ``id__in=[...]``).
    """
    lookups = {f"course__{k}": v for k, v in course_filter.items()}
    tasks = list(
        CourseGradingTask.objects.filter(**lookups)
        .order_by()  # keyed below: Meta.ordering's join and sort are not needed
        .values(
            "id",
            "course_id",
            "grading_task_id",
            "score_group_id",
            "term_gpa_weight",
            "credit",
            "credit_type__name",
        )
    )
    rows_by_group: dict[int, list[Any]] = defaultdict(list)
    for r in ScoreRow.objects.filter(group_id__in={t["score_group_id"] for t in tasks}).values(
        "group_id", "score", "min_percent", "passing", "gpa_value"
    ):
        rows_by_group[r["group_id"]].append(r)
    rows_cache = {gid: rows_of(rows) for gid, rows in rows_by_group.items()}
    return {
        (t["course_id"], t["grading_task_id"]): CourseTaskInfo(
            id=t["id"],
            course_id=t["course_id"],
            grading_task_id=t["grading_task_id"],
            term_gpa_weight=t["term_gpa_weight"],
            credit=t["credit"],
            credit_type=t["credit_type__name"] or "",
            rows=rows_cache.get(t["score_group_id"], []),
        )
        for t in tasks
    }


def tier_rules(*, school_id: int | None = None, calendar_id: int | None = None) -> list[TierRule]:
    """R31: the tiers of a HS (given directly or by one of its calendars), highest first."""
    tiers = HonorRollTier.objects.all()
    if school_id is not None:
        tiers = tiers.filter(school_id=school_id)
    if calendar_id is not None:
        tiers = tiers.filter(school__calendars__id=calendar_id)
    return [
        TierRule(t["name"], t["min_gpa"], t["min_percent"])
        for t in tiers.order_by("-min_gpa").values("name", "min_gpa", "min_percent")
    ]


def term_grades(term: Term, *, student_ids: Iterable[int] | None = None) -> list[TermGrade]:
    """Every grade of ``term`` at its school, as ``(student_id, section_id, course_id,
    grading_task_id, score, percent)`` tuples (one query; read once for both the GPA and
    the missing-grade count)."""
    # Issue 13: no Meta.ordering (8 joins and a sort); every use below is order-free.
    grades = Grade.objects.filter(
        term_id=term.pk, section__course__calendar_id=term.calendar_id
    ).order_by()
    if student_ids is not None:
        grades = grades.filter(student_id__in=list(student_ids))
    return list(
        grades.values_list(
            "student_id",
            "section_id",
            "section__course_id",
            "grading_task_id",
            "score",
            "percent",
        )
    )


def counted_grades_by_student(
    term: Term,
    *,
    student_ids: Iterable[int] | None = None,
    grades: list[TermGrade] | None = None,
) -> dict[int, list[CountedGrade]]:
    """R30: the grades of ``term`` at its school that count toward term GPA, per student.

    Exchanged tech grades are ordinary HS grades (source ``exchange``) on the HS section,
    so they are included with no special case. Three queries (two given ``grades``, the
    rows of ``term_grades``).
    """
    tasks = course_task_map(calendar_id=term.calendar_id)
    if grades is None:
        grades = term_grades(term, student_ids=student_ids)
    out: dict[int, list[CountedGrade]] = defaultdict(list)
    for student_id, _section_id, course_id, task_id, score, percent in grades:
        info = tasks.get((course_id, task_id))
        if info is None or info.term_gpa_weight is None or not info.counts_for_gpa:
            continue
        row = resolve_row(info.rows, score, percent)
        if row is None:
            continue
        out[student_id].append(
            CountedGrade(row.gpa_value, info.term_gpa_weight, row.passing, percent)
        )
    return out


def missing_counted_by_student(
    term: Term,
    *,
    student_ids: Iterable[int] | None = None,
    grades: list[TermGrade] | None = None,
) -> dict[int, int]:
    """R31: per student, how many counted course tasks of ``term`` have no grade yet.

    A counted course task (Term GPA weight > 0, ``term`` in its term mask) expects a grade
    from every student rostered in one of the course's sections at the end of the term.
    Three queries whatever the number of students (two given ``grades``, the rows of
    ``term_grades``).
    """
    counted = set(
        CourseTaskTerm.objects.filter(
            term_id=term.pk,
            course_task__term_gpa_weight__gt=0,
            course_task__course__calendar_id=term.calendar_id,
        )
        .order_by()
        .values_list("course_task__course_id", "course_task__grading_task_id")
    )
    if not counted:
        return {}
    tasks_by_course: dict[int, list[int]] = defaultdict(list)
    for course_id, task_id in counted:
        tasks_by_course[course_id].append(task_id)
    if student_ids is None:
        # A whole school: its sections as a subquery on the calendar let PostgreSQL read
        # their rosters from the section index (given as a list of the courses, it
        # misjudged the rows and read every roster of every school).
        at_sections: dict[str, Any] = {
            "section_id__in": Section.objects.filter(course__calendar_id=term.calendar_id)
            .order_by()
            .values("id")
        }
    else:
        at_sections = {"section__course_id__in": list(tasks_by_course)}
    rosters = (
        Roster.objects.filter(**at_sections, start_date__lte=term.end_date)
        .order_by()
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=term.end_date))
    )
    if student_ids is not None:
        rosters = rosters.filter(student_id__in=list(student_ids))
    if grades is None:
        grades = term_grades(term, student_ids=student_ids)
    # A grade with neither a percent nor a score is no grade yet.
    have = {
        (student_id, section_id, task_id)
        for student_id, section_id, _course_id, task_id, score, percent in grades
        if percent is not None or score
    }
    seats = set(rosters.values_list("student_id", "section_id", "section__course_id"))
    missing: dict[int, int] = defaultdict(int)
    for student_id, section_id, course_id in seats:
        for task_id in tasks_by_course.get(course_id, ()):
            if (student_id, section_id, task_id) not in have:
                missing[student_id] += 1
    return dict(missing)


# --- selectors ----------------------------------------------------------------------------


@dataclass
class Standing:
    student_id: int
    gpa: Decimal | None
    tier: str | None
    counted: list[CountedGrade]
    missing: int = 0  # R31: counted course tasks without a grade for the term
    held_tier: str | None = None  # the tier the grades posted so far would reach

    @property
    def incomplete(self) -> bool:
        return self.missing > 0


def term_standings(*, term: Term, student_ids: Iterable[int] | None = None) -> dict[int, Standing]:
    """R30/R31: term GPA and honor roll tier of every student with a counted grade.

    A student with a counted course task still ungraded for the term is *incomplete*: on no
    tier (``held_tier`` says which tier the grades so far would reach)."""
    rules = tier_rules(calendar_id=term.calendar_id)
    grades = term_grades(term, student_ids=student_ids)
    missing = missing_counted_by_student(term, student_ids=student_ids, grades=grades)
    counted_by_student = counted_grades_by_student(term, student_ids=student_ids, grades=grades)
    standings = {}
    for student_id, counted in counted_by_student.items():
        gpa = weighted_gpa((g.gpa_value, g.weight) for g in counted)
        tier = choose_tier(gpa, counted, rules)
        gaps = missing.get(student_id, 0)
        standings[student_id] = Standing(
            student_id,
            gpa,
            None if gaps else tier,
            counted,
            missing=gaps,
            held_tier=tier if gaps else None,
        )
    return standings


def term_gpa(*, student: Student, term: Term) -> Decimal | None:
    """R30: one student's term GPA at the term's school (None without a counted grade)."""
    standing = term_standings(term=term, student_ids=[student.pk]).get(student.pk)
    return standing.gpa if standing else None


class TermResult(NamedTuple):
    """What a report shows of a student's standing (R30, R31): no grades attached."""

    gpa: Decimal | None
    tier: str | None
    missing: int
    held_tier: str | None

    @property
    def incomplete(self) -> bool:
        return self.missing > 0


def term_results(*, term: Term) -> dict[int, TermResult]:
    """R30/R31: ``term_standings`` of the whole school, per student without the grades,
    cached under the versions of the school's data (exact: ``grading.selectors.cache``).
    Shared: do not change the answer."""

    return versioned(
        "term-results",
        school_id=_school_id(term),
        parts=(term.pk,),
        compute=lambda: _term_results(term=term),
    )


def _term_results(*, term: Term) -> dict[int, TermResult]:
    return {
        sid: TermResult(s.gpa, s.tier, s.missing, s.held_tier)
        for sid, s in term_standings(term=term).items()
    }


def _school_id(term: Term) -> int:
    # A term's calendar is usually loaded with the term (select_related): no query then.
    return int(term.calendar.school_id)


def honor_roll(*, school: School, term: Term) -> list[dict[str, Any]]:
    """R31: the students on a tier, highest tier first, then by name; then the students
    whose posted grades would reach a tier but who are incomplete (``tier`` null,
    ``incomplete`` true, ``missing`` = counted tasks without a grade).

    ``[{student, student_name, state_id, gpa, tier, incomplete, missing}]``. Cached under
    the versions of the school's data (one query when cached; a constant number of
    queries when not). Shared: do not change the answer.
    """
    return versioned(
        "honor-roll",
        school_id=school.pk,
        parts=(term.pk,),
        compute=lambda: _honor_roll(school=school, term=term),
    )


def _honor_roll(*, school: School, term: Term) -> list[dict[str, Any]]:
    standings = [
        (sid, s) for sid, s in _term_results(term=term).items() if s.tier is not None or s.held_tier
    ]
    rank = {r.name: i for i, r in enumerate(tier_rules(school_id=school.pk))}
    names = {
        s["id"]: s
        for s in Student.objects.filter(id__in=[sid for sid, _ in standings])
        .order_by()
        .values("id", "first_name", "last_name", "state_id")
    }
    keyed = []
    for sid, s in standings:
        name = f"{names[sid]['last_name']}, {names[sid]['first_name']}"
        row = {
            "student": sid,
            "student_name": name,
            "state_id": names[sid]["state_id"],
            "gpa": s.gpa,
            "tier": s.tier,
            "incomplete": s.incomplete,
            "missing": s.missing,
        }
        # On a tier or holding one, a student has a GPA (choose_tier needs one).
        gpa = s.gpa if s.gpa is not None else Decimal(0)
        tier_rank = rank.get(s.tier, 99) if s.tier is not None else 99
        # namesakes: the student id gives a fixed order without the query's sort
        keyed.append(((s.incomplete, tier_rank, -gpa, name, sid), row))
    keyed.sort(key=lambda kr: kr[0])
    return [row for _, row in keyed]


def school_gpas(*, term: Term) -> list[Decimal]:
    """Every student's term GPA at the term's school (for the distribution chart)."""
    return [s.gpa for s in term_results(term=term).values() if s.gpa is not None]


def eligibility(*, school: School, term: Term) -> list[dict[str, Any]]:
    """R33: every non-passing grade of ``term`` at ``school`` - tech grades included.

    ``[{student, student_name, state_id, section, section_name, course, course_name,
    grading_task, grading_task_name, score, percent, source}]``, by student name then
    course. Passing is read from the course task's score group row; any grade counts here,
    whether or not its task carries a Term GPA weight. Three queries.
    """
    tasks = course_task_map(calendar_id=term.calendar_id)
    # Issue 13: sorted in Python below; Meta.ordering's joins and sort are not needed.
    rows = (
        Grade.objects.filter(term_id=term.pk, section__course__calendar__school_id=school.pk)
        .order_by()
        .values(
            "student_id",
            "student__first_name",
            "student__last_name",
            "student__state_id",
            "section_id",
            "section__number",
            "section__course_id",
            "section__course__number",
            "section__course__name",
            "grading_task_id",
            "grading_task__name",
            "score",
            "percent",
            "source",
        )
    )
    keyed = []
    for g in rows:
        info = tasks.get((g["section__course_id"], g["grading_task_id"]))
        if info is None:
            continue
        row = resolve_row(info.rows, g["score"], g["percent"])
        if row is None or row.passing:
            continue
        keyed.append(
            (
                # the former query order breaks ties: course, section, student
                (
                    f"{g['student__last_name']}, {g['student__first_name']}",
                    g["section__course__name"],
                    g["grading_task__name"],
                    g["section__course__number"],
                    g["section__number"],
                    g["student_id"],
                ),
                {
                    "student": g["student_id"],
                    "student_name": f"{g['student__last_name']}, {g['student__first_name']}",
                    "state_id": g["student__state_id"],
                    "section": g["section_id"],
                    "section_name": f"{g['section__course__number']}-{g['section__number']}",
                    "course": g["section__course_id"],
                    "course_name": g["section__course__name"],
                    "grading_task": g["grading_task_id"],
                    "grading_task_name": g["grading_task__name"],
                    "score": g["score"] or row.score,
                    "percent": g["percent"],
                    "source": g["source"],
                },
            )
        )
    keyed.sort(key=lambda kr: kr[0])
    out = [row for _, row in keyed]
    return out
