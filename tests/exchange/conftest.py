"""A small KTS world: one HS (quarters) and one tech school (semesters), linked sections."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from exchange.models import KtsLink
from grading.models import CTE_FINAL, CTE_TERM, CourseTaskTerm, Grade
from schools.models import SchoolKind
from tests.factories import (
    CalendarFactory,
    CourseFactory,
    EnrollmentFactory,
    RosterFactory,
    SchoolFactory,
    SectionFactory,
    StudentFactory,
    cte_task,
    quarters,
    semesters,
    setup_cte_tasks,
)

AS_OF = dt.date(2026, 9, 15)


@dataclass
class World:
    hs_school: object
    tech_school: object
    hs_section: object
    tech_section: object
    hs_terms: list
    tech_terms: list
    hs_tasks: dict
    tech_tasks: dict
    students: list = field(default_factory=list)

    def add_students(self, n: int) -> list:
        new = []
        for _ in range(n):
            student = StudentFactory()
            EnrollmentFactory(student=student, calendar=self.hs_section.course.calendar)
            RosterFactory(student=student, section=self.hs_section)
            new.append(student)
        self.students += new
        return new

    def activate(self, course_task, term) -> None:
        """Make ``term`` the only active term of ``course_task`` (None: no active term)."""
        CourseTaskTerm.objects.filter(course_task=course_task).update(active=False)
        if term is not None:
            CourseTaskTerm.objects.filter(course_task=course_task, term=term).update(active=True)

    def post_tech_grade(self, student, percent, *, term=None, code=CTE_TERM) -> Grade:
        """A tech teacher's grade (posted straight into the table: the grading work owns
        posting; the exchange only reads it)."""
        term = term or self.tech_terms[0]
        grade, _ = Grade.objects.update_or_create(
            student=student,
            section=self.tech_section,
            grading_task=cte_task(code),
            term=term,
            defaults={"percent": Decimal(percent), "score": ""},
        )
        return grade

    def hs_grades(self, code=CTE_TERM):
        return Grade.objects.filter(section=self.hs_section, grading_task=cte_task(code))


def build_world(*, hs_school=None, tech_school=None, tech_section=None) -> World:
    hs_school = hs_school or SchoolFactory(kind=SchoolKind.HIGH_SCHOOL)
    hs_cal = CalendarFactory(school=hs_school)
    hs_terms = quarters(hs_cal)
    hs_course = CourseFactory(calendar=hs_cal, is_kts=True)
    hs_tasks = setup_cte_tasks(hs_course, active_term=hs_terms[0])
    if tech_section is None:
        tech_school = tech_school or SchoolFactory(kind=SchoolKind.TECHNICAL_SCHOOL)
        tech_cal = CalendarFactory(school=tech_school)
        tech_terms = semesters(tech_cal)
        tech_course = CourseFactory(calendar=tech_cal, is_kts=True)
        tech_tasks = setup_cte_tasks(tech_course, active_term=tech_terms[0])
        tech_section = SectionFactory(course=tech_course)
    else:
        tech_school = tech_section.course.calendar.school
        tech_terms = list(tech_section.course.calendar.terms.order_by("seq"))
        tech_tasks = {t.grading_task.code: t for t in tech_section.course.course_tasks.all()}
    hs_section = SectionFactory(course=hs_course)
    KtsLink.objects.create(hs_section=hs_section, tech_section=tech_section)
    return World(
        hs_school=hs_school,
        tech_school=tech_school,
        hs_section=hs_section,
        tech_section=tech_section,
        hs_terms=hs_terms,
        tech_terms=tech_terms,
        hs_tasks=hs_tasks,
        tech_tasks=tech_tasks,
    )


@pytest.fixture
def world(db) -> World:
    w = build_world()
    w.add_students(3)
    return w


@pytest.fixture
def sync_q(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    return settings


__all__ = ["AS_OF", "CTE_FINAL", "CTE_TERM", "World", "build_world"]
