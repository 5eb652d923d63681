"""Benchmark the OneRoster import (R50) at the ``bench_exchange`` size. Throwaway database:

    createdb kts_bench_import
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kts_bench_import python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kts_bench_import python manage.py bench_import --yes

Generates the set (``exchange/benchmarks/oneroster.py``), writes it as CSV files, then
times: the first import, a re-import of the same set (rows written counted by PostgreSQL's
own ``pg_stat_xact_user_tables``, must be 0), and a delta of 1% of the enrollments. Reports
the peak memory of the process. Refuses a database that already holds students.
"""

import resource
import tempfile
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from exchange.benchmarks import oneroster as bench_set
from exchange.benchmarks.dataset import add_size_arguments
from exchange.management.throwaway import require_empty_throwaway
from exchange.oneroster.files import set_files, write_folder
from exchange.oneroster.importer import import_set
from exchange.oneroster.reader import read_set
from schools.models import Roster, Student

TARGETS = {"first": 60.0, "again": 15.0, "delta": 5.0}


def _rows_written() -> int:
    """Rows inserted, updated or deleted so far in this transaction (PostgreSQL). Since
    PostgreSQL 15 the counters may still hold an earlier transaction's rows not yet flushed
    to the cumulative statistics: take it at the transaction's start too and subtract."""
    if connection.vendor != "postgresql":
        return -1
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(n_tup_ins + n_tup_upd + n_tup_del), 0) "
            "FROM pg_stat_xact_user_tables"
        )
        return int(cursor.fetchone()[0])


class Command(BaseCommand):
    help = "Benchmark the OneRoster import on a generated Kentucky-scale set."

    def add_arguments(self, parser):
        add_size_arguments(parser)

    def _timed(self, label: str, folder) -> tuple[float, int, object]:
        t0 = time.perf_counter()
        with transaction.atomic():
            before = _rows_written()
            plan = import_set(read_set(folder))
            written = _rows_written() - before if before >= 0 else -1
        seconds = time.perf_counter() - t0
        if plan.issues:
            raise CommandError(f"{label}: the set was refused: {plan.issues[:5]}")
        return seconds, written, plan

    def handle(self, *args, students, tech_schools, high_schools, yes, **options):
        require_empty_throwaway(yes)
        out = self.stdout
        files = bench_set.generate(
            tech_schools=tech_schools, high_schools=high_schools, students=students
        )
        sizes = {name: len(rows) for name, rows in files.items()}
        out.write(f"Set: {', '.join(f'{n} {c:,}' for n, c in sizes.items())}")
        with tempfile.TemporaryDirectory() as tmp:
            full = write_folder(f"{tmp}/full", set_files(files))
            delta = write_folder(
                f"{tmp}/delta", set_files(bench_set.delta_of(files), {"enrollments": "delta"})
            )
            del files
            results = {}
            for label, folder in (("first", full), ("again", full), ("delta", delta)):
                seconds, written, plan = self._timed(label, folder)
                results[label] = seconds
                changed = {
                    n: {a: c for a, c in counts.items() if c} for n, counts in plan.counts.items()
                }
                out.write(
                    f"{label:<6} {seconds:7.2f} s (target < {TARGETS[label]:.0f} s)  rows written "
                    f"{written:,}  counts {changed}"
                )
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out.write(f"peak memory {peak_mb:,.0f} MB (target < 1024 MB)")
        out.write(
            f"students {Student.objects.count():,}, rosters {Roster.objects.count():,} "
            f"(ended {Roster.objects.filter(end_date__isnull=False).count():,})"
        )
