"""Chaos trials of the exchange with real processes (R45, R46, R47, R29) on PostgreSQL.

Each trial kills, stalls or cuts off a real ``run_exchange`` or ``qcluster`` process and
checks that the next run completes and the database matches an uninterrupted run's
(a fingerprint of grades, grade history, enrollments, rosters and attendance).
"""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone

from attendance.models import Attendance
from exchange import services
from exchange.models import ExchangeRun, RunPart
from grading.models import Grade, GradeHistory
from schools.models import Enrollment, Roster
from tests.world import AS_OF, build_kts_world

ROOT = Path(__file__).resolve().parents[2]
TRIALS = int(os.environ.get("CHAOS_TRIALS", "2"))

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL: real processes share it"
    ),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _env(**extra) -> dict:
    db = connection.settings_dict
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": "",
        "Q_SYNC": "0",
        "EXCHANGE_LOCK_TIMEOUT": "120s",
        "EXCHANGE_RETRY_BACKOFF": "0.5",
        **extra,
    }


def _spawn(args: list[str], **env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: kill -9 takes every process
    )


def _worlds(n_schools: int = 2, n_students: int = 4) -> list:
    worlds = []
    for _ in range(n_schools):
        w = build_kts_world()
        for i, s in enumerate(w.add_students(n_students)):
            w.post_tech_grade(s, f"{70 + i}.00")
        worlds.append(w)
    return worlds


def fingerprint() -> tuple:
    """What the exchange wrote, by natural keys (ids and timestamps left out)."""
    return (
        sorted(
            Grade.objects.values_list(
                "student__state_id", "section_id", "grading_task_id", "term_id", "percent", "score"
            )
        ),
        sorted(
            GradeHistory.objects.values_list(
                "grade__student__state_id", "grade__section_id", "old_percent", "new_percent"
            )
        ),
        sorted(
            Enrollment.objects.values_list(
                "student__state_id", "calendar_id", "service_type", "start_date", "end_date"
            )
        ),
        sorted(
            Roster.objects.values_list("student__state_id", "section_id", "start_date", "end_date")
        ),
        sorted(Attendance.objects.values_list("student_id", "section_id", "date", "code_id")),
    )


def reference_fingerprint() -> tuple:
    """An uninterrupted run's result, rolled back so the trial starts from the same state."""
    with transaction.atomic():
        run = services.exchange_run(as_of=AS_OF, trigger="test", inline=True)
        assert run.status == "succeeded", run.error
        result = fingerprint()
        transaction.set_rollback(True)
    ExchangeRun.objects.all().delete()
    return result


def _wait_for_lock_wait(timeout: float = 60) -> int:
    """The pid of a backend of the test database waiting on a lock (a stalled part)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            row = cursor.fetchone()
            if row:
                return row[0]
            time.sleep(0.2)
    raise AssertionError("the exchange never blocked on the held lock")


def _hold_table_lock():
    """A second connection holding an exclusive lock on the grade table."""
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    conn = psycopg.connect(**params)
    conn.execute("LOCK TABLE grading_grade IN ACCESS EXCLUSIVE MODE")
    return conn


@pytest.mark.parametrize("trial", range(TRIALS))
def test_r45_run_killed_while_stalled_then_rerun_at_once_matches_an_uninterrupted_run(trial):
    # given: linked worlds with tech grades and the result of an uninterrupted run
    _worlds()
    expected = reference_fingerprint()
    # when: a run stalls on a held table lock and is killed with -9; the lock is released
    blocker = _hold_table_lock()
    proc = _spawn(["run_exchange", "--as-of", AS_OF.isoformat()])
    try:
        _wait_for_lock_wait()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        blocker.rollback()
        blocker.close()
    killed = ExchangeRun.objects.get()
    assert killed.status == "running"
    # and a rerun starts at once
    rerun = _spawn(["run_exchange", "--as-of", AS_OF.isoformat()])
    out = rerun.communicate(timeout=120)[0].decode()
    # then: the rerun succeeds, the dead run is abandoned, the data equal the reference
    assert rerun.returncode == 0, out
    killed.refresh_from_db()
    assert killed.status == "abandoned" and "process stopped" in killed.error
    assert fingerprint() == expected


@pytest.mark.parametrize("trial", range(TRIALS))
def test_r46_same_part_delivered_twice_at_once_writes_once(trial, monkeypatch):
    # given: a cluster run whose part task two workers receive at the same time
    (w,) = _worlds(1, 6)
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: None)
    run = services.exchange_run(as_of=AS_OF, trigger="test", inline=False)
    code = f"from exchange import tasks; tasks.run_school_part({run.pk}, {w.tech_school.pk})"
    # when
    procs = [_spawn(["shell", "-c", code]) for _ in range(2)]
    outs = [p.communicate(timeout=120)[0].decode() for p in procs]
    # then: one claim, one history row per change
    assert all(p.returncode == 0 for p in procs), outs
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert run.parts.get().attempts == 1
    assert GradeHistory.objects.filter(grade__section=w.hs_section).count() == 6
    assert w.hs_grades().count() == 6


@pytest.mark.parametrize("trial", range(TRIALS))
def test_r46_connection_terminated_mid_part_failure_recorded_next_run_completes(trial):
    # given
    _worlds()
    expected = reference_fingerprint()
    # when: the part's connection is terminated while it waits on a lock (one attempt only)
    blocker = _hold_table_lock()
    proc = _spawn(["run_exchange", "--as-of", AS_OF.isoformat()], EXCHANGE_PART_ATTEMPTS="1")
    try:
        pid = _wait_for_lock_wait()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        blocker.rollback()
        blocker.close()
    out = proc.communicate(timeout=120)[0].decode()
    # then: the run records the failure with its reason
    assert proc.returncode != 0, out
    failed = ExchangeRun.objects.get()
    assert failed.status == "failed"
    assert "OperationalError" in failed.error and "terminat" in failed.error
    # and the next run completes and matches an uninterrupted run
    rerun = _spawn(["run_exchange", "--as-of", AS_OF.isoformat()])
    out = rerun.communicate(timeout=120)[0].decode()
    assert rerun.returncode == 0, out
    assert fingerprint() == expected


def _noon_zone() -> str:
    """A fixed-offset zone in which it is now about noon."""
    offset = (12 - timezone.now().astimezone(dt.UTC).hour) % 24
    if offset > 14:
        offset -= 24
    # Etc/GMT-5 is UTC+5 (POSIX sign).
    return f"Etc/GMT{'-' if offset >= 0 else '+'}{abs(offset)}"


@pytest.mark.cluster
def test_r47_cluster_started_at_noon_does_not_run_the_nightly_exchange(monkeypatch):
    from django_q.models import Schedule, Task

    # given: a missed night (next_run in the past) and a cluster started where it is noon
    _worlds(1, 2)
    Schedule.objects.exclude(name="exchange-nightly").update(
        next_run=timezone.now() + dt.timedelta(days=1)
    )
    missed = timezone.now() - dt.timedelta(hours=10)
    Schedule.objects.filter(name="exchange-nightly").update(next_run=missed)
    proc = _spawn(["qcluster"], DJANGO_TIME_ZONE=_noon_zone(), Q_WORKERS="1")
    try:
        # when: the cluster's scheduler hands the missed schedule's task to a worker
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            if Task.objects.filter(func="exchange.tasks.nightly_exchange").exists():
                break
            time.sleep(1)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    # then: the task ran and refused; no run; the schedule's next run is at night again
    task = Task.objects.get(func="exchange.tasks.nightly_exchange")
    assert task.success and task.result is None
    assert Schedule.objects.get(name="exchange-nightly").next_run > timezone.now()
    assert not ExchangeRun.objects.exists()
    assert not RunPart.objects.exists()


@pytest.mark.cluster
@pytest.mark.parametrize("trial", range(max(1, TRIALS // 2)))
def test_r46_two_clusters_one_killed_mid_run_the_watchdog_completes_the_run(trial):
    from django_q.brokers import get_broker
    from django_q.models import Schedule

    # given: two tech schools' parts, the watchdog every minute, a cluster on the broker
    # (Redis when REDIS_URL is set: it hands a task out once, without acknowledgement)
    _worlds(2, 3)
    expected = reference_fingerprint()
    Schedule.objects.update(next_run=timezone.now() + dt.timedelta(days=1))
    Schedule.objects.filter(name="exchange-watchdog").update(minutes=1, next_run=timezone.now())
    get_broker().purge_queue()
    env = {"REDIS_URL": os.environ.get("REDIS_URL", ""), "Q_WORKERS": "1"}
    blocker = _hold_table_lock()
    first = _spawn(["qcluster"], **env)
    second = None
    try:
        run = services.exchange_run(as_of=AS_OF, trigger="test", inline=False)
        _wait_for_lock_wait(90)  # the first cluster is applying a part, stalled
        assert run.parts.filter(status="running").exists()
        second = _spawn(["qcluster"], **env)
        time.sleep(5)
        # when: the first cluster is killed mid-part, then the stall ends
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        blocker.rollback()
        blocker.close()
        started = time.monotonic()
        while time.monotonic() - started < 180:
            run.refresh_from_db()
            if run.status not in ("queued", "running"):
                break
            time.sleep(1)
        elapsed = time.monotonic() - started
    finally:
        if not blocker.closed:
            blocker.close()
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
    # then: the surviving cluster completes the run within the watchdog's interval (one
    # minute here, plus the scheduler's 30 s tick); nothing lost or doubled
    assert run.status == "succeeded", (run.status, run.error)
    assert elapsed < 120, elapsed
    assert fingerprint() == expected
    assert sum(p.counts["grades"]["added"] for p in run.parts.all()) == 6
    # the killed cluster's part was claimed again (once), not run twice
    assert sorted(p.attempts for p in run.parts.all())[-1] == 2
    print(f"chaos two-clusters: run completed {elapsed:.0f}s after the kill")
