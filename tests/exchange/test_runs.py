"""Running the exchange: records, atomic parts, the lock, dry run, entry points (R28, R29, R39)."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from exchange import locks, services, tasks
from exchange.models import ExchangeOutcome, ExchangeRun, RunPart
from exchange.services import parts
from grading.models import Grade, GradeHistory
from schools.models import Enrollment, Roster
from tests.world import AS_OF, build_kts_world


def _run(**kw):
    return services.exchange_run(as_of=AS_OF, trigger="test", inline=True, **kw)


def _snapshot():
    return (
        list(Grade.objects.order_by("id").values_list("id", "percent", "score", "modified_at")),
        GradeHistory.objects.count(),
        list(Roster.objects.order_by("id").values_list("id", "end_date", "modified_at")),
        Enrollment.objects.count(),
    )


def test_r29_run_is_recorded_with_counts_and_outcomes(world):
    # given
    for s in world.students:
        world.post_tech_grade(s, "90.00")
    # when
    run = _run()
    # then
    assert run.status == "succeeded" and run.started_at and run.finished_at
    assert set(run.counts) == {"enrollments", "grades", "attendance"}
    assert run.counts["grades"]["added"] == 3
    assert ExchangeOutcome.objects.filter(run=run, flow="grades", action="added").count() == 3
    part = RunPart.objects.get(run=run)
    assert (part.tech_school_id, part.status) == (world.tech_school.pk, "succeeded")


def test_r29_second_run_with_no_change_writes_nothing(world):
    # given: a first run applied everything
    for s in world.students:
        world.post_tech_grade(s, "77.00")
    _run()
    before = _snapshot()
    # when
    run = _run()
    # then: nothing but the run record, its part and no per-record rows (unchanged = counted)
    assert _snapshot() == before
    assert run.counts["grades"]["unchanged"] == 3
    assert run.counts["enrollments"]["unchanged"] == 3
    assert not ExchangeOutcome.objects.filter(run=run).exists()


def test_r29_run_killed_mid_school_leaves_it_unapplied_and_next_run_completes(db, monkeypatch):
    # given: two tech schools
    first, second = build_kts_world(), build_kts_world()
    for w in (first, second):
        for s in w.add_students(2):
            w.post_tech_grade(s, "85.00")
    real_save = parts.save_outcomes

    def dies_at_second_school(*, run_id, tech_school_id, outcomes):
        real_save(run_id=run_id, tech_school_id=tech_school_id, outcomes=outcomes)
        if tech_school_id == second.tech_school.pk:
            raise RuntimeError("killed")

    monkeypatch.setattr(parts, "save_outcomes", dies_at_second_school)
    # when: the run dies after the second school's work was done (not committed)
    run = _run()
    # then: the first school is applied, the second not at all
    assert run.status == "failed" and "killed" in run.error
    assert first.hs_grades().count() == 2
    assert second.hs_grades().count() == 0
    assert not Roster.objects.filter(section=second.tech_section).exists()
    assert not ExchangeOutcome.objects.filter(run=run, tech_school=second.tech_school).exists()
    # when: the next run
    monkeypatch.setattr(parts, "save_outcomes", real_save)
    rerun = _run()
    # then: it completes the second school, the first is unchanged
    assert rerun.status == "succeeded"
    assert second.hs_grades().count() == 2
    assert rerun.counts["grades"] == {**rerun.counts["grades"], "added": 2, "unchanged": 2}


def _live_run():
    """A running run whose process (this one) holds its lock, as a live runner does."""
    other = ExchangeRun.objects.create(
        as_of=AS_OF, status="running", started_at=timezone.now(), inline=True
    )
    lock = locks.ProcessLock(locks.RUN_NAMESPACE, other.pk)
    assert lock.acquire()
    return other, lock


def test_r28_second_run_refuses_while_one_is_running(world):
    # given: a run in progress
    other, lock = _live_run()
    world.post_tech_grade(world.students[0], "90.00")
    # when
    with lock:
        run = _run()
    # then: refused, nothing written
    assert (run.status, run.error) == ("failed", services.ANOTHER_RUN)
    assert not world.hs_grades().exists()
    assert not RunPart.objects.filter(run=run).exists()


def test_r45_dead_run_is_abandoned_at_once_by_the_next_run(world):
    # given: a run whose process died a second ago (its lock went with it), one part applied
    old = ExchangeRun.objects.create(
        as_of=AS_OF, status="running", started_at=timezone.now(), inline=True
    )
    stuck = RunPart.objects.create(run=old, tech_school=world.tech_school, status="running")
    # when
    run = _run()
    # then: the next run does the work and records the dead one with the reason
    assert run.status == "succeeded"
    old.refresh_from_db()
    stuck.refresh_from_db()
    assert old.status == "abandoned" and "process stopped" in old.error
    assert f"run {run.pk} took over" in old.error
    assert stuck.status == "abandoned"


def test_r45_run_released_by_its_process_is_not_live(world):
    # given: a run whose lock was taken then released (its process ended)
    other, lock = _live_run()
    lock.release()
    # when
    run = _run()
    # then
    assert run.status == "succeeded"
    other.refresh_from_db()
    assert other.status == "abandoned"


def test_r39_dry_run_computes_outcomes_and_writes_nothing_else(world):
    # given
    for s in world.students:
        world.post_tech_grade(s, "66.00")
    before = _snapshot()
    # when
    run = _run(dry_run=True)
    # then: every outcome is computed and recorded; no grade, roster or enrollment written
    assert run.status == "succeeded" and run.dry_run
    assert run.counts["grades"]["added"] == 3
    assert run.counts["enrollments"]["added"] == 3
    assert ExchangeOutcome.objects.filter(run=run, action="added").count() == 6
    assert _snapshot() == before


def test_r28_command_runs_in_the_foreground_and_prints_counts(world):
    # given
    world.post_tech_grade(world.students[0], "90.00")
    out = StringIO()
    # when
    call_command("run_exchange", "--as-of", AS_OF.isoformat(), stdout=out)
    # then
    text = out.getvalue()
    assert "1/1 tech schools" in text and "succeeded" in text
    assert "grades" in text and world.hs_grades().count() == 1


def test_r28_command_exits_non_zero_when_the_run_fails(world):
    # given: another run in progress
    other, lock = _live_run()
    # when / then
    with lock, pytest.raises(CommandError, match="another run"):
        call_command("run_exchange", "--as-of", AS_OF.isoformat(), stdout=StringIO())


def test_r28_command_dry_run(world):
    # given
    world.post_tech_grade(world.students[0], "90.00")
    # when
    call_command("run_exchange", "--as-of", AS_OF.isoformat(), "--dry-run", stdout=StringIO())
    # then
    assert ExchangeRun.objects.get().dry_run
    assert not world.hs_grades().exists()


def test_r28_nightly_task_runs_in_sync_mode(world, sync_q, monkeypatch):
    # given: the cluster in sync mode, the night of AS_OF
    world.post_tech_grade(world.students[0], "90.00")
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: AS_OF)
    # when: the scheduled function runs
    monkeypatch.setattr(tasks, "in_night_window", lambda: True)
    run_id = tasks.nightly_exchange()
    # then
    run = ExchangeRun.objects.get(pk=run_id)
    assert (run.trigger, run.status) == ("schedule", "succeeded")
    assert world.hs_grades().get().percent == Decimal("90.00")


def test_r28_nightly_schedule_exists(db):
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="exchange-nightly")
    assert schedule.func == "exchange.tasks.nightly_exchange"


def test_r28_part_queued_as_django_q_tasks_when_not_in_sync_mode(world, monkeypatch):
    # given: an async cluster (captured)
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: queued.append(a))
    # when
    run = services.exchange_run(as_of=AS_OF, trigger="test", inline=False)
    # then: one task per tech school; the run finishes when its parts have run
    assert queued == [("exchange.tasks.run_school_part", run.pk, world.tech_school.pk)]
    assert run.status == "running"
    assert run.parts.get().queued_at is not None  # when its task was sent (R46)
    tasks.run_school_part(run.pk, world.tech_school.pk)
    tasks.run_school_part(run.pk, world.tech_school.pk)  # delivered twice: harmless
    run.refresh_from_db()
    assert run.status == "succeeded" and run.counts["enrollments"]["added"] == 3


def test_r28_part_task_is_recorded_by_its_part_not_in_the_task_log(world, monkeypatch):
    # given: django-q2 running each task in this process as it is queued (its worker and
    # its monitor, which saves task results)
    from django_q.conf import Conf
    from django_q.models import Failure, Success

    monkeypatch.setattr(Conf, "SYNC", True)
    # when
    run = services.exchange_run(as_of=AS_OF, trigger="test", inline=False)
    # then: the part's outcome is on its RunPart; the task log keeps no success row for it
    # (the monitor would otherwise re-read up to its save limit of rows per part)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert run.parts.get().status == "succeeded"
    assert not Success.objects.exists()
    assert not Failure.objects.exists()


@pytest.mark.parametrize("n_students", [5, 50])
def test_r29_query_count_does_not_grow_with_students(db, n_students, django_assert_max_num_queries):
    # given: a world with n students, each with a tech grade, already exchanged once
    w = build_kts_world()
    for s in w.add_students(n_students):
        w.post_tech_grade(s, "88.00")
    # when / then: a first full run and a no-change run take a fixed number of queries
    # (R45/R46 add a fixed few: lock probes, the part claim and its fenced commit; the
    # first run's new tech rosters one more: the data version cached reports are keyed on;
    # the part's claim answers its row, and the grade upsert is one statement; on
    # PostgreSQL each run's start prunes the input journal: one statement.)
    with django_assert_max_num_queries(48):
        first = _run()
    with django_assert_max_num_queries(35 + (connection.vendor == "postgresql")):
        second = _run()
    assert first.counts["grades"]["added"] == n_students
    assert second.counts["grades"]["unchanged"] == n_students
