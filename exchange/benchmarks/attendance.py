"""The attendance part of ``bench_exchange``: one school day of tech attendance for every
linked tech roster (5% unknown), the R27 unknown-attendance sync for every tech school, and
the R26 real-time report for the largest high school over 30 days.

Called on the benchmark's throwaway database after the grade runs; it changes data (turns on
the unknown sync at every HS, adds attendance codes where a school has none).
"""

import datetime as dt
import time

from django.db import transaction
from django.db.models import Count, Q

from attendance.models import Attendance, AttendanceCode, AttendanceSource, Excuse, Status
from attendance.selectors import tech_attendance_report
from attendance.services import attendance_codes_ensure_defaults
from exchange.flows.attendance import sync_unknown_attendance
from exchange.models import ExchangeRun, KtsLink, RunStatus
from schools.models import Enrollment, Roster, School, SchoolKind, ServiceType, Term

UNKNOWN_EVERY = 20  # 5% of the day's records are unknown
REPORT_DAYS = 30
BATCH = 5000


def _school_year(day: dt.date) -> int:
    return day.year + 1 if day.month >= 7 else day.year


def last_instructional_day(*, before: dt.date, school_year: int) -> dt.date:
    """The last weekday before ``before`` inside a term of a technical school's calendar."""
    terms = list(
        Term.objects.filter(
            calendar__school_year=school_year,
            calendar__school__kind=SchoolKind.TECHNICAL_SCHOOL,
            start_date__lt=before,
        ).values_list("start_date", "end_date")
    )
    day = before - dt.timedelta(days=1)
    for _ in range(400):
        if day.weekday() < 5 and any(s <= day <= e for s, e in terms):
            return day
        day -= dt.timedelta(days=1)
    raise ValueError(f"No instructional day at a technical school before {before}.")


def _tech_codes() -> dict[int, tuple[int, int]]:
    """Per tech school: (a present code, an unknown code)."""
    present: dict[int, int] = {}
    unknown: dict[int, int] = {}
    for school_id, code_id, status, excuse in (
        AttendanceCode.objects.filter(school__kind=SchoolKind.TECHNICAL_SCHOOL)
        .order_by("school_id", "code")
        .values_list("school_id", "id", "status", "excuse")
    ):
        if status == Status.PRESENT:
            present.setdefault(school_id, code_id)
        elif excuse == Excuse.UNKNOWN:
            unknown.setdefault(school_id, code_id)
    return {s: (present[s], unknown[s]) for s in present if s in unknown}


def bench_attendance(*, as_of: dt.date, stdout) -> dict:
    """Time the R27 sync (rows/s) and the R26 report (ms); return and print the figures."""
    school_year = _school_year(as_of)
    attendance_codes_ensure_defaults()
    School.objects.filter(kind=SchoolKind.HIGH_SCHOOL).update(unknown_attendance_sync=True)
    day = last_instructional_day(before=as_of, school_year=school_year)

    # One day of tech attendance for every linked tech roster active that day.
    tech_sections = KtsLink.objects.filter(
        tech_section__course__calendar__school_year=school_year
    ).values("tech_section_id")
    rosters = (
        Roster.objects.filter(section_id__in=tech_sections, start_date__lte=day)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=day))
        .order_by("section_id", "student_id")
        .values_list("student_id", "section_id", "section__course__calendar__school_id")
    )
    codes = _tech_codes()
    rows = []
    for i, (student_id, section_id, school_id) in enumerate(rosters.iterator(chunk_size=BATCH)):
        present, unknown = codes[school_id]
        rows.append(
            Attendance(
                student_id=student_id,
                section_id=section_id,
                date=day,
                code_id=unknown if i % UNKNOWN_EVERY == 0 else present,
                source=AttendanceSource.TEACHER,
            )
        )
    unknown_rows = sum(1 for i in range(len(rows)) if i % UNKNOWN_EVERY == 0)
    t = time.perf_counter()
    Attendance.objects.bulk_create(rows, batch_size=BATCH, ignore_conflicts=True)
    create_s = time.perf_counter() - t
    tech_ids = sorted({school_id for _, _, school_id in rosters})

    # R27: the sync, one atomic block per tech school as the runner does it.
    run = ExchangeRun.objects.create(
        as_of=as_of, trigger="bench", status=RunStatus.SUCCEEDED, dry_run=False
    )
    outcomes: list[dict] = []
    t = time.perf_counter()
    for tech_id in tech_ids:
        with transaction.atomic():
            outcomes += sync_unknown_attendance(
                run_id=run.pk,
                tech_school_id=tech_id,
                as_of=as_of,
                school_year=school_year,
                dry_run=False,
            )
    sync_s = time.perf_counter() - t
    added = sum(1 for o in outcomes if o["action"] == "added")

    # R26: the real-time report for the largest HS over 30 days.
    largest = (
        Enrollment.objects.filter(
            service_type=ServiceType.PRIMARY,
            school_year=school_year,
            calendar__school__kind=SchoolKind.HIGH_SCHOOL,
        )
        .values("calendar__school_id")
        .annotate(n=Count("id"))
        .order_by("-n", "calendar__school_id")
        .first()
    )
    report_ms = 0.0
    report_rows = 0
    students = 0
    if largest:
        school = School.objects.get(pk=largest["calendar__school_id"])
        students = largest["n"]
        t = time.perf_counter()
        report = tech_attendance_report(
            school=school, start=day - dt.timedelta(days=REPORT_DAYS - 1), end=day
        )
        report_ms = (time.perf_counter() - t) * 1000
        report_rows = len(report)

    figures = {
        "attendance_day": day.isoformat(),
        "attendance_rows": len(rows),
        "attendance_unknown": unknown_rows,
        "attendance_create_seconds": round(create_s, 3),
        "attendance_seconds": round(sync_s, 3),
        "attendance_rows_per_s": round(len(rows) / sync_s) if sync_s else 0,
        "attendance_outcomes": len(outcomes),
        "attendance_added": added,
        "tech_attendance_report_ms": round(report_ms, 1),
        "report_students": students,
        "report_rows": report_rows,
    }
    stdout.write(
        f"attendance day {day}: {len(rows)} tech rows ({figures['attendance_unknown']} unknown) "
        f"created in {create_s:.2f}s\n"
    )
    stdout.write(
        f"unknown-attendance sync: {len(tech_ids)} tech schools, {len(outcomes)} outcomes "
        f"({added} added) in {sync_s:.2f}s = {figures['attendance_rows_per_s']:,} rows/s\n"
    )
    stdout.write(
        f"tech-attendance report: largest HS ({students} students), {REPORT_DAYS} days, "
        f"{report_rows} rows in {report_ms:.1f} ms (target < 300 ms on PostgreSQL)\n"
    )
    return figures
