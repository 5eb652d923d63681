"""The API under load, for ``manage.py bench_load``.

The data set is ``bench_exchange``'s (``dataset.py``: 40,000 students, the exchange run so
the HS grades exist) plus the 1,500-student high school of ``bench_reports`` (360 sections,
a grade in every one of its students' six sections). Registrars of that school read the
reports over HTTP from ``gunicorn -w 4``; an asyncio client keeps ``concurrency`` requests
in flight per endpoint for a fixed time and records each answer's status and latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection

REPORT_SCHOOL_PREFIX = "Bench High"  # bench_reports names its school "Bench High <tag>"
USER_PREFIX = "bench-load-registrar-"
BASE_DIR = Path(settings.BASE_DIR)
logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request


# --- the endpoints ------------------------------------------------------------------------


@dataclass
class Endpoint:
    """One API read: the paths the users cycle through and a check that an answer holds
    real data (not an empty list a wrong scope would give)."""

    name: str
    paths: list[str]
    check: Callable[[object], str | None]
    target: float  # req/s


def _non_empty_list(body) -> str | None:
    if not isinstance(body, list) or not body:
        return "an empty or non-list answer"
    return None


def _report_card(body) -> str | None:
    if not isinstance(body, dict) or not body.get("sections"):
        return "a report card without sections"
    if not any(s.get("grades") for s in body["sections"]):
        return "a report card without grades"
    return None


def _page(body) -> str | None:
    if not isinstance(body, dict) or not body.get("results") or not body.get("count"):
        return "an empty page"
    return None


def endpoints() -> list[Endpoint]:
    """The reads under test, on the report school's first term."""
    from grading.models import Grade
    from schools.models import School, Section, Student, Term

    school = School.objects.filter(name__startswith=REPORT_SCHOOL_PREFIX).order_by("-pk").first()
    if school is None:
        raise LookupError("No bench_reports school; build the data set first.")
    term = Term.objects.filter(calendar__school=school).order_by("calendar__school_year", "seq")[0]
    students = list(
        Student.objects.filter(enrollments__calendar__school=school)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    sections = list(
        Section.objects.filter(course__calendar__school=school)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    grades = Grade.objects.filter(term=term, section__course__calendar__school=school).count()
    pages = max(1, min(20, grades // 50))
    api = "/api/v1"
    return [
        Endpoint(
            "honor roll",
            [f"{api}/reports/honor-roll/?school={school.pk}&term={term.pk}"],
            _non_empty_list,
            60,
        ),
        Endpoint(
            "report card",
            [f"{api}/reports/report-card/?student={s}&term={term.pk}" for s in students],
            _report_card,
            100,
        ),
        Endpoint(
            "grade list (school, 50 a page)",
            [
                f"{api}/grades/?school={school.pk}&term={term.pk}&page={p}"
                for p in range(1, pages + 1)
            ],
            _page,
            100,
        ),
        Endpoint(
            "grade list (section)",
            [f"{api}/grades/?section={s}&term={term.pk}" for s in sections],
            _page,
            100,
        ),
    ]


# --- the data set -------------------------------------------------------------------------


def has_dataset() -> bool:
    from schools.models import District, School

    return (
        District.objects.filter(code="BENCH-KTS").exists()
        and School.objects.filter(name__startswith=REPORT_SCHOOL_PREFIX).exists()
    )


def build(*, students: int, report_students: int, out) -> None:
    """bench_exchange's data set with the exchange run over it, then bench_reports' HS."""
    from django.core.management import call_command
    from django.db import transaction

    from exchange import services
    from exchange.benchmarks import dataset

    def run_exchange(label: str) -> None:
        t = time.perf_counter()
        run = services.exchange_run(as_of=dataset.AS_OF, trigger="bench", inline=True)
        if run.status != "succeeded":
            raise RuntimeError(f"exchange run {run.pk} failed: {run.error}")
        out.write(f"  exchange ({label}): {run.counts} ({time.perf_counter() - t:.1f} s)")

    t0 = time.perf_counter()
    with transaction.atomic():
        data = dataset.build_dataset(students=students)
    out.write(
        f"  data set: {data.students} students, {data.high_schools} high schools, "
        f"{data.tech_schools} technical schools ({time.perf_counter() - t0:.1f} s)"
    )
    analyze()
    run_exchange("enrollments")
    out.write(f"  tech grades posted: {dataset.post_tech_grades()}")
    analyze()
    run_exchange("grades")
    call_command("bench_reports", students=report_students, skip_pdf=True, keep=True, stdout=out)
    analyze()


def analyze() -> None:
    """Fresh planner statistics, as autovacuum would give a live database."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def api_tokens(count: int) -> list[str]:
    """``count`` registrars of the report school, each with an API token (API.md: ``Token``
    authentication); made once, reused afterwards. Several users, not one: the per-user
    throttle applies to each as it would to real clients."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from schools.models import School, StaffRole

    school = School.objects.filter(name__startswith=REPORT_SCHOOL_PREFIX).order_by("-pk").first()
    user_model = get_user_model()
    tokens = []
    for i in range(count):
        user, created = user_model.objects.get_or_create(
            username=f"{USER_PREFIX}{i}", defaults={"first_name": "Bench", "last_name": str(i)}
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        StaffRole.objects.get_or_create(user=user, role="registrar", school=school)
        tokens.append(Token.objects.get_or_create(user=user)[0].key)
    return tokens


# --- the server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def gunicorn(*, workers: int, port: int, database_url: str) -> Iterator[subprocess.Popen]:
    """``gunicorn kts_project.wsgi -w workers`` on 127.0.0.1:port, production settings
    (DEBUG off: no query log kept per request), on the given database."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",  # plain HTTP on the loopback, no proxy
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "kts_project.wsgi",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=BASE_DIR,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start within 60 s") from None
                time.sleep(0.2)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- CPU accounting (Linux /proc; best effort) --------------------------------------------


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(entry.name))
    return out


def _cpu_seconds(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) of each live process of ``pids``."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return out


def _spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two readings (a process new in ``after`` from zero)."""
    return sum(v - before.get(pid, 0.0) for pid, v in after.items())


def _db_backends() -> list[int]:
    """PostgreSQL backend pids of the benchmark database (the server is local)."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return [r[0] for r in cursor.fetchall()]


# --- the client ---------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # ms of every answer
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    app_cpu: float = 0.0  # CPU seconds of the gunicorn workers
    client_cpu: float = 0.0  # CPU seconds of this process (the asyncio client)
    db_cpu: float = 0.0  # CPU seconds of the PostgreSQL backends
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before, after

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else 0.0
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[q - 1]


async def _drive(
    *, base: str, tokens: list[str], paths: list[str], seconds: float, result: Result | None
) -> None:
    import httpx

    limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=len(tokens))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        stop = time.perf_counter() + seconds

        async def user(token: str, seed: int) -> None:
            pick = random.Random(seed)
            headers = {"Authorization": f"Token {token}"}
            while time.perf_counter() < stop:
                path = paths[pick.randrange(len(paths))]
                t = time.perf_counter()
                try:
                    r = await client.get(path, headers=headers)
                    code = r.status_code
                    await r.aread()
                except httpx.HTTPError:
                    code = 0
                if result is None:
                    continue
                result.latencies.append((time.perf_counter() - t) * 1000)
                result.statuses[code] = result.statuses.get(code, 0) + 1
                if not 200 <= code < 300:
                    result.errors += 1

        await asyncio.gather(*(user(tok, i) for i, tok in enumerate(tokens)))


def verify(*, base: str, token: str, endpoint: Endpoint) -> str | None:
    """One request per endpoint before the load: a 2xx answer holding real data."""
    import httpx

    r = httpx.get(base + endpoint.paths[0], headers={"Authorization": f"Token {token}"}, timeout=60)
    if r.status_code != 200:
        return f"{endpoint.name}: HTTP {r.status_code}: {r.text[:200]}"
    problem = endpoint.check(r.json())
    return f"{endpoint.name}: {problem}" if problem else None


def measure(
    *,
    base: str,
    tokens: list[str],
    endpoint: Endpoint,
    seconds: float,
    warmup: float,
    server: subprocess.Popen,
) -> Result:
    """``warmup`` seconds unrecorded, then ``seconds`` recorded, ``len(tokens)`` in flight."""
    if warmup:
        asyncio.run(
            _drive(base=base, tokens=tokens, paths=endpoint.paths, seconds=warmup, result=None)
        )
    result = Result(endpoint.name)
    workers = _children(server.pid)
    app0, db0 = _cpu_seconds(workers), _cpu_seconds(_db_backends())
    load0 = os.getloadavg()[0]
    client0 = time.process_time()
    t = time.perf_counter()
    asyncio.run(
        _drive(base=base, tokens=tokens, paths=endpoint.paths, seconds=seconds, result=result)
    )
    result.seconds = time.perf_counter() - t
    result.client_cpu = time.process_time() - client0
    result.app_cpu = _spent(app0, _cpu_seconds(workers))
    result.db_cpu = _spent(db0, _cpu_seconds(_db_backends()))
    result.load = (load0, os.getloadavg()[0])
    return result


# --- one request at a time ----------------------------------------------------------------


@dataclass
class Serial:
    """One endpoint's requests made one at a time in this process (the Django test client):
    the median CPU of this process per request, the PostgreSQL backend's CPU per request
    over the same requests, and the queries of one request."""

    name: str
    app_ms: list[float] = field(default_factory=list)
    db_ms: float = 0.0
    queries: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.app_ms) if self.app_ms else 0.0

    @property
    def best(self) -> float:
        return min(self.app_ms) if self.app_ms else 0.0


def _backend_pid() -> int | None:
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def serial(*, token: str, endpoint: Endpoint, requests: int, warm: bool = True) -> Serial:
    """``requests`` requests of ``endpoint`` one after the other, paths in a fixed random
    order; ``warm``: each path is asked once first, unrecorded (the answers a running
    server has cached), else the caches of this process and Redis are emptied before each
    request (nothing cached: every answer computed)."""
    from django.test.utils import override_settings

    # This process's settings are production's (DEBUG off); the test client's host.

    with override_settings(ALLOWED_HOSTS=["127.0.0.1"], SECURE_SSL_REDIRECT=False):
        return _serial(token=token, endpoint=endpoint, requests=requests, warm=warm)


def _serial(*, token: str, endpoint: Endpoint, requests: int, warm: bool) -> Serial:
    from django.core.cache import cache
    from django.db import connection as db
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from grading.selectors import cache as report_cache

    client = Client(HTTP_AUTHORIZATION=f"Token {token}", SERVER_NAME="127.0.0.1")
    pick = random.Random(7)
    paths = [endpoint.paths[pick.randrange(len(endpoint.paths))] for _ in range(requests)]
    if warm:
        for path in dict.fromkeys(paths):
            client.get(path, secure=True)
    out = Serial(endpoint.name)
    pid = _backend_pid()
    db0 = _cpu_seconds([pid]) if pid else {}
    for path in paths:
        if not warm:
            cache.clear()
            report_cache.clear_local()
        t = time.process_time()
        r = client.get(path, secure=True)
        out.app_ms.append((time.process_time() - t) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"{endpoint.name}: HTTP {r.status_code} for {path}")
    if pid:
        out.db_ms = _spent(db0, _cpu_seconds([pid])) * 1000 / len(paths)
    if not warm:
        cache.clear()
        report_cache.clear_local()
    with CaptureQueriesContext(db) as queries:
        client.get(paths[-1], secure=True)
    out.queries = len(queries)
    return out
