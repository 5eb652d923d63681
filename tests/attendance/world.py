"""A small KTS world for the attendance tests: one HS, one tech school, a linked pair of
sections, students rostered in both, and the default attendance codes at both schools."""

import datetime as dt
from dataclasses import dataclass, field

from attendance.models import AttendanceCode
from attendance.services.codes import attendance_codes_ensure_defaults
from exchange.models import KtsLink
from schools.models import SchoolKind, Section, StaffRole
from tests.factories import (
    YEAR,
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
)

MONDAY = dt.date(2026, 11, 16)
TUESDAY = dt.date(2026, 11, 17)
BEFORE_TERMS = dt.date(2026, 8, 3)  # before the calendars start: no term holds it


@dataclass
class World:
    hs: object
    tech: object
    hs_section: Section
    tech_section: Section
    students: list
    teacher: object
    hs_calendar: object = None
    tech_calendar: object = None
    codes: dict = field(default_factory=dict)

    def code(self, school, code: str) -> AttendanceCode:
        return AttendanceCode.objects.get(school=school, code=code)


def add_student(world: World, *, hs_roster=True, tech_roster=True):
    student = StudentFactory()
    EnrollmentFactory(student=student, calendar=world.hs_calendar, service_type="primary")
    EnrollmentFactory(student=student, calendar=world.tech_calendar, service_type="secondary")
    if hs_roster:
        RosterFactory(student=student, section=world.hs_section)
    if tech_roster:
        RosterFactory(student=student, section=world.tech_section)
    world.students.append(student)
    return student


def build_world(n_students: int = 3, *, sync: bool = True) -> World:
    hs = SchoolFactory(kind=SchoolKind.HIGH_SCHOOL, unknown_attendance_sync=sync)
    tech = SchoolFactory(kind=SchoolKind.TECHNICAL_SCHOOL, name="Area Tech Center")
    hs_cal = CalendarFactory(school=hs, school_year=YEAR)
    tech_cal = CalendarFactory(school=tech, school_year=YEAR)
    quarters(hs_cal)
    semesters(tech_cal)
    teacher = UserFactory()
    StaffRole.objects.create(user=teacher, role="teacher", school=tech)  # R41
    hs_section = SectionFactory(course=CourseFactory(calendar=hs_cal, is_kts=True))
    tech_section = SectionFactory(
        course=CourseFactory(calendar=tech_cal, is_kts=True), teachers=[teacher]
    )
    KtsLink.objects.create(hs_section=hs_section, tech_section=tech_section)
    attendance_codes_ensure_defaults(schools=[hs, tech])
    world = World(
        hs=hs,
        tech=tech,
        hs_section=hs_section,
        tech_section=tech_section,
        students=[],
        teacher=teacher,
        hs_calendar=hs_cal,
        tech_calendar=tech_cal,
    )
    for _ in range(n_students):
        add_student(world)
    return world
