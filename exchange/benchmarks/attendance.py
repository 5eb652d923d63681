"""The attendance part of ``bench_exchange``: one school day of tech attendance for every
linked tech roster (5% unknown), the R27 unknown-attendance sync for every tech school, then
30 school days of tech attendance for the largest high school's students (1,500 in the
default data set) and the R26 real-time report for that school over those 30 days (median of
several runs).

Called on the benchmark's throwaway database after the grade runs; it changes data (turns on
the unknown sync at every HS, adds attendance codes where a school has none).

The attendance part alone (data set, one exchange run for the tech rosters, then this part;
no grade runs), on an empty throwaway database::

    python manage.py shell -c "from exchange.benchmarks.attendance import main; \
        main(['--yes', '--students', '400000'])"

``--data-only`` stops after the data set and the tech rosters (e.g. to copy the database as
a template); ``--reuse`` runs the attendance part on such a database.
"""

import argparse
import datetime as dt
import resource
import statistics
import sys
import time

from django.core.paginator import Paginator
from django.db import connection, transaction
from django.db.models import Count, Q

from attendance.models import Attendance, AttendanceCode, AttendanceSource, Excuse, Status
from attendance.selectors import tech_attendance_report
from attendance.services import attendance_codes_ensure_defaults
from exchange.flows.attendance import sync_unknown_attendance
from exchange.models import ExchangeRun, KtsLink, RunStatus
from schools.models import Enrollment, Roster, School, SchoolKind, ServiceType, Term

UNKNOWN_EVERY = 20  # 5% of the day's records are unknown
REPORT_DAYS = 30  # school days of tech attendance the report covers
REPORT_RUNS = 5  # the report is timed this many times; the median is the figure
REPORT_PAGE = 1000  # the API's largest page
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


def instructional_days(*, before: dt.date, school_year: int, count: int) -> list[dt.date]:
    """``count`` weekdays inside a technical school's term: the last ones before ``before``
    or, when the year has fewer by then, the first ``count`` of the year."""
    terms = list(
        Term.objects.filter(
            calendar__school_year=school_year,
            calendar__school__kind=SchoolKind.TECHNICAL_SCHOOL,
        ).values_list("start_date", "end_date")
    )
    if not terms:
        return []
    days = []
    day, last = min(s for s, _ in terms), max(e for _, e in terms)
    while day <= last:
        if day.weekday() < 5 and any(s <= day <= e for s, e in terms):
            days.append(day)
        day += dt.timedelta(days=1)
    earlier = [d for d in days if d < before]
    return earlier[-count:] if len(earlier) >= count else days[:count]


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


def _teacher_mark(
    i: int, student_id: int, section_id: int, day: dt.date, codes: tuple[int, int]
) -> Attendance:
    """The ``i``-th mark a tech teacher records: every ``UNKNOWN_EVERY``-th one with the
    school's unknown code, the rest present (``codes`` is the school's pair from
    ``_tech_codes``)."""
    present, unknown = codes
    return Attendance(
        student_id=student_id,
        section_id=section_id,
        date=day,
        code_id=unknown if i % UNKNOWN_EVERY == 0 else present,
        source=AttendanceSource.TEACHER,
    )


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
    rows: list[Attendance] = []
    written = unknown_rows = 0
    create_s = 0.0
    for i, (student_id, section_id, school_id) in enumerate(rosters.iterator(chunk_size=BATCH)):
        unknown_rows += i % UNKNOWN_EVERY == 0
        rows.append(_teacher_mark(i, student_id, section_id, day, codes[school_id]))
        if len(rows) >= BATCH:  # written in batches, never all held at once
            create_s += _create(rows)
            written += len(rows)
            rows = []
    create_s += _create(rows)
    written += len(rows)
    tech_ids = sorted(
        set(rosters.order_by().values_list("section__course__calendar__school_id", flat=True))
    )
    _analyze()  # fresh statistics after the bulk load, as autovacuum would give

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

    # R26: 30 school days of tech attendance for the largest HS's students, then the
    # real-time report for that HS over those days.
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
    runs_ms: list[float] = []
    full_ms: list[float] = []
    report_rows = page_rows = full_rows = 0
    students = 0
    days: list[dt.date] = []
    created = 0
    history_s = 0.0
    if largest:
        school = School.objects.get(pk=largest["calendar__school_id"])
        students = largest["n"]
        days = instructional_days(before=as_of, school_year=school_year, count=REPORT_DAYS)
        t = time.perf_counter()
        created = _attendance_history(
            school_id=school.pk, school_year=school_year, days=days, codes=codes
        )
        history_s = time.perf_counter() - t
        _analyze()
        if days:

            def report():
                return tech_attendance_report(school=school, start=days[0], end=days[-1])

            for _ in range(REPORT_RUNS):
                # as the API answers: the count and the first page of the largest size
                t = time.perf_counter()
                page = Paginator(report(), REPORT_PAGE).page(1)
                report_rows, page_rows = page.paginator.count, len(page.object_list)
                runs_ms.append((time.perf_counter() - t) * 1000)
                # as the CSV streams: every row, read in chunks
                t = time.perf_counter()
                full_rows = sum(1 for _ in report().iter_rows(chunk_size=2000))
                full_ms.append((time.perf_counter() - t) * 1000)
            report_ms = statistics.median(runs_ms)

    figures = {
        "attendance_day": day.isoformat(),
        "attendance_rows": written,
        "attendance_unknown": unknown_rows,
        "attendance_create_seconds": round(create_s, 3),
        "attendance_seconds": round(sync_s, 3),
        "attendance_rows_per_s": round(written / sync_s) if sync_s else 0,
        "attendance_outcomes": len(outcomes),
        "attendance_added": added,
        "tech_attendance_report_ms": round(report_ms, 1),
        "report_students": students,
        "report_rows": report_rows,
        "report_days": len(days),
        "report_start": days[0].isoformat() if days else None,
        "report_end": days[-1].isoformat() if days else None,
        "report_attendance_created": created,
        "report_attendance_create_seconds": round(history_s, 3),
        "report_runs_ms": [round(ms, 1) for ms in runs_ms],
        "report_page_rows": page_rows,
        "report_full_rows": full_rows,
        "report_full_ms": round(statistics.median(full_ms), 1) if full_ms else 0.0,
        "report_full_runs_ms": [round(ms, 1) for ms in full_ms],
    }
    stdout.write(
        f"attendance day {day}: {written} tech rows ({figures['attendance_unknown']} unknown) "
        f"created in {create_s:.2f}s\n"
    )
    stdout.write(
        f"unknown-attendance sync: {len(tech_ids)} tech schools, {len(outcomes)} outcomes "
        f"({added} added) in {sync_s:.2f}s = {figures['attendance_rows_per_s']:,} rows/s\n"
    )
    stdout.write(
        f"tech-attendance report: largest HS ({students} students), {REPORT_DAYS} days, "
        f"{report_rows} rows; count + first page of {page_rows} in {report_ms:.1f} ms "
        f"(target < 150 ms on PostgreSQL); all rows streamed in "
        f"{figures['report_full_ms']:.1f} ms\n"
    )
    if days:
        stdout.write(
            f"tech-attendance report detail: {students} students, {len(days)} school days "
            f"{days[0]} to {days[-1]} ({created} tech rows added in {history_s:.2f}s), "
            f"{report_rows} rows; median of {len(runs_ms)} runs {report_ms:.1f} ms "
            f"(min {min(runs_ms):.1f}, max {max(runs_ms):.1f})\n"
        )
    return figures


def _create(rows: list[Attendance]) -> float:
    """Write ``rows`` (a record already there for the day is kept); the seconds it took."""
    t = time.perf_counter()
    Attendance.objects.bulk_create(rows, batch_size=BATCH, ignore_conflicts=True)
    return time.perf_counter() - t


def _analyze(*, everything: bool = False) -> None:
    """Fresh planner statistics after a bulk load (the attendance table, or every table), and
    on PostgreSQL outside a transaction the visibility map too (``VACUUM``), as autovacuum
    gives a live database after inserts."""
    table = "" if everything else f" {Attendance._meta.db_table}"
    vacuum = connection.vendor == "postgresql" and not connection.in_atomic_block
    with connection.cursor() as cursor:
        cursor.execute(f"{'VACUUM ANALYZE' if vacuum else 'ANALYZE'}{table}")


def _attendance_history(
    *, school_id: int, school_year: int, days: list[dt.date], codes: dict[int, tuple[int, int]]
) -> int:
    """Tech attendance on ``days`` for every tech roster of the HS's primary students that is
    active that day (5% unknown), in bulk; returns the rows written (a record already there
    for a day is kept)."""
    if not days:
        return 0
    own = Enrollment.objects.filter(
        calendar__school_id=school_id,
        service_type=ServiceType.PRIMARY,
        school_year=school_year,
    ).values("student_id")
    rosters = list(
        Roster.objects.filter(
            student_id__in=own,
            section__course__calendar__school__kind=SchoolKind.TECHNICAL_SCHOOL,
            section__course__calendar__school_year=school_year,
            start_date__lte=days[-1],
        )
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=days[0]))
        .order_by("section_id", "student_id")
        .values_list(
            "student_id",
            "section_id",
            "section__course__calendar__school_id",
            "start_date",
            "end_date",
        )
    )
    before = Attendance.objects.filter(
        student_id__in=own, date__gte=days[0], date__lte=days[-1]
    ).count()
    rows = []
    i = 0
    for day in days:
        for student_id, section_id, tech_id, start, end in rosters:
            if start > day or (end is not None and end < day):
                continue
            rows.append(_teacher_mark(i, student_id, section_id, day, codes[tech_id]))
            i += 1
        if len(rows) >= BATCH:
            Attendance.objects.bulk_create(rows, batch_size=BATCH, ignore_conflicts=True)
            rows = []
    Attendance.objects.bulk_create(rows, batch_size=BATCH, ignore_conflicts=True)
    after = Attendance.objects.filter(
        student_id__in=own, date__gte=days[0], date__lte=days[-1]
    ).count()
    return after - before


def main(argv: list[str] | None = None, stdout=None) -> dict | None:
    """The attendance benchmark on its own: build the data set (or ``--reuse`` one built
    with ``--data-only``), run the exchange once for the tech rosters, then
    :func:`bench_attendance`; prints the figures and the peak memory of the process."""
    from exchange import services
    from exchange.benchmarks import dataset
    from schools.models import Student

    parser = argparse.ArgumentParser(prog="exchange.benchmarks.attendance")
    dataset.add_size_arguments(parser)
    parser.add_argument("--data-only", action="store_true")
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args(argv)
    out = stdout or sys.stdout
    if not args.yes:
        parser.error("This fills the database with generated data; pass --yes.")
    if args.reuse != Student.objects.exists():
        parser.error("--reuse needs a database built with --data-only; else use an empty one.")
    if not args.reuse:
        t = time.perf_counter()
        with transaction.atomic():
            data = dataset.build_dataset(
                tech_schools=args.tech_schools,
                high_schools=args.high_schools,
                students=args.students,
            )
        out.write(
            f"data set: {data.students} students, {data.hs_rosters} linked HS rosters "
            f"({time.perf_counter() - t:.1f}s)\n"
        )
        _analyze(everything=True)
        t = time.perf_counter()
        run = services.exchange_run(as_of=dataset.AS_OF, trigger="bench", inline=True)
        out.write(
            f"enrollment run {run.status}: {run.counts.get('enrollments')} "
            f"({time.perf_counter() - t:.1f}s)\n"
        )
        _analyze(everything=True)
    figures = None
    if not args.data_only:
        figures = bench_attendance(as_of=dataset.AS_OF, stdout=out)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.write(f"peak memory: {peak:.0f} MB\n")
    return figures
