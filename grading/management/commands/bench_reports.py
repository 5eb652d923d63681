"""Benchmark the honor roll selector and the batch report-card PDF (R31, R32).

Builds (in bulk) one HS with ``--students`` students, about six sections each and a grade
per section for one term, times the selectors and the PDF, prints the figures and rolls the
data back (``--keep`` leaves it). Targets on PostgreSQL: honor roll < 500 ms, the batch PDF
of every report card < 60 s.
"""

import os
import random
import resource
import statistics
import time
import uuid
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from grading.models import (
    CTE_NUMERIC,
    CTE_TERM,
    CourseGradingTask,
    CourseTaskTerm,
    Grade,
    GradingTask,
    HonorRollTier,
    ScoreGroup,
)
from grading.scoring import row_for_percent, rows_of
from grading.selectors.gpa import eligibility, honor_roll
from grading.selectors.report_card import report_cards
from schools.models import (
    Calendar,
    Course,
    District,
    Enrollment,
    Roster,
    School,
    Section,
    Student,
    Term,
)

SECTIONS_PER_STUDENT = 6
CLASS_SIZE = 25


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the PDF workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "Time the honor roll selector and the batch report-card PDF on a generated HS."

    def add_arguments(self, parser):
        parser.add_argument("--students", type=int, default=1500)
        parser.add_argument("--skip-pdf", action="store_true", help="Time the selectors only.")
        parser.add_argument("--keep", action="store_true", help="Keep the generated data.")
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, students: int, skip_pdf: bool, keep: bool, seed: int, **opts):
        random.seed(seed)
        try:
            with transaction.atomic():
                term = self._build(students)
                self._time(term, skip_pdf)
                if not keep:
                    raise Rollback
        except Rollback:
            self.stdout.write("Generated data rolled back.")

    # --- data -----------------------------------------------------------------------------

    def _build(self, n_students: int) -> Term:
        started = time.perf_counter()
        tag = uuid.uuid4().hex[:6].upper()
        district = District.objects.create(code=f"B{tag}", name=f"Bench district {tag}")
        school = School.objects.create(
            district=district, code="HS", name=f"Bench High {tag}", kind="high_school"
        )
        calendar = Calendar.objects.create(
            school=school,
            school_year=2027,
            name="2026-27",
            start_date="2026-08-10",
            end_date="2027-05-28",
        )
        term = Term.objects.create(
            calendar=calendar, name="Q1", seq=1, start_date="2026-08-10", end_date="2026-10-09"
        )
        group = ScoreGroup.objects.get(name=CTE_NUMERIC, district=None)
        rows = rows_of(group.rows.all())
        task = GradingTask.objects.get(code=CTE_TERM)

        n_sections = max(SECTIONS_PER_STUDENT, -(-n_students * SECTIONS_PER_STUDENT // CLASS_SIZE))
        n_courses = max(SECTIONS_PER_STUDENT, n_sections // 6)
        courses = Course.objects.bulk_create(
            Course(calendar=calendar, number=f"C{i:03d}", name=f"Course {i}")
            for i in range(n_courses)
        )
        course_tasks = CourseGradingTask.objects.bulk_create(
            CourseGradingTask(
                course=c, grading_task=task, score_group=group, term_gpa_weight=Decimal("1")
            )
            for c in courses
        )
        CourseTaskTerm.objects.bulk_create(
            CourseTaskTerm(course_task=ct, term=term, active=True) for ct in course_tasks
        )
        sections = Section.objects.bulk_create(
            Section(course=courses[i % n_courses], number=f"{i // n_courses + 1}")
            for i in range(n_sections)
        )
        teachers = get_user_model().objects.bulk_create(
            get_user_model()(username=f"bench-{tag}-{i}", first_name="Teacher", last_name=str(i))
            for i in range(n_courses)
        )
        Section.teachers.through.objects.bulk_create(
            Section.teachers.through(section_id=s.pk, user_id=teachers[i % n_courses].pk)
            for i, s in enumerate(sections)
        )
        HonorRollTier.objects.bulk_create(
            [
                HonorRollTier(school=school, name="Principal's List", min_gpa=Decimal("4.00")),
                HonorRollTier(school=school, name="High Honors", min_gpa=Decimal("3.75")),
                HonorRollTier(school=school, name="Honor Roll", min_gpa=Decimal("3.00")),
            ]
        )
        students = Student.objects.bulk_create(
            Student(state_id=f"{tag}{i:06d}", first_name=f"First{i}", last_name=f"Last{i:05d}")
            for i in range(n_students)
        )
        Enrollment.objects.bulk_create(
            (
                Enrollment(
                    student=s,
                    calendar=calendar,
                    school_year=2027,
                    service_type="primary",
                    start_date=calendar.start_date,
                )
                for s in students
            ),
            batch_size=2000,
        )
        rosters, grades = [], []
        for student in students:
            picked = random.sample(range(n_sections), SECTIONS_PER_STUDENT)
            for sid in picked:
                section = sections[sid]
                rosters.append(
                    Roster(student=student, section=section, start_date=calendar.start_date)
                )
                percent = Decimal(random.randint(5500, 10000)) / 100
                grades.append(
                    Grade(
                        student=student,
                        section=section,
                        grading_task=task,
                        term=term,
                        percent=percent,
                        score=row_for_percent(rows, percent).score,
                    )
                )
        Roster.objects.bulk_create(rosters, batch_size=5000)
        Grade.objects.bulk_create(grades, batch_size=5000)
        self.stdout.write(
            f"Built {n_students} students, {n_sections} sections, {len(grades)} grades on "
            f"{connection.vendor} in {time.perf_counter() - started:.1f} s."
        )
        return Term.objects.select_related("calendar__school").get(pk=term.pk)

    # --- timing ---------------------------------------------------------------------------

    def _time(self, term: Term, skip_pdf: bool) -> None:
        school = term.calendar.school
        runs = []
        for _ in range(5):
            t0 = time.perf_counter()
            roll = honor_roll(school=school, term=term)
            runs.append((time.perf_counter() - t0) * 1000)
        self.stdout.write(
            f"honor_roll: {len(roll)} students on a tier; median {statistics.median(runs):.0f} ms,"
            f" best {min(runs):.0f} ms (target < 500 ms)"
        )
        t0 = time.perf_counter()
        elig = eligibility(school=school, term=term)
        self.stdout.write(
            f"eligibility: {len(elig)} failing grades in {(time.perf_counter() - t0) * 1000:.0f} ms"
        )
        t0 = time.perf_counter()
        cards = report_cards(term=term)
        self.stdout.write(
            f"report_cards selector: {len(cards)} cards in "
            f"{(time.perf_counter() - t0) * 1000:.0f} ms"
        )
        if skip_pdf:
            return
        from grading.views.reports import report_cards_pdf_bytes

        t0, c0 = time.perf_counter(), _cpu()
        pdf = report_cards_pdf_bytes(term=term)
        t1, c1 = time.perf_counter(), _cpu()
        self.stdout.write(
            f"batch PDF: {len(cards)} report cards, {len(pdf) / 1e6:.1f} MB in {t1 - t0:.1f} s "
            f"wall on {os.cpu_count()} CPUs ({c1 - c0:.1f} s CPU in all processes; load "
            f"average {os.getloadavg()[0]:.1f}) (target < 60 s)"
        )
