"""Every write to schools' setup models (R1-R3): build, ``full_clean()``, save, atomically.

The admin's ModelForms and the API's CleanModelSerializer run the same ``full_clean()``;
these services are the path for code (imports, the exchange, the shell, tests).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, TypeVar

from django.db import models, transaction

from schools.models import (
    Calendar,
    Course,
    District,
    Enrollment,
    Roster,
    School,
    Section,
    StaffRole,
    Student,
    Term,
)

M = TypeVar("M", bound=models.Model)


@transaction.atomic
def model_save(*, instance: M, **fields: Any) -> M:
    """Set ``fields`` on ``instance``, validate it (model ``clean()`` and constraints), save."""
    for name, value in fields.items():
        setattr(instance, name, value)
    instance.full_clean()
    instance.save()
    return instance


def district_create(*, code: str, name: str) -> District:
    return model_save(instance=District(), code=code, name=name)


def school_create(
    *, district: District, code: str, name: str, kind: str, unknown_attendance_sync: bool = False
) -> School:
    """R1: a school belongs to a district and has a kind."""
    return model_save(
        instance=School(),
        district=district,
        code=code,
        name=name,
        kind=kind,
        unknown_attendance_sync=unknown_attendance_sync,
    )


def calendar_create(
    *, school: School, school_year: int, name: str, start_date: dt.date, end_date: dt.date
) -> Calendar:
    """R2: one calendar per school year; ``school_year`` is the year it ends."""
    return model_save(
        instance=Calendar(),
        school=school,
        school_year=school_year,
        name=name,
        start_date=start_date,
        end_date=end_date,
    )


def term_create(
    *, calendar: Calendar, name: str, seq: int, start_date: dt.date, end_date: dt.date
) -> Term:
    """R2: inside the calendar, no overlap, sequence order = date order."""
    return model_save(
        instance=Term(),
        calendar=calendar,
        name=name,
        seq=seq,
        start_date=start_date,
        end_date=end_date,
    )


def course_create(
    *, calendar: Calendar, number: str, name: str, state_code: str = "", is_kts: bool = False
) -> Course:
    return model_save(
        instance=Course(),
        calendar=calendar,
        number=number,
        name=name,
        state_code=state_code,
        is_kts=is_kts,
    )


@transaction.atomic
def section_create(*, course: Course, number: str, teachers: Iterable[Any] = ()) -> Section:
    """R41: the teachers must hold a teacher role at the course's school."""
    teachers = list(teachers)
    section = model_save(instance=Section(), course=course, number=number)
    section_set_teachers(section=section, teachers=teachers)
    return section


@transaction.atomic
def section_set_teachers(*, section: Section, teachers: Iterable[Any]) -> Section:
    """R41: set a section's teachers; each holds a teacher role at the section's school."""
    teachers = list(teachers)
    section.clean_teachers(teachers)
    section.teachers.set(teachers)
    return section


def student_create(
    *, state_id: str, first_name: str, last_name: str, birth_date: dt.date | None = None
) -> Student:
    """R3: identified statewide by the state student id."""
    return model_save(
        instance=Student(),
        state_id=state_id,
        first_name=first_name,
        last_name=last_name,
        birth_date=birth_date,
    )


def enrollment_create(
    *,
    student: Student,
    calendar: Calendar,
    service_type: str,
    start_date: dt.date,
    end_date: dt.date | None = None,
    grade_level: str = "",
) -> Enrollment:
    """R3: at most one primary enrollment per school year; secondary at tech schools."""
    return model_save(
        instance=Enrollment(),
        student=student,
        calendar=calendar,
        service_type=service_type,
        start_date=start_date,
        end_date=end_date,
        grade_level=grade_level,
    )


def roster_create(
    *, student: Student, section: Section, start_date: dt.date, end_date: dt.date | None = None
) -> Roster:
    return model_save(
        instance=Roster(),
        student=student,
        section=section,
        start_date=start_date,
        end_date=end_date,
    )


def staff_role_create(
    *, user: Any, role: str, district: District | None = None, school: School | None = None
) -> StaffRole:
    """R36: a role scoped to a district (district admin) or a school (the others)."""
    return model_save(instance=StaffRole(), user=user, role=role, district=district, school=school)


def model_update(*, instance: M, **fields: Any) -> M:
    """Update any setup row through the same validation."""
    return model_save(instance=instance, **fields)
