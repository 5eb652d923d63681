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

from django.db.models import FilteredRelation, OuterRef, Q, Subquery
from django.utils import timezone

from exchange import bulk
from exchange.flows import outcome
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
    # Tuples, not values() dicts: a quiet night reads tens of thousands of unchanged rows.
    tech_grades = list(
        Grade.objects.filter(section_id__in=list(links), grading_task__code__in=CTE_CODES)
        .order_by("id")
        .values_list(
            "id",
            "student_id",
            "section_id",
            "grading_task_id",
            "term_id",
            "percent",
        )
    )
    # The tech terms' dates from the few terms themselves, not joined onto every grade row.
    tech_terms = {
        term_id: (start, end)
        for term_id, start, end in Term.objects.filter(pk__in={g[4] for g in tech_grades})
        .order_by()
        .values_list("id", "start_date", "end_date")
    }
    # The per-record lookups below go by student id within one HS section (or HS grade
    # key): an int key hashes faster than a tuple built per record.
    # Spans as tuples, not lists: the garbage collector untracks tuples of dates, so a
    # school's rosters do not make it rescan the heap.
    rosters: dict[int, dict[int, tuple[tuple, ...]]] = defaultdict(dict)
    for student_id, section_id, start, end in (
        Roster.objects.filter(section_id__in=hs_ids)
        .order_by()
        .values_list("student_id", "section_id", "start_date", "end_date")
    ):
        section_rosters = rosters[section_id]
        section_rosters[student_id] = section_rosters.get(student_id, ()) + ((start, end),)

    # The HS courses' CTE tasks, each with its active term (none: NULLs) in one query.
    course_tasks: dict[tuple[int, int], tuple[int, int]] = {}
    active: dict[int, list[tuple[int, dt.date, dt.date]]] = defaultdict(list)
    for ct_id, course_id, task_id, group_id, term_id, start, end in (
        CourseGradingTask.objects.filter(
            grading_task__code__in=CTE_CODES,
            course_id__in={course_id for pairs in links.values() for _, course_id in pairs},
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
        course_tasks[(course_id, task_id)] = (ct_id, group_id)
        if term_id is not None:
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
    existing: dict[tuple[int, int, int], dict[int, tuple]] = defaultdict(dict)
    for grade_id, student_id, section_id, task_id, term_id, percent, score in (
        # Task ids, not a join to the task table (which plans a nested loop per grade row);
        # only the HS courses' CTE tasks can be a grade's target.
        Grade.objects.filter(
            grading_task_id__in={task_id for _, task_id in course_tasks},
            term_id__in=[t[0] for terms in active.values() for t in terms],
            section_id__in=hs_ids,
        )
        .order_by()
        .values_list(
            "id", "student_id", "section_id", "grading_task_id", "term_id", "percent", "score"
        )
    ):
        existing[(section_id, task_id, term_id)][student_id] = (grade_id, percent, score)

    targets: dict[tuple[int, int, int], set[int]] = defaultdict(set)  # students written
    score_cache: dict[int, dict] = defaultdict(dict)  # score group -> percent -> row

    def candidate(hs_id: int, course_id: int, task_id: int, t_start, t_end) -> tuple:
        """The HS side of (HS section, task, tech term): its rosters by student, then a
        skip reason, or the HS active term and what deciding a grade there needs."""
        section_rosters = rosters.get(hs_id, {})
        ct = course_tasks.get((course_id, task_id))
        if ct is None:
            return hs_id, section_rosters, Reason.NO_HS_TASK
        terms = active.get(ct[0], [])
        if len(terms) != 1:
            return hs_id, section_rosters, Reason.NO_ACTIVE_TERM
        term_id, h_start, h_end = terms[0]
        if not (t_start <= h_start and h_end <= t_end):
            return hs_id, section_rosters, Reason.TERM_OUT_OF_RANGE
        key = (hs_id, task_id, term_id)
        return (
            hs_id,
            section_rosters,
            "",
            term_id,
            h_start,
            h_end,
            rows_by_group.get(ct[1], []),
            score_cache[ct[1]],
            existing.get(key, {}),
            targets[key],
        )

    # Many grades share one tech section, task and term: find their HS sections and decide
    # each HS setup once; many share one percent on a score group: translate it once.
    candidates: dict[tuple[int, int, int], list[tuple]] = {}
    outcomes: list[dict[str, Any]] = []
    writes: list[tuple[dict, Grade, tuple | None]] = []  # (outcome, new grade, old values)
    grades_flow, skipped, unchanged = Flow.GRADES, Action.SKIPPED, Action.UNCHANGED
    for (
        grade_id,
        student_id,
        tech_section_id,
        task_id,
        tech_term_id,
        percent,
    ) in tech_grades:
        group_key = (tech_section_id, task_id, tech_term_id)
        cands = candidates.get(group_key)
        if cands is None:
            t_start, t_end = tech_terms[tech_term_id]
            cands = candidates[group_key] = [
                candidate(hs_id, course_id, task_id, t_start, t_end)
                for hs_id, course_id in links[tech_section_id]
            ]
        rostered = False
        for cand in cands:
            spans = cand[1].get(student_id)
            if spans is None:
                continue
            rostered = True
            hs_id, reason, message = cand[0], cand[2], ""
            if not reason:
                _, _, _, term_id, h_start, h_end, rows, by_percent, olds, written = cand
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
            if old is not None and old[1] == percent and old[2] == row.score:
                outcomes.append(  # the common case on a quiet night: outcome()'s dict, inline
                    {
                        "flow": grades_flow,
                        "action": unchanged,
                        "reason": "",
                        "student_id": student_id,
                        "hs_section_id": hs_id,
                        "source_id": grade_id,
                        "target_id": old[0],
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
                target_id=old[0] if old else None,
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

    if writes and not dry_run:
        _write(writes, run_id=run_id)
    return outcomes


def _write(writes: list[tuple[dict, Grade, tuple | None]], *, run_id: int) -> None:
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
    # A correction reason matters where the HS grade changes, not where it first arrives.
    reasons = _latest_reasons({g.source_grade_id for _, g, old in writes if old})
    history = []
    for o, g, old in writes:
        grade_id = g.pk if g.pk is not None else (old[0] if old else None)
        o["target_id"] = grade_id
        history.append(
            GradeHistory(
                grade_id=grade_id,
                changed_at=now,
                source=GradeSource.EXCHANGE,
                run_id=run_id,
                old_score=old[2] if old else "",
                old_percent=old[1] if old else None,
                new_score=g.score,
                new_percent=g.percent,
                reason=reasons.get(g.source_grade_id, ""),
            )
        )
    bulk.insert(history)
    # R34: a posted transcript line whose final grade the exchange changed awaits review.
    transcript_lines_flag_changed(grade_ids=[old[0] for _, _, old in writes if old])


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
