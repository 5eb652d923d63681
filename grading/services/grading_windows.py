"""R12: grading windows, and the daily job that applies them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from grading.models import CourseGradingTask, CourseTaskTerm, GradingTask, GradingWindow
from schools import versions
from schools.actors import Actor
from schools.errors import coded_error
from schools.models import School, Term
from schools.services.writes import model_save


def grading_window_validate(
    *,
    window: GradingWindow | None,
    school: School,
    term: Term,
    grading_tasks: Iterable[GradingTask],
    opens_on: dt.date | None,
    closes_on: dt.date | None,
) -> None:
    """R12: tasks of the school's district or the state; no overlap with another window
    of the same school that shares a task."""
    tasks = list(grading_tasks)
    if not tasks:
        raise coded_error(
            {"grading_tasks": "Choose the grading tasks this window opens."}, code="required"
        )
    if any(t.district_id not in (None, school.district_id) for t in tasks):
        raise coded_error(
            {"grading_tasks": "Choose grading tasks of this district or the state."},
            code="task_other_district",
        )
    if not (opens_on and closes_on) or opens_on > closes_on:
        return
    calendar = term.calendar
    if opens_on < calendar.start_date or closes_on > calendar.end_date:
        raise coded_error(
            {
                "opens_on": f"Choose dates inside the {calendar.school_year} school year "
                f"({calendar.start_date} to {calendar.end_date}) of {term.name}."
            },
            code="window_outside_school_year",
        )
    if closes_on < term.start_date or opens_on > term.end_date:
        raise coded_error(
            {
                "opens_on": f"Choose dates that overlap {term.name} ({term.start_date} to "
                f"{term.end_date}); this window would open no day of its term."
            },
            code="window_outside_term",
        )
    others = GradingWindow.objects.filter(
        school=school,
        opens_on__lte=closes_on,
        closes_on__gte=opens_on,
        grading_tasks__in=[t.pk for t in tasks],
    )
    if window is not None and window.pk is not None:
        others = others.exclude(pk=window.pk)
    clash = others.select_related("term").first()
    if clash:
        raise coded_error(
            {
                "opens_on": f"Change the dates or the tasks: the {clash.term.name} window "
                f"({clash.opens_on} to {clash.closes_on}) already covers one of these tasks."
            },
            code="windows_overlap",
        )


@transaction.atomic
def grading_window_save(
    *,
    window: GradingWindow | None,
    school: School,
    term: Term,
    grading_tasks: Iterable[GradingTask],
    opens_on: dt.date,
    closes_on: dt.date,
    by: Actor = None,
) -> GradingWindow:
    """Create or update a grading window (R12)."""
    tasks = list(grading_tasks)
    window = window or GradingWindow()
    model_save(instance=window, school=school, term=term, opens_on=opens_on, closes_on=closes_on)
    grading_window_validate(
        window=window,
        school=school,
        term=term,
        grading_tasks=tasks,
        opens_on=opens_on,
        closes_on=closes_on,
    )
    window.grading_tasks.set(tasks)
    return window


def _window_course_tasks(window: GradingWindow) -> QuerySet[CourseGradingTask, Any]:
    """The window's course tasks: its tasks, on the school's courses, with the term in the mask."""
    return CourseGradingTask.objects.filter(
        course__calendar__school_id=window.school_id,
        grading_task__in=window.grading_tasks.all(),
        mask__term_id=window.term_id,
    ).values("pk")


@transaction.atomic
def grading_window_apply_one(*, window: GradingWindow, today: dt.date) -> dict[str, int]:
    """R12 for one window: open -> the term is the only active term of the window's course
    tasks; closed -> the term is made inactive. Set-based; safe to run twice."""
    if today < window.opens_on:
        raise ValidationError(
            f"This window opens on {window.opens_on}; there is nothing to apply yet.",
            code="window_not_open",
        )
    course_tasks = _window_course_tasks(window)
    rows = CourseTaskTerm.objects.filter(course_task_id__in=course_tasks)
    if today <= window.closes_on:
        # Clear other active terms first: one active term per course task (R11).
        cleared = rows.filter(active=True).exclude(term_id=window.term_id).update(active=False)
        opened = rows.filter(term_id=window.term_id, active=False).update(active=True)
        result = {"activated": opened, "deactivated": cleared}
    else:
        closed = rows.filter(term_id=window.term_id, active=True).update(active=False)
        result = {"activated": 0, "deactivated": closed}
    GradingWindow.objects.filter(pk=window.pk).update(applied_at=timezone.now())
    if result["activated"] or result["deactivated"]:
        versions.bump_setup()  # issue 13: course-task terms are a cached report's input
    return result


def grading_window_apply(*, today: dt.date) -> dict[str, int]:
    """R12, the daily job: close the windows that have closed and not yet been closed, then
    open every window open today. One query set per window, never one per course.

    A window edited since it was last applied (e.g. shortened to a date already past) is
    closed again: ``applied_at`` is set by ``update()``, which leaves ``modified_at`` alone."""
    totals = {"windows": 0, "activated": 0, "deactivated": 0}
    to_close = GradingWindow.objects.filter(closes_on__lt=today).filter(
        Q(applied_at__isnull=True)
        | Q(applied_at__date__lte=F("closes_on"))
        | Q(modified_at__gt=F("applied_at"))
    )
    open_now = GradingWindow.objects.filter(opens_on__lte=today, closes_on__gte=today)
    for window in [*to_close.order_by("closes_on"), *open_now.order_by("opens_on")]:
        result = grading_window_apply_one(window=window, today=today)
        totals["windows"] += 1
        totals["activated"] += result["activated"]
        totals["deactivated"] += result["deactivated"]
    return totals
