"""Exchange reliability (R44, R45, R46, R47): run requests, the process lock, cancel, claims,
retries, the watchdog and the night window. Real-process trials are in test_chaos.py."""

import datetime as dt
import threading
import time

import pytest
from django.db import OperationalError, connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from exchange import locks, services, tasks
from exchange.flows import grades as grades_flow
from exchange.models import ExchangeRun, RunPart
from exchange.schedule import in_night_window
from schools.models import StaffRole
from tests.factories import UserFactory
from tests.world import AS_OF, build_kts_world


def _district_admin(world):
    user = UserFactory(is_staff=True)
    StaffRole.objects.create(user=user, role="district_admin", district=world.hs_school.district)
    return user


# --- R44: run requests ----------------------------------------------------------------


@pytest.mark.parametrize("as_of", ["1900-01-01", "2030-09-01"])
def test_r44_run_request_outside_current_and_previous_school_year_is_400(api, world, as_of):
    # when
    res = api.post("/api/v1/exchange/runs/", {"as_of": as_of}, format="json")
    # then: refused, nothing queued
    assert res.status_code == 400, res.json()
    assert "as_of" in res.json()
    assert not ExchangeRun.objects.exists()


def test_r44_run_request_in_previous_school_year_is_accepted(api, world, sync_q):
    # given: a date in the previous school year
    this_year = services.school_year_of(timezone.localdate())
    as_of = dt.date(this_year - 2, 9, 1)
    # when
    res = api.post("/api/v1/exchange/runs/", {"as_of": as_of.isoformat()}, format="json")
    # then
    assert res.status_code == 202, res.json()


def test_r44_second_real_run_while_one_is_queued_is_409(api, world):
    # given: a real run queued
    queued = ExchangeRun.objects.create(as_of=AS_OF, status="queued")
    # when
    res = api.post("/api/v1/exchange/runs/", {"as_of": AS_OF.isoformat()}, format="json")
    # then: a clear 409; nothing more queued
    assert res.status_code == 409
    assert res.json()["code"] == "run_already_active"
    assert f"Run {queued.pk} is already queued" in res.json()["non_field_errors"][0]
    assert ExchangeRun.objects.count() == 1


def test_r44_dry_run_is_allowed_beside_a_queued_real_run(api, world, monkeypatch):
    # given
    ExchangeRun.objects.create(as_of=AS_OF, status="queued")
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: None)
    # when
    res = api.post(
        "/api/v1/exchange/runs/", {"as_of": AS_OF.isoformat(), "dry_run": True}, format="json"
    )
    # then
    assert res.status_code == 202


# --- R45: cancel ------------------------------------------------------------------------


def test_r45_cancel_a_stuck_run_through_the_api(world):
    # given: a run stuck with a queued part, a district admin
    run = ExchangeRun.objects.create(as_of=AS_OF, status="running", started_at=timezone.now())
    part = RunPart.objects.create(run=run, tech_school=world.tech_school)
    client = APIClient()
    client.force_authenticate(_district_admin(world))
    # when
    res = client.post(f"/api/v1/exchange/runs/{run.pk}/cancel/")
    # then
    assert res.status_code == 200, res.content
    assert res.json()["status"] == "cancelled"
    part.refresh_from_db()
    assert part.status == "cancelled"
    # and a finished run cannot be cancelled: 409, unchanged
    res = client.post(f"/api/v1/exchange/runs/{run.pk}/cancel/")
    assert res.status_code == 409 and res.json()["code"] == "run_not_active"


def test_r45_cancel_is_refused_to_a_teacher(world):
    # given
    run = ExchangeRun.objects.create(as_of=AS_OF, status="queued")
    teacher = UserFactory()
    StaffRole.objects.create(user=teacher, role="teacher", school=world.hs_school)
    client = APIClient()
    client.force_authenticate(teacher)
    # when
    res = client.post(f"/api/v1/exchange/runs/{run.pk}/cancel/")
    # then: denied, nothing changed
    assert res.status_code in (403, 404)
    run.refresh_from_db()
    assert run.status == "queued"


def test_r45_cancel_button_on_the_exchange_page(client, world):
    # given: a queued run, a district admin on the dashboard
    run = ExchangeRun.objects.create(as_of=AS_OF, status="queued")
    client.force_login(_district_admin(world))
    page = client.get("/exchange/")
    assert f"/exchange/runs/{run.pk}/cancel/" in page.content.decode()
    # when
    res = client.post(f"/exchange/runs/{run.pk}/cancel/")
    # then
    assert res.status_code == 302
    run.refresh_from_db()
    assert run.status == "cancelled" and run.finished_at


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs a second connection")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_r45_cancelled_run_in_flight_rolls_its_part_back(monkeypatch):
    # given: a part that an operator cancels (another connection) while it applies
    world = build_kts_world()
    world.add_students(1)
    world.post_tech_grade(world.students[0], "90.00")
    real = grades_flow.sync_grades

    def cancelled_meanwhile(**kwargs):
        out = real(**kwargs)

        def operator():
            try:
                services.exchange_run_cancel(run=ExchangeRun.objects.get(pk=kwargs["run_id"]))
            finally:
                connections.close_all()

        thread = threading.Thread(target=operator)
        thread.start()
        thread.join(30)
        return out

    monkeypatch.setattr(grades_flow, "sync_grades", cancelled_meanwhile)
    # when
    run = services.exchange_run(as_of=AS_OF, trigger="test", inline=True)
    # then: nothing of the part was written
    assert run.status == "cancelled"
    assert not world.hs_grades().exists()


def test_r45_lock_is_held_by_one_holder_at_a_time(db):
    # given
    first = locks.ProcessLock(locks.RUN_NAMESPACE, 424242)
    second = locks.ProcessLock(locks.RUN_NAMESPACE, 424242)
    # when / then
    assert first.acquire()
    assert locks.held(locks.RUN_NAMESPACE, 424242)
    assert not second.acquire()
    first.release()
    assert not locks.held(locks.RUN_NAMESPACE, 424242)
    assert second.acquire()
    second.release()


def _lock_backend(namespace: int, key: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = %s AND objid = %s",
            [namespace, key],
        )
        return cursor.fetchone()[0]


def _locked(monkeypatch, *, conn_max_age: int, key: int):
    """A part lock taken with Django's ``CONN_MAX_AGE`` set so, and its session's pid."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", conn_max_age)
    lock = locks.ProcessLock(locks.PART_NAMESPACE, key)
    assert lock.acquire()
    return lock, _lock_backend(locks.PART_NAMESPACE, key)


def _session_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %s)", [pid])
        return cursor.fetchone()[0]


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_r46_one_lock_session_serves_a_workers_parts_one_after_another(db, monkeypatch):
    # given: Django keeps its connections (CONN_MAX_AGE > 0)
    # when: one part's lock, then the next part's
    first, session = _locked(monkeypatch, conn_max_age=60, key=515151)
    first.release()
    second = locks.ProcessLock(locks.PART_NAMESPACE, 515152)
    assert second.acquire()
    # then: the same session holds the next lock, and released the first
    assert _lock_backend(locks.PART_NAMESPACE, 515152) == session
    assert not locks.held(locks.PART_NAMESPACE, 515151)
    # when: the idle session is cut off between two parts
    second.release()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [session])
    third = locks.ProcessLock(locks.PART_NAMESPACE, 515153)
    # then: the next lock opens a new session
    assert third.acquire()
    assert _lock_backend(locks.PART_NAMESPACE, 515153) != session
    third.release()


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_r46_lock_session_ends_with_its_last_lock_without_conn_max_age(db, monkeypatch):
    # given: Django closes its connections after each request (CONN_MAX_AGE 0)
    lock, session = _locked(monkeypatch, conn_max_age=0, key=525252)
    # when
    lock.release()
    # then: the session is gone (the server ends it once the client leaves)
    for _ in range(50):
        if not _session_alive(session):
            break
        time.sleep(0.02)
    assert not _session_alive(session)


# --- R46: claims, retries, the watchdog -------------------------------------------------


def test_r46_part_delivered_twice_runs_once(world, monkeypatch):
    # given: a cluster run whose part task is delivered twice
    for s in world.students:
        world.post_tech_grade(s, "91.00")
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: None)
    run = services.exchange_run(as_of=AS_OF, trigger="test", inline=False)
    # when
    first = services.exchange_run_school(run_id=run.pk, tech_school_id=world.tech_school.pk)
    second = services.exchange_run_school(run_id=run.pk, tech_school_id=world.tech_school.pk)
    # then: one claim, one history row per grade
    assert first.status == second.status == "succeeded"
    assert second.attempts == 1
    from grading.models import GradeHistory

    assert GradeHistory.objects.filter(grade__section=world.hs_section).count() == 3


def test_r46_a_part_not_the_last_leaves_the_run_open_without_locking_it(db, monkeypatch):
    # given: a cluster run of two technical schools' parts, their tasks not sent
    first, second = build_kts_world(students=1), build_kts_world(students=1)
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: None)
    run = services.exchange_run(as_of=AS_OF, trigger="test", inline=False)
    assert run.parts.count() == 2
    # when: the first part runs
    with CaptureQueriesContext(connection) as queries:
        part = services.exchange_run_school(run_id=run.pk, tech_school_id=first.tech_school.pk)
    # then: it succeeded and the run stays open; its look at the other part neither locked
    # the run nor read every part's counts (what closing the run does)
    assert part.status == "succeeded"
    run.refresh_from_db()
    assert run.status == "running" and run.finished_at is None
    closing = [
        q["sql"]
        for q in queries.captured_queries
        if "FOR UPDATE" in q["sql"]
        or q["sql"].startswith('SELECT "exchange_runpart"."tech_school_id"')
    ]
    assert not closing
    # when: the last part runs, then it closes the run with both parts' counts
    services.exchange_run_school(run_id=run.pk, tech_school_id=second.tech_school.pk)
    run.refresh_from_db()
    assert run.status == "succeeded" and run.counts["enrollments"]["added"] == 2


def test_r46_part_held_by_a_live_worker_is_not_claimed_again(world, monkeypatch):
    # given: a part whose worker holds its lock
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: None)
    run = services.exchange_run(as_of=AS_OF, trigger="test", inline=False)
    part = run.parts.get()
    with locks.ProcessLock(locks.PART_NAMESPACE, part.pk) as lock:
        assert lock.acquire()
        # when
        again = services.exchange_run_school(run_id=run.pk, tech_school_id=world.tech_school.pk)
    # then
    assert (again.status, again.attempts) == ("queued", 0)


def test_r46_database_error_is_recorded_and_retried_with_backoff(world, monkeypatch, settings):
    # given: a grade flow that loses its connection once
    settings.EXCHANGE_RETRY_BACKOFF = 0.01
    world.post_tech_grade(world.students[0], "90.00")
    real = grades_flow.sync_grades
    calls = []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    monkeypatch.setattr(grades_flow, "sync_grades", flaky)
    # when
    run = services.exchange_run(as_of=AS_OF, trigger="test", inline=True)
    # then: the failure is recorded on the part, the retry applied it
    part = run.parts.get()
    assert run.status == "succeeded"
    assert part.attempts == 2 and "attempt 1: OperationalError" in part.error
    assert world.hs_grades().count() == 1


def test_r46_retries_are_bounded(world, monkeypatch, settings):
    # given: a part failing on every attempt
    settings.EXCHANGE_RETRY_BACKOFF = 0.01
    settings.EXCHANGE_PART_ATTEMPTS = 3

    def down(**kwargs):
        raise OperationalError("lock timeout")

    monkeypatch.setattr(grades_flow, "sync_grades", down)
    # when
    run = services.exchange_run(as_of=AS_OF, trigger="test", inline=True)
    # then
    part = run.parts.get()
    assert (run.status, part.status, part.attempts) == ("failed", "failed", 3)
    assert "attempt 3: OperationalError: lock timeout" in run.error


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL settings")
def test_r46_part_transaction_has_timeouts_and_does_not_wait_for_its_wal_flush(
    world, monkeypatch, settings
):
    # given: a flow that reads the settings its transaction runs under
    settings.EXCHANGE_LOCK_TIMEOUT = "7s"
    with connection.cursor() as cursor:
        cursor.execute("SET jit = on")  # whatever the server's default, the part turns it off
    seen = {}
    real = grades_flow.sync_grades

    def reading(**kwargs):
        with connection.cursor() as cursor:
            for name in ("lock_timeout", "statement_timeout", "synchronous_commit", "jit"):
                cursor.execute(f"SHOW {name}")
                seen[name] = cursor.fetchone()[0]
        return real(**kwargs)

    monkeypatch.setattr(grades_flow, "sync_grades", reading)
    # when
    run = services.exchange_run(as_of=AS_OF, trigger="test", inline=True)
    # then (set with set_config(..., true): for the part's transaction only)
    assert run.status == "succeeded"
    assert seen == {
        "lock_timeout": "7s",
        "statement_timeout": "30min",
        "synchronous_commit": "off",
        "jit": "off",
    }


def test_r46_program_error_is_not_retried(world, monkeypatch):
    # given
    def broken(**kwargs):
        raise ValueError("bug")

    monkeypatch.setattr(grades_flow, "sync_grades", broken)
    # when
    run = services.exchange_run(as_of=AS_OF, trigger="test", inline=True)
    # then
    assert (run.status, run.parts.get().attempts) == ("failed", 1)


def test_r46_watchdog_requeues_a_dead_workers_part_and_resends_lost_tasks(world, monkeypatch):
    # given: a cluster run whose worker died mid-part (running, lock free)
    sent = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: sent.append(a))
    run = services.exchange_run(as_of=AS_OF, trigger="test", inline=False)
    part = run.parts.get()
    RunPart.objects.filter(pk=part.pk).update(status="running", attempts=1)
    sent.clear()
    # when
    stats = tasks.watchdog()
    # then: the part is queued again and its task re-sent; the next delivery applies it
    assert stats["requeued"] == 1 and stats["resent"] == 1
    assert sent == [("exchange.tasks.run_school_part", run.pk, world.tech_school.pk)]
    tasks.run_school_part(run.pk, world.tech_school.pk)
    run.refresh_from_db()
    assert run.status == "succeeded" and run.parts.get().attempts == 2


def test_r46_watchdog_restarts_a_run_whose_start_task_was_lost(world, monkeypatch):
    # given: a cluster run asked for 10 minutes ago and still queued (its task was lost)
    sent = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: sent.append(a))
    run = services.exchange_run_create(as_of=AS_OF, trigger="test")
    ExchangeRun.objects.filter(pk=run.pk).update(
        inline=False, created_at=timezone.now() - dt.timedelta(minutes=10)
    )
    fresh = services.exchange_run_create(as_of=AS_OF, dry_run=True, trigger="test")
    ExchangeRun.objects.filter(pk=fresh.pk).update(inline=False)  # asked for just now
    # when
    stats = tasks.watchdog()
    # then: only the old one's start is sent again; delivered twice, it starts once
    assert stats["restarted"] == 1
    assert sent == [("exchange.tasks.start_run", run.pk)]
    tasks.start_run(run.pk)
    tasks.start_run(run.pk)
    run.refresh_from_db()
    assert run.parts.count() == 1 and run.status in ("running", "succeeded")


def test_r46_watchdog_schedule_exists(db):
    from django_q.models import Schedule

    s = Schedule.objects.get(name="exchange-watchdog")
    assert (s.func, s.schedule_type, s.minutes) == ("exchange.tasks.watchdog", "I", 2)


# --- R47: schedules ---------------------------------------------------------------------


def test_r47_nightly_exchange_does_not_run_outside_the_window(world, settings, monkeypatch):
    # given: noon, outside the night window
    settings.EXCHANGE_NIGHT_WINDOW = "00:00-06:00"
    noon = timezone.make_aware(dt.datetime(2026, 9, 15, 12, 0))
    monkeypatch.setattr(tasks, "in_night_window", lambda: in_night_window(noon))
    # when
    result = tasks.nightly_exchange()
    # then
    assert result is None and not ExchangeRun.objects.exists()


def test_r47_night_window_may_span_midnight(settings):
    settings.EXCHANGE_NIGHT_WINDOW = "22:00-05:00"
    at = lambda h: timezone.make_aware(dt.datetime(2026, 9, 15, h, 0))  # noqa: E731
    assert in_night_window(at(23)) and in_night_window(at(1))
    assert not in_night_window(at(12)) and not in_night_window(at(5))


def test_r47_migrated_schedules_have_night_time_next_runs(db):
    from django_q.models import Schedule

    # then: whenever the first cluster starts, these run at night, not 30 s later
    nightly = timezone.localtime(Schedule.objects.get(name="exchange-nightly").next_run)
    daily = timezone.localtime(Schedule.objects.get(name="grading-windows-daily").next_run)
    weekly = timezone.localtime(Schedule.objects.get(name="stale-grades-weekly").next_run)
    assert (nightly.hour, nightly.minute) == (1, 30)
    assert (daily.hour, daily.minute) == (0, 15)
    assert (weekly.weekday(), weekly.hour) == (0, 6)


def test_r47_refused_scheduled_run_is_retried_when_the_running_one_ends(
    world, sync_q, settings, monkeypatch
):
    # given: a live run holds the lock when the schedule fires
    settings.EXCHANGE_NIGHT_WINDOW = "00:00-23:59"
    world.post_tech_grade(world.students[0], "90.00")
    live = ExchangeRun.objects.create(
        as_of=AS_OF, status="running", started_at=timezone.now(), inline=True
    )
    lock = locks.ProcessLock(locks.RUN_NAMESPACE, live.pk)
    assert lock.acquire()
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: AS_OF)
    refused = ExchangeRun.objects.get(pk=tasks.nightly_exchange())
    assert (refused.status, refused.retry_pending) == ("failed", True)
    # when: the running one ends
    lock.release()
    services.exchange_run_cancel(run=live)
    # then: the scheduled run ran again, once
    retry = ExchangeRun.objects.filter(trigger="schedule").exclude(pk=refused.pk).get()
    assert retry.status == "succeeded"
    assert world.hs_grades().count() == 1
    refused.refresh_from_db()
    assert not refused.retry_pending
