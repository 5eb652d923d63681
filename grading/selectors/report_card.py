"""Report cards (R32): one student, or every student of a HS for a term.

Both read the same way, in a constant number of queries whatever the number of students
or sections: rosters, grades, sections (with the linked tech school's name), teachers,
course tasks and score rows, tiers, students.
"""

import functools
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypedDict

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q, QuerySet

from grading.models import CourseGradingTask, Grade, ScoreRow
from grading.selectors.cache import versioned
from grading.selectors.gpa import term_results
from schools.access import sql
from schools.models import (
    Calendar,
    Enrollment,
    Roster,
    School,
    SchoolKind,
    Section,
    Student,
    Term,
)


def check_report_term(*, term: Term, school: School | None = None) -> None:
    """R32/R31/R33: reports are per HS; refuse a tech term or a term of another school."""
    term_school = term.calendar.school
    if term_school.kind != SchoolKind.HIGH_SCHOOL:
        raise ValidationError(
            {
                "term": ValidationError(
                    "Choose a term of a high school; report cards and honor roll are the HS's.",
                    code="term_not_at_high_school",
                )
            }
        )
    if school is not None and term_school.pk != school.pk:
        raise ValidationError(
            {
                "term": ValidationError(
                    f"Choose a term of {school.name}; this term belongs to {term_school.name}.",
                    code="term_of_other_school",
                )
            }
        )


def check_student_in_term(*, student: Student, term: Term) -> None:
    """The student must be enrolled at the term's school in that school year."""
    if not Enrollment.objects.filter(student_id=student.pk, calendar_id=term.calendar_id).exists():
        raise ValidationError(
            {
                "term": ValidationError(
                    f"The student is not enrolled at {term.calendar.school.name} in "
                    f"{term.calendar.school_year}; choose a term of the student's own high school.",
                    code="student_not_enrolled",
                )
            }
        )


def term_with_school(term_id: int) -> Term | None:
    """Term ``term_id`` with its calendar and school, as ``select_related("calendar__school")``
    reads them, or None. Plain SQL (``schools.access.sql``): the reports read it on every
    request."""
    with connection.cursor() as cursor:
        cursor.execute(_term_sql(), [term_id])
        row = cursor.fetchone()
    if row is None:
        return None
    n_term, n_calendar = sql.width(Term), sql.width(Calendar)
    term = sql.from_row(Term, row[:n_term])
    calendar = sql.from_row(Calendar, row[n_term : n_term + n_calendar])
    calendar.school = sql.from_row(School, row[n_term + n_calendar :])
    term.calendar = calendar
    return term


@functools.cache  # a query text; the models and the database do not change
def _term_sql() -> str:
    col, table = sql.quoted_column, sql.quoted_table
    return (
        f"SELECT {sql.columns(Term, 't')}, {sql.columns(Calendar, 'c')},"
        f" {sql.columns(School, 's')} FROM {table(Term)} t"
        f" JOIN {table(Calendar)} c ON c.{col(Calendar)} = t.{col(Term, 'calendar')}"
        f" JOIN {table(School)} s ON s.{col(School)} = c.{col(Calendar, 'school')}"
        f" WHERE t.{col(Term)} = %s"
    )


@functools.cache
def _teachers_sql(count: int) -> str:
    through = Section.teachers.through
    user_model = get_user_model()
    col, table = sql.quoted_column, sql.quoted_table
    login = col(user_model, user_model.USERNAME_FIELD)
    return (
        f"SELECT st.{col(through, 'section')}, u.{col(user_model)},"
        f" u.{col(user_model, 'first_name')}, u.{col(user_model, 'last_name')}, u.{login}"
        f" FROM {table(through)} st"
        f" JOIN {table(user_model)} u ON u.{col(user_model)} = st.{col(through, 'user')}"
        f" WHERE st.{col(through, 'section')} IN ({', '.join(['%s'] * count)})"
    )


def section_teachers(section_ids: Collection[int]) -> dict[int, list[tuple[int, str]]]:
    """(user id, display name) of each section's teachers, by name. One query (plain SQL:
    the report card API reads it on every request)."""
    ids = sorted({int(i) for i in section_ids})
    out: dict[int, list[tuple[int, str]]] = defaultdict(list)
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_teachers_sql(len(ids)), ids)
        rows = cursor.fetchall()
    for sid, uid, first, last, login in rows:
        # The user's get_full_name() or get_username(), without a model instance per user.
        out[sid].append((uid, f"{first} {last}".strip() or str(login)))
    return {sid: sorted(people, key=lambda p: p[1]) for sid, people in out.items()}


def _term_rosters(term: Term) -> QuerySet[Roster]:
    """The rosters of the term's school year that overlap the term."""
    # No Meta.ordering on these reads (its joins and sorts); callers order what they need.
    return (
        Roster.objects.filter(
            section__course__calendar_id=term.calendar_id, start_date__lte=term.end_date
        )
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=term.start_date))
        .order_by()
    )


def _term_grades(term: Term) -> QuerySet[Grade]:
    return Grade.objects.filter(term_id=term.pk, section__course__calendar_id=term.calendar_id)


def report_card_student_ids(*, term: Term) -> list[int]:
    """R32: the students of ``report_cards(term=term)``, in the same order (by name), without
    building their cards: one query (a batch fixes its students and order with it)."""
    with_cards = Q(id__in=_term_rosters(term).values("student_id")) | Q(
        id__in=_term_grades(term).values("student_id")
    )
    return list(
        Student.objects.filter(with_cards)
        .order_by("last_name", "first_name", "id")
        .values_list("id", flat=True)
    )


def report_cards(
    *,
    term: Term,
    student_ids: Iterable[int] | None = None,
    students: Sequence[Student] | None = None,
    scales: bool = True,
    grade_levels: Mapping[int, str] | None = None,
) -> list[dict[str, Any]]:
    """R32: the report cards of ``term`` for ``student_ids`` (default: every student with a
    roster or a grade in the term at its school), ordered by student name.

    Each card: ``{student, term, school, sections: [{section, course, teachers,
    tech_school, grades: [{grading_task, score, percent}]}], gpa, honor_roll}``
    (``teachers`` are user ids, ``teacher_names`` their names); ``gpa`` is
    a Decimal or None, ``honor_roll`` a tier name or None. ``students`` (the rows of
    ``student_ids``, already read) and ``grade_levels`` save their queries; ``scales=False``
    leaves out the grading scales (the API does not show them).
    """
    school = term.calendar.school
    if students is not None:
        student_ids = [s.pk for s in students]
    ids = None if student_ids is None else list(student_ids)

    rosters = _term_rosters(term)
    grades = _term_grades(term)
    if ids is not None:
        rosters = rosters.filter(student_id__in=ids)
        grades = grades.filter(student_id__in=ids)

    sections_of: dict[int, set[int]] = defaultdict(set)
    for student_id, section_id in rosters.values_list("student_id", "section_id"):
        sections_of[student_id].add(section_id)
    grades_of: dict[tuple[int, int], list[GradeCell]] = defaultdict(list)
    for student_id, section_id, task_id, task_name, score, percent in grades.order_by(
        "grading_task__name"
    ).values_list(
        "student_id", "section_id", "grading_task_id", "grading_task__name", "score", "percent"
    ):
        sections_of[student_id].add(section_id)
        grades_of[(student_id, section_id)].append(
            {
                "grading_task": task_id,
                "grading_task_name": task_name,
                "score": score,
                "percent": percent,
            }
        )

    all_sections: set[int] = set().union(*sections_of.values()) if sections_of else set()
    sections = {
        row[0]: row
        for row in Section.objects.filter(id__in=all_sections)
        .order_by()
        .values_list(
            "id",
            "number",
            "course_id",
            "course__number",
            "course__name",
            "kts_link__tech_section__course__calendar__school__name",
        )
    }
    teachers = section_teachers(all_sections)
    standings = term_results(term=term)  # cached per school and term (exact)
    wanted = list(sections_of) if ids is None else ids
    if students is None:
        students = list(
            Student.objects.filter(id__in=wanted).order_by("last_name", "first_name", "id")
        )
    if grade_levels is None:
        grade_levels = dict(
            Enrollment.objects.filter(calendar_id=term.calendar_id, student_id__in=wanted)
            .order_by("service_type", "start_date")
            .values_list("student_id", "grade_level")
            .reverse()
        )
    scale_of, scales_of_course = _calendar_scales(term) if scales else ({}, {})

    cards = []
    for student in students:
        rows: list[dict[str, Any]] = []
        for sid in sorted(
            sections_of.get(student.pk, ()), key=lambda i: (sections[i][3], sections[i][1])
        ):
            _, number, course_id, course_number, course_name, tech_school = sections[sid]
            people = teachers.get(sid, [])
            rows.append(
                {
                    "section": sid,
                    "section_name": f"{course_number}-{number}",
                    "course": course_id,
                    "course_number": course_number,
                    "course_name": course_name,
                    "teachers": [uid for uid, _ in people],
                    "teacher_names": [name for _, name in people],
                    "tech_school": tech_school,
                    "grades": grades_of.get((student.pk, sid), []),
                }
            )
        standing = standings.get(student.pk)
        cards.append(
            {
                "student": student,
                "term": term,
                "school": school,
                "sections": rows,
                "gpa": standing.gpa if standing else None,
                "honor_roll": standing.tier if standing else None,
                "incomplete": bool(standing and standing.incomplete),
                "grade_level": grade_levels.get(student.pk, ""),
                "scales": [
                    scale_of[group_id]
                    for group_id in sorted(
                        {g for r in rows for g in scales_of_course.get(r["course"], ())}
                    )
                    if group_id in scale_of
                ],
            }
        )
    return cards


class GradeCell(TypedDict):
    grading_task: int
    grading_task_name: str
    score: str
    percent: Decimal | None


Scales = tuple[dict[int, dict[str, Any]], dict[int, set[int]]]


def _calendar_scales(term: Term) -> Scales:
    """R32: the grading scale (rows, highest first) of every score group used by the
    courses of the term's calendar, and the score groups of each course; cached under the
    versions of the school's data (exact). Shared: do not change the answer."""
    return versioned(
        "scales",
        school_id=int(term.calendar.school_id),
        parts=(term.calendar_id,),
        compute=lambda: _scales(calendar_id=term.calendar_id),
    )


def _scales(*, calendar_id: int) -> Scales:
    """Two queries."""
    scales_of_course: dict[int, set[int]] = {}
    names: dict[int, str] = {}
    for course_id, group_id, name in (
        CourseGradingTask.objects.filter(course__calendar_id=calendar_id)
        .order_by()
        .values_list("course_id", "score_group_id", "score_group__name")
    ):
        scales_of_course.setdefault(course_id, set()).add(group_id)
        names[group_id] = name
    out: dict[int, dict[str, Any]] = {
        gid: {"name": name, "rows": []} for gid, name in sorted(names.items())
    }
    for row in ScoreRow.objects.filter(group_id__in=list(names)).order_by(
        "group_id", "-min_percent"
    ):
        out[row.group_id]["rows"].append(row)
    return out, scales_of_course


def report_card(*, student: Student, term: Term, scales: bool = True) -> dict[str, Any]:
    """R32: one student's report card for ``term`` (refuses a term the student has no
    enrollment in, with code ``student_not_enrolled``)."""
    check_report_term(term=term)
    # One read of the student's enrollments of the year: the check and the grade level.
    enrollments = list(
        Enrollment.objects.filter(student_id=student.pk, calendar_id=term.calendar_id)
        .order_by("service_type", "start_date")
        .values_list("grade_level", flat=True)
    )
    if not enrollments:
        check_student_in_term(student=student, term=term)  # raises, with its message
    return report_cards(
        term=term,
        students=[student],
        scales=scales,
        grade_levels={student.pk: enrollments[0]},  # as report_cards picks it
    )[0]
