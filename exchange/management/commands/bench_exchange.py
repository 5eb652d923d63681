"""Benchmark the exchange at Kentucky scale. Run it in a throwaway database only:

    createdb kts_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kts_bench python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kts_bench python manage.py bench_exchange --yes

It builds the data set (``exchange/benchmarks/dataset.py``), runs the exchange once to make
the tech rosters, posts a tech grade for every tech roster, then times: a raw-SQL baseline
upsert of the same HS grade rows (``--baseline-runs`` times, the median counts), the first
full exchange, a run after 10% of the grades changed, and a run with no change (``--runs``
times from the same state, the ratios' medians count) - inline (one process runs every part,
each flow timed), then again from the same state on a real q cluster of ``--workers``
workers, as a night runs; then the attendance part
(``exchange/benchmarks/attendance.py``): the R27 sync of one school day and the R26 report
for the largest HS (1,500 students by default) over 30 school days. Refuses a database that
already holds students.
"""

import datetime as dt
import logging
import resource
import statistics
import time
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from exchange import services
from exchange.benchmarks import dataset
from exchange.flows import attendance as attendance_flow
from exchange.flows import enrollments as enrollments_flow
from exchange.flows import grades as grades_flow
from exchange.management.throwaway import require_empty_throwaway
from exchange.models import ExchangeRun, FlowWatermark, RunStatus, RunTrigger
from grading.models import CTE_NUMERIC, Grade, GradeHistory, GradeSource, ScoreRow
from grading.scoring import row_for_percent, rows_of
from schools.management.qcluster import running_qcluster

BASELINE_RUN_ID = -1


def _peak_mb() -> float:
    """The process's peak resident memory so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Command(BaseCommand):
    help = "Benchmark the nightly exchange on a generated Kentucky-scale data set."

    def add_arguments(self, parser):
        dataset.add_size_arguments(parser)
        parser.add_argument(
            "--baseline-runs",
            type=int,
            default=3,
            help="Time the baseline this many times; the ratios use the median (default 3).",
        )
        parser.add_argument(
            "--runs",
            type=int,
            default=3,
            help="Time the three exchange runs this many times from the same state (the HS "
            "grades the exchange wrote and its watermarks deleted before each time); the "
            "ratios are the medians (default 3).",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=settings.Q_CLUSTER["workers"],
            help="Then time the same runs on a real q cluster of this many workers, as a night "
            "runs (default: the cluster's own setting; 0: inline only).",
        )

    def handle(
        self,
        *args,
        students,
        tech_schools,
        high_schools,
        yes,
        workers,
        baseline_runs,
        runs,
        **options,
    ):
        require_empty_throwaway(yes, example="kts_bench")
        out = self.stdout
        t0 = time.perf_counter()
        with transaction.atomic():
            data = dataset.build_dataset(
                tech_schools=tech_schools, high_schools=high_schools, students=students
            )
        out.write(
            f"data set: {data.tech_schools} tech schools, {data.high_schools} high schools, "
            f"{data.students} students, {data.hs_rosters} linked HS rosters, {data.links} "
            f"links ({time.perf_counter() - t0:.1f}s)"
        )
        self._analyze()
        t = time.perf_counter()
        run = self._run()
        out.write(f"enrollment run: {run.counts['enrollments']} ({time.perf_counter() - t:.1f}s)")
        posted = dataset.post_tech_grades()
        out.write(f"tech grades posted: {posted} (peak so far {_peak_mb():.0f} MB)")
        self._analyze()

        rows = self._baseline_rows()
        n_rows = len(rows)
        # The baseline's own time swings (a checkpoint lands in it or not): the median of
        # ``baseline_runs``, each on the same state (its rows deleted and vacuumed away, as
        # autovacuum would after such a delete, before the next).
        base_runs = []
        for _ in range(baseline_runs):
            base_runs.append(self._baseline(rows))
            self._baseline_delete()
            self._vacuum()
        del rows  # the benchmark's largest object (~290 MB at 400,000 students): freed first
        base_s = statistics.median(base_runs)
        out.write(
            f"baseline raw SQL upsert (peak so far {_peak_mb():.0f} MB): {n_rows} rows in "
            f"{base_s:.2f}s, the median of {', '.join(f'{b:.2f}' for b in base_runs)} "
            f"({n_rows / base_s:,.0f} rows/s)"
        )

        # The exchange's own times swing too (by up to 2x on a shared machine): ``runs``
        # repetitions of the three runs, each ratio the median of its repetitions.
        inline = self._repeat(self._timed_run, runs=runs)
        out.write(f"peak memory: {_peak_mb():.0f} MB")
        self._report(inline, base_s, on="inline: one process runs every part", flows=True)
        if workers:
            # Then the same runs as a night runs them: each tech school's part a task of a
            # real cluster of ``workers`` workers, from the same state.
            logging.getLogger("django-q").setLevel(logging.WARNING)  # not a line per task
            on = f"q cluster, {workers} workers"
            with running_qcluster(workers=workers):
                cluster = self._repeat(self._cluster_run, runs=runs, on=on)
            self._report(cluster, base_s, on=on)

        try:
            from exchange.benchmarks import attendance as bench_attendance_module
        except ImportError:
            bench_attendance_module = None
        bench = getattr(bench_attendance_module, "bench_attendance", None)
        if bench is not None:
            out.write(f"attendance: {bench(as_of=dataset.AS_OF, stdout=out)}")

    def _repeat(
        self, timed_run, *, runs: int, on: str = "inline"
    ) -> list[dict[str, tuple[float, float]]]:
        """The three runs ``runs`` times, each time from one state: the HS grades the
        exchange wrote, their history and every watermark deleted first (and vacuumed away,
        as autovacuum would), so that each full run crosses every grade again. The runs'
        outcomes stay: the log grows with each repetition, as it does night after night, and
        a later full run's closing ``ANALYZE`` of it reads a larger table."""
        repeated = []
        for _ in range(max(runs, 1)):
            self._undo_exchange_writes()
            self._vacuum(Grade, GradeHistory, FlowWatermark)
            repeated.append(self._three_runs(timed_run, on=on))
        return repeated

    def _report(
        self,
        repeated: list[dict[str, tuple[float, float]]],
        base_s: float,
        *,
        on: str,
        flows: bool = False,
    ) -> None:
        """The ratios of each repetition and their medians: the small runs against the full
        run, and the whole full run (and, inline, its grade flow) against the baseline."""

        def line(label: str, ratios: list[float], fmt: str) -> None:
            each = ", ".join(format(r, fmt) for r in ratios)
            self.stdout.write(
                f"{label}: {format(statistics.median(ratios), fmt)} ({on}; "
                f"median of {len(ratios)}: {each})"
            )

        for i, what in ((1, "run"), (0, "grade flow")) if flows else ((1, "run"),):
            for small in ("10% changed", "no change"):
                line(
                    f"{what}: {small} / full",
                    [t[small][i] / t["full"][i] for t in repeated],
                    ".0%",
                )
        if flows:
            line(
                "ratio exchange/baseline (the grade flow)",
                [t["full"][0] / base_s for t in repeated],
                ".2f",
            )
        line("ratio whole run/baseline", [t["full"][1] / base_s for t in repeated], ".2f")

    def _three_runs(self, timed_run, on: str = "inline") -> dict[str, tuple[float, float]]:
        """The first full run, a run after 10% of the tech grades changed and a run with no
        change: (grade flow seconds, run seconds) of each (the flow's only inline)."""
        timings = {}
        for label, prepare in (
            ("full", None),
            ("10% changed", lambda: dataset.change_tech_grades(share=0.10)),
            ("no change", None),
        ):
            if prepare:
                prepare()
            spent, run_s, run = timed_run()
            flow_s = spent.get("grades", 0.0)
            n = sum(run.counts["grades"].get(a, 0) for a in ("added", "updated"))
            timings[label] = (flow_s, run_s)
            flows = (
                " (flows: " + ", ".join(f"{k} {v:.2f}s" for k, v in spent.items()) + ")"
                if spent
                else ""
            )
            self.stdout.write(
                f"exchange {label}, {on} (peak so far {_peak_mb():.0f} MB): run {run_s:.2f}s"
                f"{flows}, grades {run.counts['grades']}, "
                f"{n / (flow_s or run_s):,.0f} grade rows written/s"
            )
        return timings

    def _cluster_run(self) -> tuple[dict[str, float], float, ExchangeRun]:
        """A run as the night runs it: parts queued to the cluster; timed from the request
        to the run's end (the last part's commit and the run's own), by the run's own
        ``finished_at`` (same clock): the wait for it to be seen adds nothing."""
        requested = timezone.now()
        t = time.perf_counter()
        run = services.exchange_run(as_of=dataset.AS_OF, trigger=RunTrigger.BENCH, inline=False)
        while run.status in (RunStatus.QUEUED, RunStatus.RUNNING):
            if time.perf_counter() - t > 3600:
                raise CommandError(f"Run {run.pk} did not finish in an hour.")
            time.sleep(0.05)
            run.refresh_from_db(fields=["status", "counts", "error", "finished_at"])
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"Run {run.pk} {run.status}: {run.error}")
        return {}, (run.finished_at - requested).total_seconds(), run

    def _undo_exchange_writes(self) -> None:
        """Back to the state before the first full run: the HS grades the exchange wrote
        (and their history) deleted, and every flow's watermark, in plain statements (the
        ORM would load each row first)."""
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {GradeHistory._meta.db_table} WHERE grade_id IN "
                f"(SELECT id FROM {Grade._meta.db_table} WHERE source = %s)",
                [GradeSource.EXCHANGE],
            )
            cursor.execute(
                f"DELETE FROM {Grade._meta.db_table} WHERE source = %s", [GradeSource.EXCHANGE]
            )
            cursor.execute(f"DELETE FROM {FlowWatermark._meta.db_table}")

    def _vacuum(self, *models: type[Model]) -> None:
        """Tables vacuumed and analyzed (PostgreSQL; the grades by default), as autovacuum
        leaves them after a large delete."""
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for model in models or (Grade,):
                    cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")

    def _analyze(self) -> None:
        """Fresh planner statistics after a bulk load, as autovacuum would give a live
        database."""
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    def _run(self):
        run = services.exchange_run(as_of=dataset.AS_OF, trigger=RunTrigger.BENCH, inline=True)
        if run.status != "succeeded":
            raise CommandError(f"Run {run.pk} failed: {run.error}")
        return run

    def _timed_run(self):
        """Run the exchange, timing each flow (the runner looks the flows up per call)."""
        modules = {
            "enrollments": (enrollments_flow, "sync_enrollments"),
            "grades": (grades_flow, "sync_grades"),
            "attendance": (attendance_flow, "sync_unknown_attendance"),
        }
        spent = dict.fromkeys(modules, 0.0)
        real = {}
        for name, (module, attr) in modules.items():
            func = getattr(module, attr, None)
            if func is None:
                continue
            real[name] = func

            def timed(*, _name=name, _func=func, **kwargs):
                t = time.perf_counter()
                try:
                    return _func(**kwargs)
                finally:
                    spent[_name] += time.perf_counter() - t

            setattr(module, attr, timed)
        try:
            t = time.perf_counter()
            run = self._run()
            return spent, time.perf_counter() - t, run
        finally:
            for name, func in real.items():
                module, attr = modules[name]
                setattr(module, attr, func)

    def _baseline_rows(self) -> list[tuple]:
        """The HS grade rows the first full run will write, computed in one SQL query."""
        rows = rows_of(ScoreRow.objects.filter(group__name=CTE_NUMERIC, group__district=None))
        out: list[tuple] = []
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT g.student_id, l.hs_section_id, g.grading_task_id, ctt.term_id,
                       CAST(g.percent AS TEXT)
                FROM grading_grade g
                JOIN exchange_ktslink l ON l.tech_section_id = g.section_id
                JOIN schools_roster r ON r.section_id = l.hs_section_id
                     AND r.student_id = g.student_id
                JOIN schools_section hs ON hs.id = l.hs_section_id
                JOIN grading_coursegradingtask ct ON ct.course_id = hs.course_id
                     AND ct.grading_task_id = g.grading_task_id
                JOIN grading_coursetaskterm ctt ON ctt.course_task_id = ct.id AND ctt.active
                """
            )
            # In chunks, the percent kept as its text (COPY takes it as is): at 400,000
            # students these 800,000 rows are the benchmark's largest object.
            while chunk := cursor.fetchmany(10_000):
                out += (
                    (s, sec, task, term, p, row_for_percent(rows, Decimal(p)).score)
                    for s, sec, task, term, p in chunk
                )
        return out

    def _baseline_delete(self) -> None:
        """Drop the baseline's rows in one statement. ``QuerySet.delete()`` would load every
        row as a model instance first (a grade has history to cascade to), over a gigabyte at
        400,000 students; the baseline's rows have no history, transcript line or copy
        pointing at them (the foreign keys, checked at commit, would refuse otherwise)."""
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {Grade._meta.db_table} WHERE run_id = %s", [BASELINE_RUN_ID]
            )

    def _baseline(self, rows: list[tuple]) -> float:
        """PostgreSQL: COPY into a temp table, then INSERT ... ON CONFLICT DO UPDATE.
        SQLite: executemany INSERT ... ON CONFLICT."""
        now = dt.datetime.now(dt.UTC)
        cols = (
            "student_id, section_id, grading_task_id, term_id, percent, score, comments, "
            "source, run_id, created_at, modified_at"
        )
        upsert = (
            "ON CONFLICT (student_id, section_id, grading_task_id, term_id) DO UPDATE SET "
            "percent = EXCLUDED.percent, score = EXCLUDED.score, source = EXCLUDED.source, "
            "run_id = EXCLUDED.run_id, modified_at = EXCLUDED.modified_at"
        )
        t = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "CREATE TEMP TABLE bench_grade (student_id bigint, section_id bigint, "
                    "grading_task_id bigint, term_id bigint, percent numeric(5,2), "
                    "score varchar(20)) ON COMMIT DROP"
                )
                with cursor.cursor.copy(
                    "COPY bench_grade (student_id, section_id, grading_task_id, term_id, "
                    "percent, score) FROM STDIN"
                ) as copy:
                    for row in rows:
                        copy.write_row(row)
                cursor.execute(
                    f"INSERT INTO grading_grade ({cols}) SELECT student_id, section_id, "
                    "grading_task_id, term_id, percent, score, '', 'import', %s, %s, %s "
                    f"FROM bench_grade {upsert}",
                    [BASELINE_RUN_ID, now, now],
                )
            else:
                cursor.executemany(
                    f"INSERT INTO grading_grade ({cols}) VALUES "
                    f"(%s, %s, %s, %s, %s, %s, '', 'import', {BASELINE_RUN_ID}, %s, %s) {upsert}",
                    [(*r[:4], str(r[4]), r[5], now, now) for r in rows],
                )
        return time.perf_counter() - t
