"""The report APIs under load: ``gunicorn -w 4`` driven by 50 concurrent API users.

Run it in a throwaway PostgreSQL database only:

    createdb kts_bench_load
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/kts_bench_load
    python manage.py migrate && python manage.py bench_load --yes
    python manage.py bench_load --yes --reuse     # again, on the data already built
    python manage.py bench_load --yes --reuse --serial 40   # CPU per request, one at a time

It builds ``bench_exchange``'s data set (40,000 students, the exchange run over it) and
``bench_reports``' 1,500-student high school, makes 50 registrars of that school with API
tokens, starts gunicorn on a free local port with the same ``DATABASE_URL``, checks that
every endpoint answers real data, then keeps 50 requests in flight for ``--seconds`` per
endpoint (honor roll, report card, grade list of the school and of a section) and prints
per endpoint: requests, errors (any non-2xx answer), req/s, p50/p95/p99 latency, the CPU
the gunicorn workers and the PostgreSQL backends used, and the load average. Exits
non-zero if any request failed.
"""

import os
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from exchange.benchmarks import load
from schools.models import Student


class Command(BaseCommand):
    help = "Drive the report APIs with concurrent users on gunicorn (throwaway database)."

    def add_arguments(self, parser):
        parser.add_argument("--yes", action="store_true", help="Confirm a throwaway database.")
        parser.add_argument(
            "--reuse", action="store_true", help="Use the data set already built here."
        )
        parser.add_argument("--students", type=int, default=40_000)
        parser.add_argument("--report-students", type=int, default=1500)
        parser.add_argument("--users", type=int, default=50, help="Requests in flight.")
        parser.add_argument("--workers", type=int, default=4, help="gunicorn workers.")
        parser.add_argument("--seconds", type=float, default=20, help="Per endpoint.")
        parser.add_argument("--warmup", type=float, default=3, help="Unrecorded, per endpoint.")
        parser.add_argument(
            "--only", default="", help="Comma-separated endpoint names to run (default all)."
        )
        parser.add_argument(
            "--serial",
            type=int,
            default=0,
            metavar="N",
            help="Instead of the load: N requests per endpoint one at a time in this process "
            "(Django test client), with the answers cached and with nothing cached.",
        )

    def handle(self, *args, yes, reuse, students, report_students, users, workers, **opts):
        if not yes:
            raise CommandError(
                "This fills the database with generated data and serves it. Point "
                "DATABASE_URL at a throwaway PostgreSQL database (e.g. kts_bench_load) and "
                "pass --yes."
            )
        if connection.vendor != "postgresql":
            raise CommandError("Run it on PostgreSQL: gunicorn's workers share the database.")
        out = self.stdout
        if reuse:
            if not load.has_dataset():
                raise CommandError("No data set here to reuse; run without --reuse first.")
            out.write("Reusing the data set.")
        else:
            if Student.objects.exists():
                raise CommandError(
                    "The database already holds students; use an empty one (or --reuse on "
                    "one this command built)."
                )
            out.write("Building the data set...")
            t = time.perf_counter()
            load.build(students=students, report_students=report_students, out=out)
            out.write(f"Built in {time.perf_counter() - t:.0f} s.")
        tokens = load.api_tokens(users)
        chosen = {n.strip() for n in opts["only"].split(",") if n.strip()}
        endpoints = [e for e in load.endpoints() if not chosen or e.name in chosen]
        if opts["serial"]:
            self._serial(endpoints, tokens[0], opts["serial"])
            return
        connection.close()  # the workers open their own

        port = load.free_port()
        base = f"http://127.0.0.1:{port}"
        database_url = os.environ.get("DATABASE_URL") or self._url()
        out.write(f"gunicorn -w {workers} on {base}, {users} users, {opts['seconds']:.0f} s each")
        results = []
        with load.gunicorn(workers=workers, port=port, database_url=database_url) as server:
            for endpoint in endpoints:
                problem = load.verify(base=base, token=tokens[0], endpoint=endpoint)
                if problem:
                    raise CommandError(f"The endpoint does not answer real data: {problem}")
            for endpoint in endpoints:
                result = load.measure(
                    base=base,
                    tokens=tokens,
                    endpoint=endpoint,
                    seconds=opts["seconds"],
                    warmup=opts["warmup"],
                    server=server,
                )
                results.append((endpoint, result))
                out.write(self._line(endpoint, result))
        out.write(f"{os.cpu_count()} CPUs; load average now {os.getloadavg()[0]:.2f}")
        failed = sum(r.errors for _, r in results)
        if failed:
            raise CommandError(f"{failed} requests failed (non-2xx answers).")

    def _serial(self, endpoints, token: str, requests: int) -> None:
        out = self.stdout
        out.write(f"One request at a time, {requests} per endpoint (DEBUG {settings.DEBUG})")
        for endpoint in endpoints:
            for warm in (True, False):
                r = load.serial(token=token, endpoint=endpoint, requests=requests, warm=warm)
                total = r.median + r.db_ms
                out.write(
                    f"{endpoint.name} ({'cached' if warm else 'nothing cached'}): app CPU "
                    f"median {r.median:.1f} ms (best {r.best:.1f}), PostgreSQL "
                    f"{r.db_ms:.1f} ms, {r.queries} queries; ceiling "
                    f"{(os.cpu_count() or 1) * 1000 / total if total else 0:.0f} req/s on "
                    f"{os.cpu_count()} CPUs"
                )
        out.write(f"load average now {os.getloadavg()[0]:.2f}")

    def _line(self, endpoint, r) -> str:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(r.statuses.items()))
        n = max(r.requests, 1)
        app_ms, db_ms = r.app_cpu * 1000 / n, r.db_cpu * 1000 / n
        # What the CPU per request allows if every core served this endpoint alone.
        ceiling = (os.cpu_count() or 1) * 1000 / (app_ms + db_ms) if app_ms + db_ms else 0
        return (
            f"{endpoint.name}: {r.requests} requests, {r.errors} errors, "
            f"{r.rate:.1f} req/s (target >= {endpoint.target}), p50 {r.pct(50):.0f} ms, "
            f"p95 {r.pct(95):.0f} ms, p99 {r.pct(99):.0f} ms; CPU per request: gunicorn "
            f"{app_ms:.1f} ms, PostgreSQL {db_ms:.1f} ms (ceiling {ceiling:.0f} req/s on "
            f"{os.cpu_count()} CPUs; client {r.client_cpu:.1f} s in all); load average "
            f"{r.load[0]:.2f} -> {r.load[1]:.2f} [{statuses}]"
        )

    def _url(self) -> str:
        db = settings.DATABASES["default"]
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        return (
            f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        )
