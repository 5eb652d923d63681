"""Teacher pages: my sections and the grade grid (R13-R16, R23, R15). Session login.

A teacher sees only their own sections (another section answers 404); a superuser sees all.
Every page runs a fixed number of queries whatever the roster size.
"""

from __future__ import annotations

from collections import defaultdict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Max, Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone

from grading.forms import GradeGrid, cte_order
from grading.models import CTE_FINAL, CourseTaskTerm, Grade, ScoreRow
from grading.selectors.stale import stale_sections
from grading.services.grade_checks import LINKED_SECTION_MESSAGE, GradeRowsError
from grading.services.grades import grade_post_bulk
from schools.access import may_write_section
from schools.models import Roster, School, Section

SECTIONS_PER_PAGE = 50


def _sections_for(user):
    sections = Section.objects.all() if user.is_superuser else user.sections.all()
    return sections.select_related("course__calendar__school")


def _active_columns(course_ids) -> list[CourseTaskTerm]:
    """The course tasks with an active term (R11), with their score group rows."""
    return list(
        CourseTaskTerm.objects.filter(course_task__course_id__in=course_ids, active=True)
        .select_related("course_task__grading_task", "course_task__score_group", "term")
        .prefetch_related(
            Prefetch("course_task__score_group__rows", queryset=ScoreRow.objects.order_by())
        )
    )


def _rostered_in(rosters, term) -> set[int]:
    return {
        r.student_id
        for r in rosters
        if r.start_date <= term.end_date and (r.end_date is None or r.end_date >= term.start_date)
    }


def _linked_ids(section_ids) -> set[int]:
    # R23: a HS section with a KTS link gets its grades from the exchange only.
    return set(
        Section.objects.filter(pk__in=section_ids, kts_link__isnull=False).values_list(
            "pk", flat=True
        )
    )


@login_required
def my_sections(request: HttpRequest) -> HttpResponse:
    """``/teacher/``: each section with its roster size, missing grades and last post.

    A superuser (every section of the state) gets a school filter (``?school=``) and pages
    of 50 sections; a teacher's own list is one page, unfiltered.
    """
    today = timezone.localdate()
    sections = _sections_for(request.user).order_by("course__number", "number", "pk")
    school_id, schools, page = None, None, None
    if request.user.is_superuser:
        raw = request.GET.get("school", "")
        school_id = int(raw) if raw.isascii() and raw.isdigit() else None
        if school_id is not None:
            sections = sections.filter(course__calendar__school_id=school_id)
        schools = School.objects.order_by("name").only("pk", "name")
        page = Paginator(sections, SECTIONS_PER_PAGE).get_page(request.GET.get("page"))
        sections = page.object_list
    sections = list(sections)
    ids = [s.pk for s in sections]
    columns = _active_columns({s.course_id for s in sections})
    by_course = defaultdict(list)
    for column in columns:
        by_course[column.course_task.course_id].append(column)
    rosters = defaultdict(list)
    for r in Roster.objects.filter(section_id__in=ids).only(
        "section_id", "student_id", "start_date", "end_date"
    ):
        rosters[r.section_id].append(r)
    posted = defaultdict(set)
    for section_id, task_id, term_id, student_id in Grade.objects.filter(
        section_id__in=ids, term_id__in={c.term_id for c in columns}
    ).values_list("section_id", "grading_task_id", "term_id", "student_id"):
        posted[(section_id, task_id, term_id)].add(student_id)
    last_posted = dict(
        Grade.objects.filter(section_id__in=ids)
        .values("section_id")
        .annotate(last=Max("modified_at"))
        .values_list("section_id", "last")
    )
    linked = _linked_ids(ids)
    rows = []
    for section in sections:
        section_rosters = rosters[section.pk]
        missing = 0
        for column in by_course[section.course_id]:
            expected = _rostered_in(section_rosters, column.term)
            done = posted[(section.pk, column.course_task.grading_task_id, column.term_id)]
            missing += len(expected - done)
        rows.append(
            {
                "section": section,
                "rostered": len({r.student_id for r in section_rosters if r.is_active_on(today)}),
                "missing": missing,
                "has_open_tasks": bool(by_course[section.course_id]),
                "last_posted_at": last_posted.get(section.pk),
                "linked": section.pk in linked,
            }
        )
    stale = stale_sections(
        as_of=today,
        school_id=school_id,
        teacher_id=None if request.user.is_superuser else request.user.pk,
    )
    return render(
        request,
        "grading/teacher_sections.html",
        {
            "rows": rows,
            "stale": stale,
            "today": today,
            "schools": schools,
            "school_id": school_id,
            "page": page,
        },
    )


def _build_grid(section: Section, data=None) -> GradeGrid:
    columns = sorted(_active_columns([section.course_id]), key=cte_order)
    rosters = []
    if columns:
        start = min(c.term.start_date for c in columns)
        end = max(c.term.end_date for c in columns)
        rosters = list(
            Roster.objects.filter(section=section, start_date__lte=end)
            .filter(Q(end_date__isnull=True) | Q(end_date__gte=start))
            .select_related("student")
        )
    students = sorted(
        {r.student_id: r.student for r in rosters}.values(),
        key=lambda s: (s.last_name, s.first_name, s.state_id),
    )
    rostered = {c.course_task_id: _rostered_in(rosters, c.term) for c in columns}
    term_filter = Q(pk__in=[])
    for c in columns:
        term_filter |= Q(grading_task_id=c.course_task.grading_task_id, term_id=c.term_id)
    grades = {
        (g.student_id, g.grading_task_id): g
        for g in Grade.objects.filter(term_filter, section=section)
    }
    return GradeGrid(
        columns=columns, students=students, rostered=rostered, grades=grades, data=data
    )


def _save_grid(request: HttpRequest, section: Section, grid: GradeGrid) -> int | None:
    """Post every column with ``grade_post_bulk`` in one transaction: the whole grid is
    saved or nothing is (R13). Returns how many grades were added or changed, or None."""
    saved = 0
    with transaction.atomic():
        for column in grid.columns:
            rows = grid.rows_for(column)
            if not rows:
                continue
            before = {
                sid: (g.percent, g.score)
                for (sid, task_id), g in grid.grades.items()
                if task_id == column.course_task.grading_task_id
            }
            try:
                grades = grade_post_bulk(
                    section=section,
                    grading_task=column.course_task.grading_task,
                    term=column.term,
                    rows=rows,
                    by=request.user,
                )
            except GradeRowsError as exc:
                grid.add_row_errors(column, rows, exc)
                continue
            except ValidationError as exc:
                grid.add_column_error(column, exc.messages)
                continue
            saved += sum(1 for g in grades if before.get(g.student_id) != (g.percent, g.score))
        if grid.has_errors:
            transaction.set_rollback(True)
            return None
    return saved


@login_required
def section_grades(request: HttpRequest, section_id: int) -> HttpResponse:
    """``/teacher/sections/<id>/grades/``: the grade grid for the active term's tasks."""
    section = get_object_or_404(_sections_for(request.user), pk=section_id)
    linked = bool(_linked_ids([section.pk]))
    # R42: the page saves only for users the API lets post grades on this section (a
    # teacher listed on the section without the teacher role at its school: 403).
    if request.method == "POST" and not may_write_section(
        request.user, Grade._meta.label, "bulk", section
    ):
        raise PermissionDenied("Your role may not make this change.")
    if request.method == "POST" and not linked:
        grid = _build_grid(section, data=request.POST)
        saved = _save_grid(request, section, grid)
        if saved is not None:
            messages.success(request, f"Saved {saved} grade{'' if saved == 1 else 's'}.")
            return redirect(request.path)
        messages.error(request, "Nothing was saved. Fix the marked cells and save again.")
    elif request.method == "POST":
        messages.error(request, LINKED_SECTION_MESSAGE)
        return redirect(request.path)
    else:
        grid = _build_grid(section)
    last_posted_at = Grade.objects.filter(section=section).aggregate(last=Max("modified_at"))[
        "last"
    ]
    return render(
        request,
        "grading/teacher_grades.html",
        {
            "section": section,
            "grid": grid,
            "table": grid.table(),
            "linked": linked,
            "linked_message": LINKED_SECTION_MESSAGE,
            "last_posted_at": last_posted_at,
            "score_groups": grid.score_groups_json(),
            "has_final": any(c.course_task.grading_task.code == CTE_FINAL for c in grid.columns),
        },
    )


urlpatterns = [
    path("teacher/", my_sections, name="teacher-sections"),
    path("teacher/sections/<int:section_id>/grades/", section_grades, name="teacher-grades"),
]
