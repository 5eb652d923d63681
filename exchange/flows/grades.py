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
from typing import Any

from django.utils import timezone

from exchange import bulk
from exchange.flows import outcome
from exchange.models import Action, Flow, KtsLink, Reason
from grading.models import (
    CTE_CODES,
    CourseGradingTask,
    CourseTaskTerm,
    Grade,
    GradeHistory,
    GradeSource,
    ScoreRow,
)
from grading.scoring import row_for_percent, rows_of
from schools.models import Roster

FIX = {
    Reason.NOT_ROSTERED: "Roster the student in the linked HS section, or remove the KTS link.",
    Reason.NO_HS_TASK: "Add this CTE task to the HS course's grading tasks.",
    Reason.NO_ACTIVE_TERM: "Mark exactly one term active for this CTE task on the HS course.",
    Reason.TERM_OUT_OF_RANGE: "Make the HS term that lies inside the tech term the active one.",
    Reason.SCORE_UNTRANSLATABLE: "Give the HS task a score group whose Min % column matches "
    "CTE Numeric, and post a percent at the tech school.",
}

GRADE_FIELDS = ("percent", "score", "source", "run_id", "source_grade", "modified_at")


def sync_grades(
    *, run_id: int, tech_school_id: int, as_of: dt.date, school_year: int, dry_run: bool
) -> list[dict[str, Any]]:
    """R19-R21: one outcome per tech CTE grade and linked HS section the student is rostered
    in (``not_rostered`` once, without a HS section, when the student is in none of them).
    """
    year = {
        "tech_section__course__calendar__school_id": tech_school_id,
        "tech_section__course__calendar__school_year": school_year,
    }
    links: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for hs_id, tech_id, hs_course_id in (
        KtsLink.objects.filter(**year)
        .order_by()
        .values_list("hs_section_id", "tech_section_id", "hs_section__course_id")
    ):
        links[tech_id].append((hs_id, hs_course_id))
    if not links:
        return []

    hs_ids = [hs_id for pairs in links.values() for hs_id, _ in pairs]
    # Small id lists (one school's linked sections) keep every read on an index, and
    # order_by() drops the models' default orderings, which would join half the schema.
    tech_grades = list(
        Grade.objects.filter(section_id__in=list(links), grading_task__code__in=CTE_CODES)
        .order_by("id")
        .values_list(
            "id",
            "student_id",
            "section_id",
            "grading_task_id",
            "percent",
            "term__start_date",
            "term__end_date",
        )
    )
    rosters: dict[tuple[int, int], list[tuple]] = defaultdict(list)
    for student_id, section_id, start, end in (
        Roster.objects.filter(section_id__in=hs_ids)
        .order_by()
        .values_list("student_id", "section_id", "start_date", "end_date")
    ):
        rosters[(student_id, section_id)].append((start, end))

    course_tasks = {
        (course_id, task_id): (ct_id, group_id)
        for ct_id, course_id, task_id, group_id in CourseGradingTask.objects.filter(
            grading_task__code__in=CTE_CODES,
            course_id__in={course_id for pairs in links.values() for _, course_id in pairs},
        )
        .order_by()
        .values_list("id", "course_id", "grading_task_id", "score_group_id")
    }
    active: dict[int, list[tuple[int, dt.date, dt.date]]] = defaultdict(list)
    for ct_id, term_id, start, end in (
        CourseTaskTerm.objects.filter(
            course_task_id__in=[v[0] for v in course_tasks.values()], active=True
        )
        .order_by()
        .values_list("course_task_id", "term_id", "term__start_date", "term__end_date")
    ):
        active[ct_id].append((term_id, start, end))
    groups = {group_id for _, group_id in course_tasks.values()}
    score_rows: dict[int, list] = defaultdict(list)
    for row in (
        ScoreRow.objects.filter(group_id__in=groups)
        .order_by()
        .values("group_id", "score", "min_percent", "passing", "gpa_value")
    ):
        score_rows[row["group_id"]].append(row)
    rows_by_group = {g: rows_of(rows) for g, rows in score_rows.items()}
    existing = {
        (g["student_id"], g["section_id"], g["grading_task_id"], g["term_id"]): g
        for g in Grade.objects.filter(
            grading_task__code__in=CTE_CODES,
            term_id__in=[t[0] for terms in active.values() for t in terms],
            section_id__in=hs_ids,
        )
        .order_by()
        .values(
            "id",
            "student_id",
            "section_id",
            "grading_task_id",
            "term_id",
            "percent",
            "score",
        )
    }

    def setup_for(hs_id: int, course_id: int, task_id: int, t_start, t_end):
        """The HS side of (HS section, task, tech term): a skip reason, or (Th, rows)."""
        ct = course_tasks.get((course_id, task_id))
        if ct is None:
            return Reason.NO_HS_TASK
        terms = active.get(ct[0], [])
        if len(terms) != 1:
            return Reason.NO_ACTIVE_TERM
        term_id, h_start, h_end = terms[0]
        if not (t_start <= h_start and h_end <= t_end):
            return Reason.TERM_OUT_OF_RANGE
        return term_id, h_start, h_end, rows_by_group.get(ct[1], [])

    # Many grades share one HS setup and one percent: decide each once.
    setups: dict[tuple, Any] = {}
    scores: dict[tuple, Any] = {}
    outcomes: list[dict[str, Any]] = []
    writes: list[tuple[dict, Grade, dict | None]] = []  # (outcome, new grade, old values)
    targets: set[tuple] = set()
    grades_flow, skipped = Flow.GRADES, Action.SKIPPED
    for grade_id, student_id, tech_section_id, task_id, percent, t_start, t_end in tech_grades:
        rostered = [
            (hs_id, course_id)
            for hs_id, course_id in links[tech_section_id]
            if (student_id, hs_id) in rosters
        ]
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
            continue
        for hs_id, course_id in rostered:
            setup_key = (hs_id, course_id, task_id, t_start, t_end)
            setup = setups.get(setup_key)
            if setup is None:
                setup = setups[setup_key] = setup_for(*setup_key)
            reason = message = ""
            if isinstance(setup, str):
                reason = setup
            else:
                term_id, h_start, h_end, rows = setup
                in_term = False
                for start, end in rosters[(student_id, hs_id)]:
                    if start <= h_end and (end is None or end >= h_start):
                        in_term = True  # rostered during the HS active term
                        break
                if not in_term:
                    reason = Reason.NOT_ROSTERED
                    message = "The student's HS roster does not cover the HS active term; "
                else:
                    score_key = (id(rows), percent)
                    row = scores.get(score_key, False)
                    if row is False:
                        row = scores[score_key] = (
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
            key = (student_id, hs_id, task_id, term_id)
            if key in targets:  # cannot happen with non-overlapping terms; never write twice
                continue
            targets.add(key)
            old = existing.get(key)
            if old is not None and old["percent"] == percent and old["score"] == row.score:
                outcomes.append(
                    {
                        "flow": grades_flow,
                        "action": Action.UNCHANGED,
                        "reason": "",
                        "student_id": student_id,
                        "hs_section_id": hs_id,
                        "source_id": grade_id,
                        "target_id": old["id"],
                        "message": "",
                    }
                )
                continue
            o = outcome(
                grades_flow,
                Action.UPDATED if old else Action.ADDED,
                student_id=student_id,
                hs_section_id=hs_id,
                source_id=grade_id,
                target_id=old["id"] if old else None,
                message=f"{row.score} ({percent}%)",
            )
            outcomes.append(o)
            writes.append(
                (
                    o,
                    Grade(
                        student_id=student_id,
                        section_id=hs_id,
                        grading_task_id=task_id,
                        term_id=term_id,
                        percent=percent,
                        score=row.score,
                        source=GradeSource.EXCHANGE,
                        run_id=run_id,
                        source_grade_id=grade_id,
                    ),
                    old,
                )
            )

    if writes and not dry_run:
        _write(writes, run_id=run_id)
    return outcomes


def _write(writes: list[tuple[dict, Grade, dict | None]], *, run_id: int) -> None:
    """One upsert on (student, section, task, term) and one bulk insert of history (R14)."""
    grades = [g for _, g, _ in writes]
    now = timezone.now()
    for g in grades:
        g.created_at = g.modified_at = now
    bulk.upsert(
        grades,
        unique_fields=["student", "section", "grading_task", "term"],
        update_fields=list(GRADE_FIELDS),
    )
    history = []
    for o, g, old in writes:
        grade_id = g.pk if g.pk is not None else (old or {}).get("id")
        o["target_id"] = grade_id
        history.append(
            GradeHistory(
                grade_id=grade_id,
                changed_at=now,
                source=GradeSource.EXCHANGE,
                run_id=run_id,
                old_score=old["score"] if old else "",
                old_percent=old["percent"] if old else None,
                new_score=g.score,
                new_percent=g.percent,
            )
        )
    bulk.insert(history)
