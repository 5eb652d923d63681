"""Reads of the exchange: readiness (R38) and run summaries for the dashboard."""

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from exchange.models import ExchangeOutcome, ExchangeRun, KtsLink
from grading.models import (
    CTE_CODES,
    CTE_FINAL,
    CTE_NUMERIC,
    CTE_TERM,
    CourseGradingTask,
    CourseTaskTerm,
    GradingTask,
    ScoreRow,
)
from grading.scoring import rows_of, thresholds
from schools.models import School, Term


def _school_year_of(day: dt.date) -> int:
    return day.year + 1 if day.month >= 7 else day.year


def readiness_report(*, school: School, as_of: dt.date | None = None) -> list[dict[str, Any]]:
    """R38: every linked section of ``school`` (HS or tech) whose setup would make grades
    skip tonight, with what to fix. Checks, per CTE task the tech course posts on (only while
    the tech course task has an active term, since nothing posts otherwise): the HS course
    has the task, exactly one active HS term, that term lies inside the tech active term, and
    the HS score group's Min % column matches CTE Numeric's (R6). Also, on either side of a
    link, a CTE Term Grade whose term mask misses a term of its calendar (R9; a term added
    after setup). A handful of queries, whatever the number of links.
    """
    year = _school_year_of(as_of or timezone.localdate())
    links = list(
        KtsLink.objects.filter(
            Q(hs_section__course__calendar__school=school)
            | Q(tech_section__course__calendar__school=school),
            hs_section__course__calendar__school_year=year,
        )
        .select_related(
            "hs_section__course__calendar__school", "tech_section__course__calendar__school"
        )
        .order_by("tech_section_id", "hs_section_id")
    )
    if not links:
        return []
    course_ids = {link.hs_section.course_id for link in links} | {
        link.tech_section.course_id for link in links
    }
    tasks = {
        (ct.course_id, ct.grading_task.code): ct
        for ct in CourseGradingTask.objects.filter(
            course_id__in=course_ids, grading_task__code__in=CTE_CODES
        ).select_related("grading_task", "score_group")
    }
    active: dict[int, list[Term]] = defaultdict(list)
    for ctt in CourseTaskTerm.objects.filter(
        course_task__in=[ct.pk for ct in tasks.values()], active=True
    ).select_related("term"):
        active[ctt.course_task_id].append(ctt.term)
    rows: dict[int, list[ScoreRow]] = defaultdict(list)
    for row in ScoreRow.objects.filter(
        Q(group_id__in={ct.score_group_id for ct in tasks.values()})
        | Q(group__name=CTE_NUMERIC, group__district__isnull=True)
    ).select_related("group"):
        rows[row.group_id].append(row)
    numeric = next(
        (
            thresholds(rows_of(r))
            for g, r in rows.items()
            if r and r[0].group.name == CTE_NUMERIC and r[0].group.district_id is None
        ),
        [],
    )
    task_names = dict(GradingTask.objects.filter(code__in=CTE_CODES).values_list("code", "name"))
    # R9: the CTE Term Grade's term mask against every term of its course's calendar.
    term_tasks = [ct for (_, code), ct in tasks.items() if code == CTE_TERM]
    masked: dict[int, set[int]] = defaultdict(set)
    for course_task_id, term_id in CourseTaskTerm.objects.filter(
        course_task__in=[ct.pk for ct in term_tasks]
    ).values_list("course_task_id", "term_id"):
        masked[course_task_id].add(term_id)
    calendar_terms: dict[int, list[Term]] = defaultdict(list)
    for term in Term.objects.filter(
        calendar_id__in={link.hs_section.course.calendar_id for link in links}
        | {link.tech_section.course.calendar_id for link in links}
    ).order_by("seq"):
        calendar_terms[term.calendar_id].append(term)

    report: list[dict[str, Any]] = []
    for link in links:
        hs_course, tech_course = link.hs_section.course, link.tech_section.course

        def problem(text: str, fix: str, code: str, link: KtsLink = link) -> None:
            report.append(
                {
                    "hs_section": link.hs_section_id,
                    "tech_section": link.tech_section_id,
                    "hs_section_name": str(link.hs_section),
                    "tech_section_name": str(link.tech_section),
                    "hs_school": link.hs_section.course.calendar.school.name,
                    "tech_school": link.tech_section.course.calendar.school.name,
                    "code": code,
                    "problem": text,
                    "fix": fix,
                }
            )

        for side, course in (("HS", hs_course), ("Tech", tech_course)):
            term_task = tasks.get((course.pk, CTE_TERM))
            if term_task is None:
                continue
            name = task_names.get(CTE_TERM, CTE_TERM)
            for term in calendar_terms.get(course.calendar_id, []):
                if term.pk not in masked[term_task.pk]:
                    problem(
                        f"{name} on {side} course {course.number} does not cover term "
                        f"{term.name} of its calendar.",
                        f"Add {term.name} to {name}'s term mask on course {course.number}.",
                        "term_mask_incomplete",
                    )

        codes = [c for c in CTE_CODES if (tech_course.pk, c) in tasks] or [CTE_TERM, CTE_FINAL]
        for code in codes:
            name = task_names.get(code, code)
            tech_task = tasks.get((tech_course.pk, code))
            tech_terms = active.get(tech_task.pk, []) if tech_task else []
            if len(tech_terms) != 1:
                continue  # the tech school is not posting on this task now
            tt = tech_terms[0]
            hs_task = tasks.get((hs_course.pk, code))
            if hs_task is None:
                problem(
                    f"HS course {hs_course.number} has no {name} task.",
                    f"Add {name} to the grading tasks of course {hs_course.number} (score "
                    f"group CTE Numeric, every term in the term mask).",
                    "no_hs_task",
                )
                continue
            hs_terms = active.get(hs_task.pk, [])
            if not hs_terms:
                problem(
                    f"{name} on HS course {hs_course.number} has no active term.",
                    f"Mark the HS term inside {tt.name} ({tt.start_date} to {tt.end_date}) "
                    f"active for {name}.",
                    "no_active_term",
                )
            elif len(hs_terms) > 1:
                problem(
                    f"{name} on HS course {hs_course.number} has more than one active term.",
                    "Leave only one term active for this task.",
                    "no_active_term",
                )
            elif not tt.contains(hs_terms[0]):
                th = hs_terms[0]
                problem(
                    f"HS active term {th.name} ({th.start_date} to {th.end_date}) lies outside "
                    f"the tech active term {tt.name} ({tt.start_date} to {tt.end_date}).",
                    f"Make the HS term inside {tt.name} the active term of {name} (and clear "
                    f"{th.name}).",
                    "term_out_of_range",
                )
            hs_rows = rows.get(hs_task.score_group_id, [])
            if thresholds(rows_of(hs_rows)) != numeric:
                problem(
                    f"Score group {hs_task.score_group.name} of {name} on HS course "
                    f"{hs_course.number} does not match CTE Numeric's Min % column.",
                    "Use CTE Numeric, or a district group with Min % 90/80/70/60/0 in that order.",
                    "score_untranslatable",
                )
    return report


def runs_for_dashboard(*, limit: int = 30) -> list[ExchangeRun]:
    return list(ExchangeRun.objects.order_by("-created_at", "-id")[:limit])


def skipped_outcomes(*, run: ExchangeRun) -> QuerySet[ExchangeOutcome]:
    return (
        ExchangeOutcome.objects.filter(run=run, action="skipped")
        .select_related("tech_school", "student", "hs_section__course")
        .order_by("flow", "reason", "id")
    )
