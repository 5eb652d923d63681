"""Fixtures for grade posting tests: a tech KTS section and a HS letter-grade section."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest

from grading.models import (
    CTE_FINAL,
    CTE_TERM,
    CourseGradingTask,
    CourseTaskTerm,
    GradingTask,
    ScoreGroup,
    ScoreRow,
)
from schools.models import SchoolKind, StaffRole
from tests.factories import (
    CalendarFactory,
    CourseFactory,
    EnrollmentFactory,
    RosterFactory,
    SchoolFactory,
    SectionFactory,
    StudentFactory,
    UserFactory,
    quarters,
    semesters,
    setup_cte_tasks,
)


def enroll_and_roster(section, *, count, service_type="primary", **roster_kwargs):
    students = StudentFactory.create_batch(count)
    calendar = section.course.calendar
    for student in students:
        EnrollmentFactory(student=student, calendar=calendar, service_type=service_type)
        RosterFactory(student=student, section=section, **roster_kwargs)
    return students


@pytest.fixture
def teacher(db):
    return UserFactory(username="teacher-a", email="teacher-a@example.org")


@pytest.fixture
def other_teacher(db):
    return UserFactory(username="teacher-b", email="teacher-b@example.org")


@pytest.fixture
def tech(db, teacher):
    """A tech school KTS section: CTE Term Grade active in S1, CTE Final Grade active in S2,
    three students rostered, ``teacher`` teaching it."""
    school = SchoolFactory(kind=SchoolKind.TECHNICAL_SCHOOL, name="Central ATC")
    calendar = CalendarFactory(school=school)
    s1, s2 = semesters(calendar)
    course = CourseFactory(calendar=calendar, is_kts=True, number="T100", name="Welding I")
    tasks = setup_cte_tasks(course, active_term=s1, final_active_term=s2)
    section = SectionFactory(course=course, teachers=[teacher])
    StaffRole.objects.create(user=teacher, role="teacher", school=school)
    students = enroll_and_roster(section, count=3, service_type="secondary")
    return SimpleNamespace(
        school=school,
        calendar=calendar,
        terms=[s1, s2],
        s1=s1,
        s2=s2,
        course=course,
        section=section,
        students=students,
        term_task=tasks[CTE_TERM].grading_task,
        final_task=tasks[CTE_FINAL].grading_task,
        course_tasks=tasks,
        teacher=teacher,
    )


@pytest.fixture
def letters(db, teacher):
    """A HS (non-KTS) section on a district letter group A/B/C/D/F, task active in Q1."""
    school = SchoolFactory(kind=SchoolKind.HIGH_SCHOOL, name="North High")
    calendar = CalendarFactory(school=school)
    q = quarters(calendar)
    group = ScoreGroup.objects.create(name="Letters", district=school.district)
    for score, minimum, passing, gpa in [
        ("A", 90, True, 4),
        ("B", 80, True, 3),
        ("C", 70, True, 2),
        ("D", 60, True, 1),
        ("F", 0, False, 0),
    ]:
        ScoreRow.objects.create(
            group=group,
            score=score,
            min_percent=Decimal(minimum),
            passing=passing,
            gpa_value=Decimal(gpa),
        )
    task = GradingTask.objects.create(name="Quarter Grade", district=school.district)
    course = CourseFactory(calendar=calendar, number="E101", name="English I")
    course_task = CourseGradingTask.objects.create(
        course=course, grading_task=task, score_group=group
    )
    CourseTaskTerm.objects.bulk_create(
        CourseTaskTerm(course_task=course_task, term=t, active=(t.seq == 1)) for t in q
    )
    section = SectionFactory(course=course, teachers=[teacher])
    StaffRole.objects.create(user=teacher, role="teacher", school=school)
    students = enroll_and_roster(section, count=2)
    return SimpleNamespace(
        school=school,
        q=q,
        q1=q[0],
        course=course,
        section=section,
        students=students,
        task=task,
        group=group,
        teacher=teacher,
    )


def days_ago(n: int) -> dt.datetime:
    from django.utils import timezone

    return timezone.now() - dt.timedelta(days=n)
