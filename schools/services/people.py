"""R3/R36: students, their enrollments and rosters, and staff roles."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User

from schools.models import (
    Calendar,
    District,
    Enrollment,
    Roster,
    School,
    Section,
    StaffRole,
    Student,
)
from schools.services.writes import model_save


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
    *, user: User, role: str, district: District | None = None, school: School | None = None
) -> StaffRole:
    """R36: a role scoped to a district (district admin) or a school (the others)."""
    return model_save(instance=StaffRole(), user=user, role=role, district=district, school=school)
