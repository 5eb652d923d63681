"""The demo's many rows - students, enrollments, rosters, grades - with ``bulk_create``.

Built from data that is valid by construction; only the rows that are missing are written.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from exchange.demo.data import (
    FIRST_NAMES,
    LAST_NAMES,
    STUDENT_COUNT,
    TECH_ACTIVE_TERM,
    YEAR_START,
)
from grading.models import Grade, GradeHistory, GradeSource
from grading.scoring import rows_of
from grading.shape import grade_of_percent
from schools.models import Enrollment, Roster, School, Section, ServiceType, Student


def write_grades(grades: list[Grade]) -> list[Grade]:
    """Write the demo's grades, each with its first history row (R16): by whoever posted it
    (nobody for the exchange's), from the grade's source."""
    created = Grade.objects.bulk_create(grades)
    GradeHistory.objects.bulk_create(
        GradeHistory(
            grade=grade,
            changed_by=grade.posted_by,
            source=grade.source,
            new_score=grade.score,
            new_percent=grade.percent,
            reason="Imported with the demo data.",
        )
        for grade in created
    )
    return created


class BulkSteps:
    """Students, enrollments, rosters and grades."""

    # --- students (bulk) ----------------------------------------------------------------

    def load_students(self) -> None:
        """R3: students identified by state id, one primary enrollment each at their HS."""
        wanted = []
        for i in range(STUDENT_COUNT):
            grade = 9 + (i // 3) % 4
            wanted.append(
                Student(
                    state_id=f"{5100000001 + i}",
                    first_name=FIRST_NAMES[i % len(FIRST_NAMES)],
                    last_name=LAST_NAMES[(i // len(FIRST_NAMES)) % len(LAST_NAMES)],
                    birth_date=dt.date(2026 - grade - 5, 1 + i % 12, 1 + i % 28),
                )
            )
        ids = [s.state_id for s in wanted]
        have = set(Student.objects.filter(state_id__in=ids).values_list("state_id", flat=True))
        Student.objects.bulk_create([s for s in wanted if s.state_id not in have])
        by_id = Student.objects.in_bulk(ids, field_name="state_id")
        self.students = [by_id[state_id] for state_id in ids]

        calendars = [self.calendars[s.pk] for s in self.high_schools]
        have = set(
            Enrollment.objects.filter(calendar__in=calendars).values_list(
                "student_id", "calendar_id"
            )
        )
        new = []
        for i, student in enumerate(self.students):
            calendar = calendars[i % len(calendars)]
            if (student.pk, calendar.pk) in have:
                continue
            new.append(
                Enrollment(
                    student=student,
                    calendar=calendar,
                    # bulk_create skips save(), which copies the year from the calendar.
                    school_year=calendar.school_year,
                    service_type=ServiceType.PRIMARY,
                    grade_level=str(9 + (i // 3) % 4),
                    start_date=calendar.start_date,
                )
            )
        Enrollment.objects.bulk_create(new)

    def student_sections(self, i: int) -> tuple[School, list[Section], Section | None]:
        """The HS, the ordinary sections and (for about half) the KTS section of student i."""
        school = self.high_schools[i % len(self.high_schools)]
        k = i // len(self.high_schools)  # index among the students of this HS
        ordinary = [
            sections[k % len(sections)] for _number, sections in self.hs_sections[school.pk]
        ]
        kts = None
        if k % 2 == 0:
            m = k // 2
            courses = self.hs_kts_sections[school.pk]
            sections = courses[m % len(courses)]
            kts = sections[(m // len(courses)) % len(sections)]
        return school, ordinary, kts

    def load_rosters(self) -> None:
        """HS rosters only: the exchange rosters the KTS students at the tech school (R18)."""
        calendars = [self.calendars[s.pk] for s in self.high_schools]
        have = set(
            Roster.objects.filter(section__course__calendar__in=calendars).values_list(
                "student_id", "section_id"
            )
        )
        new = []
        for i, student in enumerate(self.students):
            _school, ordinary, kts = self.student_sections(i)
            for section in [*ordinary, *([kts] if kts else [])]:
                if (student.pk, section.pk) not in have:
                    new.append(Roster(student=student, section=section, start_date=YEAR_START))
        Roster.objects.bulk_create(new)

    # --- grades (bulk) ------------------------------------------------------------------

    def load_grades(self) -> None:
        """Imported grades with a history row each (R14): S1 CTE Term Grades at the tech
        schools, for tonight's exchange to move (R19), and Q1 Term Grades at the HSs so GPA,
        honor roll and eligibility have something to show."""
        cte_rows = rows_of(self.cte_numeric.rows.all())
        letter_rows = rows_of(self.letter.rows.all())
        tech_term = {s.pk: self.terms[s.pk][TECH_ACTIVE_TERM] for s in self.tech_schools}
        tech_sections = {
            sec.pk: sec for sections in self.tech_sections.values() for sec in sections
        }
        teachers = {
            sec.pk: sec.teachers.first()
            for sec in [
                *tech_sections.values(),
                *(
                    sec
                    for courses in self.hs_sections.values()
                    for _number, sections in courses
                    for sec in sections
                ),
            ]
        }
        wanted = []
        for i, student in enumerate(self.students):
            school, ordinary, kts = self.student_sections(i)
            q1 = self.terms[school.pk]["Q1"]
            for section in ordinary:
                percent = Decimal(self.rng.randint(5500, 9999)) / 100
                wanted.append((student, section, self.term_grade, q1, percent, letter_rows))
            if kts is not None:
                tech_section = tech_sections[self.links[kts.pk]]
                term = tech_term[self.tech_section_school[tech_section.pk]]
                percent = Decimal(self.rng.randint(6000, 9999)) / 100
                wanted.append((student, tech_section, self.cte_term, term, percent, cte_rows))
        section_ids = {w[1].pk for w in wanted}
        have = set(
            Grade.objects.filter(section_id__in=section_ids).values_list(
                "student_id", "section_id", "grading_task_id", "term_id"
            )
        )
        new = []
        for student, section, task, term, percent, rows in wanted:
            if (student.pk, section.pk, task.pk, term.pk) in have:
                continue
            new.append(
                grade_of_percent(
                    rows,
                    percent,
                    student=student,
                    section=section,
                    grading_task=task,
                    term=term,
                    source=GradeSource.IMPORT,
                    posted_by=teachers[section.pk],
                )
            )
        write_grades(new)
