"""A Kentucky-scale data set for ``manage.py bench_exchange``, built with bulk_create in
chunks (memory stays flat up to 400,000 students and beyond).

Default shape: 50 technical schools, 220 high schools, 40,000 students, 80,000 linked HS
rosters (each student in two KTS sections of their HS). The first high school is a large one
(1,500 students, the size the R26 report target is set for); the other students spread evenly
over the other high schools. A smaller ``students`` scales the large school down in
proportion (never below an even share). Quarters at the high schools,
semesters at the technical schools, every KTS course set up as the seed says (CTE Term
Grade on every term with one active, CTE Final Grade with credit on the last term).
"""

import argparse
import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from exchange.models import KtsLink
from grading import shape
from grading.models import (
    CTE_TERM,
    Grade,
    GradingTask,
)
from schools import versions
from schools.models import (
    Calendar,
    Course,
    District,
    Enrollment,
    Roster,
    School,
    SchoolKind,
    Section,
    Student,
    Term,
)

YEAR = shape.YEAR
AS_OF = dt.date(2026, 9, 15)
KTS_COURSES = 2  # KTS courses per school; a student takes both at their HS
HS_SECTIONS_PER_COURSE = 4
TECH_SECTIONS_PER_COURSE = 20
BATCH = 5000
CHUNK = 10_000  # students built (and held in memory) at a time
DEFAULT_STUDENTS = 40_000
LARGEST_HS_STUDENTS = 1500  # students of the first HS at the default size


@dataclass
class Dataset:
    tech_schools: int = 0
    high_schools: int = 0
    students: int = 0
    hs_rosters: int = 0
    links: int = 0
    largest_hs_students: int = 0
    tech_sections: list[int] = field(default_factory=list)


def _calendar_with_terms(
    schools: list[School], create_terms: Callable[[Sequence[Calendar]], dict[int, list[Term]]]
) -> dict[int, tuple[Calendar, list[Term]]]:
    """School id -> (its calendar, its terms), built as ``grading/shape.py`` says."""
    cals = shape.calendars_create(schools)
    terms = create_terms(cals)
    return {c.school_id: (c, terms[c.pk]) for c in cals}


def _kts_courses(cals: dict, per_school_sections: int) -> dict[int, list[list[Section]]]:
    """KTS courses with CTE tasks set up; returns school id -> [course sections]."""
    courses = Course.objects.bulk_create(
        Course(calendar=cal, number=f"K{k}", name=f"KTS course {k}", is_kts=True)
        for cal, _ in cals.values()
        for k in range(KTS_COURSES)
    )
    terms_of = {cal.pk: terms for cal, terms in cals.values()}
    shape.cte_course_tasks_create((c, terms_of[c.calendar_id]) for c in courses)
    sections = Section.objects.bulk_create(
        (Section(course=c, number=str(n + 1)) for c in courses for n in range(per_school_sections)),
        batch_size=BATCH,
    )
    school_of_cal = {cal.pk: school_id for school_id, (cal, _) in cals.items()}
    out: dict[int, list[list[Section]]] = {}
    by_course: dict[int, list[Section]] = {}
    for s in sections:
        by_course.setdefault(s.course_id, []).append(s)
    for c in courses:
        out.setdefault(school_of_cal[c.calendar_id], []).append(by_course[c.pk])
    return out


def largest_hs_share(*, students: int, high_schools: int) -> int:
    """How many of ``students`` go to the first HS: 1,500 at the default 40,000, in
    proportion below that, never less than an even share and never more than all."""
    if high_schools <= 1:
        return students
    scaled = LARGEST_HS_STUDENTS * min(students, DEFAULT_STUDENTS) // DEFAULT_STUDENTS
    return min(students, max(scaled, math.ceil(students / high_schools)))


def add_size_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every benchmark that builds this set takes: its size, and ``--yes`` to
    confirm the database is a throwaway one."""
    parser.add_argument("--students", type=int, default=DEFAULT_STUDENTS)
    parser.add_argument("--tech-schools", type=int, default=50)
    parser.add_argument("--high-schools", type=int, default=220)
    parser.add_argument(
        "--yes", action="store_true", help="Confirm this database is a throwaway one."
    )


def build_dataset(
    *, tech_schools: int = 50, high_schools: int = 220, students: int = 40_000
) -> Dataset:
    """Build the whole data set; every student has two KTS rosters at their HS."""
    kts = District.objects.create(code="BENCH-KTS", name="Bench Kentucky Tech System")
    districts = District.objects.bulk_create(
        District(code=f"BENCH-{i:03d}", name=f"Bench district {i}") for i in range(high_schools)
    )
    techs = School.objects.bulk_create(
        School(
            district=kts, code=f"T{i:03d}", name=f"Bench ATC {i}", kind=SchoolKind.TECHNICAL_SCHOOL
        )
        for i in range(tech_schools)
    )
    highs = School.objects.bulk_create(
        School(district=d, code=f"H{i:03d}", name=f"Bench HS {i}", kind=SchoolKind.HIGH_SCHOOL)
        for i, d in enumerate(districts)
    )
    tech_cals = _calendar_with_terms(techs, shape.semesters_create)
    hs_cals = _calendar_with_terms(highs, shape.quarters_create)
    tech_sections = _kts_courses(tech_cals, TECH_SECTIONS_PER_COURSE)
    hs_sections = _kts_courses(hs_cals, HS_SECTIONS_PER_COURSE)

    # Each HS sends to one tech school; its sections spread over that school's sections.
    links = []
    for i, hs in enumerate(highs):
        tech = techs[i % tech_schools]
        slot = (i // tech_schools) * HS_SECTIONS_PER_COURSE
        for k in range(KTS_COURSES):
            for n, section in enumerate(hs_sections[hs.pk][k]):
                tech_course_sections = tech_sections[tech.pk][k]
                target = tech_course_sections[(slot + n) % len(tech_course_sections)]
                links.append(KtsLink(hs_section=section, tech_section=target))
    KtsLink.objects.bulk_create(links, batch_size=BATCH)

    # Students, their enrollments and rosters in chunks of CHUNK students, so memory stays
    # flat at any size (400,000 students hold about 1.6 million objects otherwise).
    largest = largest_hs_share(students=students, high_schools=high_schools)
    others = high_schools - 1
    roster_count = 0
    for first in range(0, students, CHUNK):
        people = Student.objects.bulk_create(
            (
                Student(state_id=f"B{n:09d}", first_name="Bench", last_name=f"Student{n}")
                for n in range(first, min(first + CHUNK, students))
            ),
            batch_size=BATCH,
        )
        enrollments, rosters = [], []
        for n, student in enumerate(people, start=first):
            if n < largest:  # the large first HS
                hs, seat = highs[0], n
            else:  # the rest, round-robin over the other HSs
                hs, seat = highs[1 + (n - largest) % others], (n - largest) // others
            cal, _ = hs_cals[hs.pk]
            enrollments.append(
                Enrollment(
                    student=student,
                    calendar=cal,
                    school_year=YEAR,
                    service_type="primary",
                    grade_level="11",
                    start_date=cal.start_date,
                )
            )
            for k in range(KTS_COURSES):
                course_sections = hs_sections[hs.pk][k]
                section = course_sections[seat % len(course_sections)]
                rosters.append(Roster(student=student, section=section, start_date=cal.start_date))
        Enrollment.objects.bulk_create(enrollments, batch_size=BATCH)
        Roster.objects.bulk_create(rosters, batch_size=BATCH)
        roster_count += len(rosters)
        del people, enrollments, rosters
    return Dataset(
        tech_schools=tech_schools,
        high_schools=high_schools,
        students=students,
        hs_rosters=roster_count,
        links=len(links),
        largest_hs_students=largest,
        tech_sections=[s.pk for lists in tech_sections.values() for ss in lists for s in ss],
    )


def post_tech_grades(*, seed: int = 0) -> int:
    """A CTE Term Grade in S1 for every tech roster (bulk); percent varies by student."""
    term_task = GradingTask.objects.get(code=CTE_TERM)
    s1 = dict(
        Term.objects.filter(
            calendar__school_year=YEAR,
            calendar__school__kind=SchoolKind.TECHNICAL_SCHOOL,
            seq=1,
        ).values_list("calendar_id", "id")
    )
    rosters = (
        Roster.objects.filter(
            section__course__calendar__school__kind=SchoolKind.TECHNICAL_SCHOOL,
            section__course__calendar__school_year=YEAR,
        )
        .order_by("section_id", "student_id")
        .values_list("student_id", "section_id", "section__course__calendar_id")
    )
    posted = 0
    grades = []
    for student_id, section_id, cal_id in rosters.iterator(chunk_size=BATCH):
        grades.append(
            Grade(
                student_id=student_id,
                section_id=section_id,
                grading_task=term_task,
                term_id=s1[cal_id],
                percent=Decimal((student_id * 7 + seed) % 4000) / 100 + 60,
                score="",
            )
        )
        if len(grades) >= BATCH:  # written in batches, never all held at once
            Grade.objects.bulk_create(grades, batch_size=BATCH)
            posted += len(grades)
            grades = []
    Grade.objects.bulk_create(grades, batch_size=BATCH)
    versions.bump_setup()  # issue 13: written in bulk; no cached report survives it
    return posted + len(grades)


def change_tech_grades(*, share: float = 0.10) -> int:
    """Change ``share`` of the tech grades (every n-th by id), saved as teachers save them
    (``modified_at`` set), with one UPDATE a batch."""
    from django.db.models import Case, F, When
    from django.utils import timezone

    step = round(1 / share)
    ids = list(
        Grade.objects.filter(
            section__course__calendar__school__kind=SchoolKind.TECHNICAL_SCHOOL,
            section__course__calendar__school_year=YEAR,
        )
        .order_by("id")
        .values_list("id", flat=True)[::step]
    )
    bump = Case(When(percent__lt=99, then=F("percent") + 1), default=F("percent") - 1)
    for i in range(0, len(ids), BATCH):
        Grade.objects.filter(id__in=ids[i : i + BATCH]).update(
            percent=bump, modified_at=timezone.now()
        )
    return len(ids)
