"""R15: tech sections whose CTE Term Grade has not been posted in the last 7 days."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import Exists, Max, OuterRef, Q, Subquery
from django.utils import timezone

from grading.models import CTE_TERM, CourseTaskTerm, Grade
from schools.models import Roster, SchoolKind, Section

STALE_AFTER_DAYS = 7


@dataclass(frozen=True)
class StaleSection:
    section: Section
    last_posted_at: dt.datetime | None

    @property
    def teachers(self) -> list[User]:
        return list(self.section.teachers.all())


def stale_cutoff(as_of: dt.date) -> dt.datetime:
    """The start (local midnight) of the 7-day window that ends on ``as_of``."""
    day = as_of - dt.timedelta(days=STALE_AFTER_DAYS)
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def stale_sections(
    *,
    as_of: dt.date | None = None,
    school_id: int | None = None,
    teacher_id: int | None = None,
) -> list[StaleSection]:
    """Tech sections where no rostered student's CTE Term Grade was posted since
    ``as_of`` minus 7 days (R15).

    Only sections that can be posted to count: a student rostered on ``as_of`` and a CTE
    Term Grade task with an active term on the course. ``last_posted_at`` is the latest
    change of any CTE Term Grade in the section (None = never posted). Two queries.
    """
    as_of = as_of or timezone.localdate()
    last_posted = (
        Grade.objects.filter(section=OuterRef("pk"), grading_task__code=CTE_TERM)
        .order_by()
        .values("section")
        .annotate(last=Max("modified_at"))
        .values("last")
    )
    rostered_now = Roster.objects.filter(section=OuterRef("pk"), start_date__lte=as_of).filter(
        Q(end_date__isnull=True) | Q(end_date__gte=as_of)
    )
    term_task_open = CourseTaskTerm.objects.filter(
        course_task__course=OuterRef("course"),
        course_task__grading_task__code=CTE_TERM,
        active=True,
    )
    sections = (
        Section.objects.filter(course__calendar__school__kind=SchoolKind.TECHNICAL_SCHOOL)
        .filter(Exists(rostered_now), Exists(term_task_open))
        .annotate(last_posted_at=Subquery(last_posted))
        .filter(Q(last_posted_at__isnull=True) | Q(last_posted_at__lt=stale_cutoff(as_of)))
        .select_related("course__calendar__school")
        .prefetch_related("teachers")
        .order_by("course__calendar__school__name", "course__number", "number")
    )
    if school_id is not None:
        sections = sections.filter(course__calendar__school_id=school_id)
    if teacher_id is not None:
        sections = sections.filter(teachers__id=teacher_id)
    return [StaleSection(section=s, last_posted_at=s.last_posted_at) for s in sections]
