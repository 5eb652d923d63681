"""Demo rows that let every daily journey be tried at once (issue 12):

* school addresses for the official report card (R32);
* a previous school year (2025-26) at Redbud Central with final grades ready for the
  registrar to post to transcripts (R34);
* unknown tech attendance already exchanged to Redbud Central (sync on) for the clerks'
  worklist (R27);
* one tech section whose grades were last posted ten days ago (R15 stale report; it shows
  once the exchange has rostered its students).

Idempotent like the rest of the demo: rows are found by natural key, only missing ones are
written.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from attendance.models import Attendance, AttendanceCode, AttendanceSource
from exchange.demo.bulk import write_grades
from exchange.demo.data import HS_COURSES, QUARTERS, TECH_SCHOOLS, YEAR
from exchange.demo.setup import school_year_upsert
from grading.models import CourseGradingTask, Grade, GradeHistory, GradeSource
from grading.scoring import rows_of
from grading.shape import grade_of_percent
from schools.models import (
    Course,
    Enrollment,
    Roster,
    School,
    Section,
    ServiceType,
)

PREVIOUS_YEAR = 2026
PREVIOUS_START, PREVIOUS_END = dt.date(2025, 8, 10), dt.date(2026, 5, 28)
PREVIOUS_STUDENTS = 30
ADDRESSES = {
    "RCHS": "400 Redbud Way\nRedbud, KY 40999",
    "RNHS": "12 North Ridge Road\nRedbud, KY 40998",
    "RSHS": "77 South Pike\nRedbud, KY 40997",
}
UNKNOWN_DAYS = [dt.date(2026, 11, 16), dt.date(2026, 11, 17), dt.date(2026, 11, 18)]
STALE_COURSE, STALE_SECTION = TECH_SCHOOLS[-1][2][-1][0], "2"  # Carpentry I, afternoon


def _previous(day: dt.date) -> dt.date:
    return day.replace(year=day.year - 1)


class JourneySteps:
    """Mixed into the demo loader after the bulk steps."""

    def load_journeys(self) -> None:
        from exchange.demo.setup import upsert

        for school in self.high_schools:
            if school.code in ADDRESSES and school.address != ADDRESSES[school.code]:
                upsert(School, {"pk": school.pk}, address=ADDRESSES[school.code])
        central = self.high_schools[0]
        self._q1_kts_grades()
        self._previous_year(central, upsert)
        self._unknown_attendance(central, upsert)
        self._stale_section()

    # --- R31: Q1 is complete, so its honor roll has students on tiers --------------------

    def _q1_kts_grades(self) -> None:
        """Last quarter's KTS grades as an earlier exchange left them (Q1 lies within S1):
        with them every Q1 counted course has a grade, and the Q1 honor roll shows tiers.
        Q2 lists students as incomplete until the HS teachers post their Q2 grades."""
        from grading.models import CTE_TERM, GradingTask

        cte_term = GradingTask.objects.get(code=CTE_TERM)
        rosters = Roster.objects.filter(
            section_id__in=list(self.links), section__course__calendar__school__in=self.high_schools
        ).values_list("student_id", "section_id", "section__course__calendar__school_id")
        have = set(
            Grade.objects.filter(
                section_id__in=list(self.links), grading_task=cte_term
            ).values_list("student_id", "section_id", "term_id")
        )
        groups = {
            ct.course_id: rows_of(ct.score_group.rows.all())
            for ct in CourseGradingTask.objects.filter(
                course__sections__id__in=list(self.links), grading_task=cte_term
            ).select_related("score_group")
        }
        course_of = dict(
            Section.objects.filter(pk__in=list(self.links)).values_list("pk", "course_id")
        )
        new = []
        for student_id, section_id, school_id in rosters.order_by("section_id", "student_id"):
            q1 = self.terms[school_id]["Q1"]
            if (student_id, section_id, q1.pk) in have:
                continue
            percent = Decimal(self.rng.randint(7000, 9900)) / 100
            new.append(
                grade_of_percent(
                    groups[course_of[section_id]],
                    percent,
                    student_id=student_id,
                    section_id=section_id,
                    grading_task=cte_term,
                    term=q1,
                    source=GradeSource.EXCHANGE,
                )
            )
        write_grades(new)

    # --- R34: last year's final grades, ready to post -------------------------------------

    def _previous_year(self, school: School, upsert) -> None:
        calendar, terms = school_year_upsert(
            school,
            school_year=PREVIOUS_YEAR,
            start=PREVIOUS_START,
            end=PREVIOUS_END,
            spans=[(name, _previous(start), _previous(end)) for name, start, end in QUARTERS],
        )
        number, name, credit_type, _teacher = HS_COURSES[0]
        course = upsert(Course, {"calendar": calendar, "number": "ENG1"}, name="English I")
        self.hs_course_tasks(course, terms, credit_type=credit_type)
        teacher = self.users["central-english"]
        section = self.section(course, "1", teacher)
        students = [s for i, s in enumerate(self.students) if i % len(self.high_schools) == 0]
        students = students[:PREVIOUS_STUDENTS]
        have = set(
            Enrollment.objects.filter(calendar=calendar).values_list("student_id", flat=True)
        )
        Enrollment.objects.bulk_create(
            Enrollment(
                student=s,
                calendar=calendar,
                school_year=PREVIOUS_YEAR,
                service_type=ServiceType.PRIMARY,
                grade_level=str(9 + i % 3),
                start_date=PREVIOUS_START,
            )
            for i, s in enumerate(students)
            if s.pk not in have
        )
        have = set(Roster.objects.filter(section=section).values_list("student_id", flat=True))
        Roster.objects.bulk_create(
            Roster(student=s, section=section, start_date=PREVIOUS_START, end_date=PREVIOUS_END)
            for s in students
            if s.pk not in have
        )
        rows = rows_of(self.letter.rows.all())
        have = set(
            Grade.objects.filter(section=section, term=terms[3]).values_list(
                "student_id", flat=True
            )
        )
        new = []
        for s in students:
            if s.pk in have:
                continue
            percent = Decimal(self.rng.randint(6200, 9900)) / 100
            new.append(
                grade_of_percent(
                    rows,
                    percent,
                    student=s,
                    section=section,
                    grading_task=self.semester_grade,
                    term=terms[3],
                    source=GradeSource.IMPORT,
                    posted_by=teacher,
                )
            )
        write_grades(new)  # posted_by=teacher: the history row is theirs

    # --- R27: unknown attendance already exchanged --------------------------------------

    def _unknown_attendance(self, school: School, upsert) -> None:
        """Tech teachers recorded a few absences with reason unknown; the unknown-attendance
        flow (the same code the nightly run uses) copies them to Central's worklist."""
        from exchange.flows.attendance import sync_unknown_attendance

        if not school.unknown_attendance_sync:
            upsert(School, {"pk": school.pk}, unknown_attendance_sync=True)
        kts_sections = [sec for sections in self.hs_kts_sections[school.pk] for sec in sections]
        rostered = list(
            Roster.objects.filter(section__in=kts_sections)
            .order_by("section_id", "student_id")
            .values_list("student_id", "section_id")[:4]
        )
        unknown = {
            c.school_id: c
            for c in AttendanceCode.objects.filter(
                school_id__in={s.pk for s in self.tech_schools}, code="U"
            )
        }
        tech_sections = {}
        for sections in self.tech_sections.values():
            for sec in sections:
                tech_sections[sec.pk] = sec
        wanted = []
        for n, (student_id, hs_section_id) in enumerate(rostered):
            tech_section = tech_sections[self.links[hs_section_id]]
            code = unknown[self.tech_section_school[tech_section.pk]]
            for day in UNKNOWN_DAYS[: 1 + n % 2]:
                wanted.append((student_id, tech_section, code, day))
        have = set(
            Attendance.objects.filter(
                section_id__in=[w[1].pk for w in wanted], date__in=UNKNOWN_DAYS
            ).values_list("student_id", "section_id", "date")
        )
        Attendance.objects.bulk_create(
            Attendance(
                student_id=student_id,
                section=section,
                date=day,
                code=code,
                source=AttendanceSource.TEACHER,
                recorded_by=section.teachers.first(),
            )
            for student_id, section, code, day in wanted
            if (student_id, section.pk, day) not in have
        )
        for tech_school_id in sorted({self.tech_section_school[w[1].pk] for w in wanted}):
            sync_unknown_attendance(
                run_id=None,
                tech_school_id=tech_school_id,
                as_of=UNKNOWN_DAYS[-1] + dt.timedelta(days=1),
                school_year=YEAR,
                dry_run=False,
            )

    # --- R15: one stale tech section --------------------------------------------------------

    def _stale_section(self) -> None:
        section = next(s for s in self.tech_sections[STALE_COURSE] if s.number == STALE_SECTION)
        ten_days_ago = timezone.now() - dt.timedelta(days=10)
        grades = Grade.objects.filter(section=section, modified_at__gt=ten_days_ago)
        GradeHistory.objects.filter(grade__in=grades).update(changed_at=ten_days_ago)
        grades.update(modified_at=ten_days_ago)
