"""Courses and sections, with a section's teachers (R41)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from schools.models import Calendar, Course, Section
from schools.services.writes import model_save


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
