"""Benchmark the honor roll selector and the batch report-card PDF (R31, R32).

Builds (in bulk) one HS with ``--students`` students, about six sections each and a grade
per section for one term, times the selectors, then the batch PDF as users get it: a
``ReportCardBatch`` requested and built by a real ``qcluster`` process with ``--workers``
workers (one run per value, e.g. ``--workers 1,2``), from the request to the joined PDF.
``--request-pdf`` also times the one-request download (every card in this process and its
forked helpers). The cluster needs committed data, so the generated school is deleted at
the end rather than rolled back (``--keep`` leaves it); run it in a throwaway database.
Targets on PostgreSQL: honor roll < 500 ms, the batch PDF of 1,500 report cards <= 30 s on
2 cores with the cluster's default 2 workers.
"""

import os
import random
import resource
import statistics
import time
import uuid
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from grading import shape
from grading.models import (
    CourseGradingTask,
    CourseTaskTerm,
    Grade,
    HonorRollTier,
    ReportCardBatch,
)
from grading.scoring import rows_of
from grading.selectors.gpa import eligibility, honor_roll
from grading.selectors.report_card import report_cards
from schools import versions
from schools.management.qcluster import group_cpu, load, running_qcluster
from schools.models import (
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
        parser.add_argument(
            "--workers",
            default="2",
            help="Cluster workers for the batch, comma-separated for one run each (0: none).",
        )
        parser.add_argument(
            "--part-size", type=int, default=None, help="Report cards per part (default: setting)."
        )
        parser.add_argument(
            "--request-pdf", action="store_true", help="Also time the one-request download."
        )

    def handle(self, *args, students, skip_pdf, keep, seed, workers, part_size, request_pdf, **o):
        random.seed(seed)
        runs = [int(n) for n in str(workers).split(",") if int(n) > 0]
        if skip_pdf or not runs:
            try:
                with transaction.atomic():
                    term = self._build(students)
                    self._time(term)
                    if not skip_pdf and request_pdf:
                        self._time_request_pdf(term)
                    if not keep:
                        raise Rollback
            except Rollback:
                self.stdout.write("Generated data rolled back.")
            return
        if connection.vendor != "postgresql":
            raise CommandError("The cluster runs need PostgreSQL (the workers share the data).")
        with transaction.atomic():
            term = self._build(students)
        try:
            self._time(term)
            if request_pdf:
                self._time_request_pdf(term)
            for n in runs:
                self._time_cluster_batch(term, n, part_size)
        finally:
            if not keep:
                self._delete(term)
                self.stdout.write("Generated data deleted.")

    # --- data -----------------------------------------------------------------------------

    def _build(self, n_students: int) -> Term:
        started = time.perf_counter()
        tag = uuid.uuid4().hex[:6].upper()
        district = District.objects.create(code=f"B{tag}", name=f"Bench district {tag}")
        school = School.objects.create(
            district=district, code="HS", name=f"Bench High {tag}", kind="high_school"
        )
        # One quarter is all the reports read: the configuration shape is grading/shape.py's.
        (calendar,) = shape.calendars_create([school], name="2026-27")
        (term,) = shape.terms_create([calendar], spans=shape.QUARTERS[:1], prefix="Q")[calendar.pk]
        cte = shape.CteRows.state()
        rows = rows_of(cte.score_group.rows.all())
        task = cte.term_task

        n_sections = max(SECTIONS_PER_STUDENT, -(-n_students * SECTIONS_PER_STUDENT // CLASS_SIZE))
        n_courses = max(SECTIONS_PER_STUDENT, n_sections // 6)
        courses = Course.objects.bulk_create(
            Course(calendar=calendar, number=f"C{i:03d}", name=f"Course {i}")
            for i in range(n_courses)
        )
        shape.cte_course_tasks_create(
            ((c, [term]) for c in courses), rows=cte, active_seq=term.seq, final=False
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
                    shape.grade_of_percent(
                        rows,
                        percent,
                        student=student,
                        section=section,
                        grading_task=task,
                        term=term,
                    )
                )
        Roster.objects.bulk_create(rosters, batch_size=5000)
        Grade.objects.bulk_create(grades, batch_size=5000)
        versions.bump_setup()  # issue 13: written in bulk; no cached report survives it
        self.stdout.write(
            f"Built {n_students} students, {n_sections} sections, {len(grades)} grades on "
            f"{connection.vendor} in {time.perf_counter() - started:.1f} s."
        )
        return Term.objects.select_related("calendar__school").get(pk=term.pk)

    # --- timing ---------------------------------------------------------------------------

    def _time(self, term: Term) -> None:
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

    def _time_request_pdf(self, term: Term) -> None:
        from grading.report_pdf import report_cards_pdf_bytes

        t0, c0 = time.perf_counter(), _cpu()
        pdf = report_cards_pdf_bytes(term=term)
        t1, c1 = time.perf_counter(), _cpu()
        self.stdout.write(
            f"one-request PDF: {len(pdf) / 1e6:.1f} MB in {t1 - t0:.1f} s wall on "
            f"{os.cpu_count()} CPUs ({c1 - c0:.1f} s CPU in all processes; load average "
            f"{load()})"
        )

    def _time_cluster_batch(self, term: Term, workers: int, size: int | None) -> None:
        """A batch requested as the page does, built by a real cluster of ``workers``."""
        from grading.services.report_card_batches import part_size, report_card_batch_request

        size = size or part_size()
        with running_qcluster(workers=workers, env={"REPORT_CARD_PART_SIZE": str(size)}) as pgid:
            load_before = load()
            cpu_idle = group_cpu(pgid)  # the cluster's start, not the batch's work
            t0 = time.perf_counter()
            batch = report_card_batch_request(school=term.calendar.school, term=term, by=None)
            while True:
                batch.refresh_from_db(fields=["status", "done", "error"])
                if batch.status in (ReportCardBatch.Status.DONE, ReportCardBatch.Status.FAILED):
                    break
                if time.perf_counter() - t0 > 1800:
                    raise CommandError("The batch did not finish in 30 minutes.")
                time.sleep(0.2)
            elapsed = time.perf_counter() - t0
            load_after = load()
            cpu = group_cpu(pgid) - cpu_idle
        if batch.status != ReportCardBatch.Status.DONE:
            raise CommandError(f"The batch failed: {batch.error}")
        size_mb = len(ReportCardBatch.objects.values_list("pdf", flat=True).get(pk=batch.pk))
        batch.refresh_from_db(fields=["finished_at"])
        last_part = max(batch.parts.values_list("finished_at", flat=True))
        joined = (batch.finished_at - last_part).total_seconds()
        self.stdout.write(
            f"batch PDF through the cluster, {workers} worker(s), parts of {size}: "
            f"{batch.done} report cards in {batch.parts.count()} parts, "
            f"{size_mb / 1e6:.1f} MB in {elapsed:.1f} s wall (joined in {joined:.1f} s) on "
            f"{os.cpu_count()} CPUs ({cpu:.1f} s CPU in the cluster's processes from the "
            f"request to the PDF, {cpu / max(batch.done, 1) * 1000:.1f} ms per card; load "
            f"average {load_before} before, {load_after} after) (target <= 30 s with 2 workers)"
        )

    def _delete(self, term: Term) -> None:
        """The generated school, bottom-up (its rows are protected from a cascade)."""
        from django.contrib.auth import get_user_model

        calendar = term.calendar
        school = calendar.school
        with transaction.atomic():
            ReportCardBatch.objects.filter(school=school).delete()
            students = list(
                Enrollment.objects.filter(calendar=calendar).values_list("student_id", flat=True)
            )
            teachers = list(
                Section.teachers.through.objects.filter(
                    section__course__calendar=calendar
                ).values_list("user_id", flat=True)
            )
            Grade.objects.filter(term=term).delete()
            Roster.objects.filter(section__course__calendar=calendar).delete()
            Enrollment.objects.filter(calendar=calendar).delete()
            Student.objects.filter(pk__in=students).delete()
            Section.teachers.through.objects.filter(section__course__calendar=calendar).delete()
            Section.objects.filter(course__calendar=calendar).delete()
            CourseTaskTerm.objects.filter(term=term).delete()
            CourseGradingTask.objects.filter(course__calendar=calendar).delete()
            Course.objects.filter(calendar=calendar).delete()
            HonorRollTier.objects.filter(school=school).delete()
            Term.objects.filter(calendar=calendar).delete()
            calendar.delete()
            district = school.district
            school.delete()
            district.delete()
            get_user_model().objects.filter(pk__in=teachers).delete()
