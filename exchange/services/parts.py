"""One tech school's part of a run (R29, R46): claimed exactly once, its flows, outcomes and
status applied all or nothing, retried with backoff on a database error; the last part to
finish closes the run."""

import datetime as dt
import functools
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Model
from django.utils import timezone

from exchange import bulk, locks
from exchange.flows import OUTCOME_KEYS, FlowResult, watermark
from exchange.flows import attendance as attendance_flow
from exchange.flows import enrollments as enrollments_flow
from exchange.flows import grades as grades_flow
from exchange.models import (
    Action,
    ExchangeOutcome,
    ExchangeRun,
    RunPart,
    RunStatus,
)
from exchange.services.base import (
    ACTIVE,
    count_outcomes,
    empty_counts,
    merge_counts,
    school_year_of,
)
from schools.access import sql
from schools.models import Roster

logger = logging.getLogger(__name__)


def _flows() -> Sequence[Callable[..., FlowResult | list[dict[str, Any]]]]:
    flows: list[Callable[..., FlowResult | list[dict[str, Any]]]] = [
        enrollments_flow.sync_enrollments,
        grades_flow.sync_grades,
    ]
    attendance = getattr(attendance_flow, "sync_unknown_attendance", None)
    if attendance is not None:
        flows.append(attendance)
    return flows


def save_outcomes(*, run_id: int, tech_school_id: int, outcomes: list[dict[str, Any]]) -> None:
    """Per-record outcomes (R21), copied as plain rows. ``unchanged`` ones are only counted:
    a quiet night of 80,000 unchanged grades would otherwise write 80,000 rows that say
    nothing."""
    unchanged = Action.UNCHANGED
    if all(o["action"] == unchanged for o in outcomes):
        return  # a quiet night: not even an empty COPY
    bulk.copy_rows(
        ExchangeOutcome,
        ("run_id", "tech_school_id", *OUTCOME_KEYS),  # the outcome keys are its attnames
        (
            (
                run_id,
                tech_school_id,
                o["flow"],
                o["action"],
                o.get("reason") or "",
                o.get("student_id"),
                o.get("hs_section_id"),
                o.get("source_id"),
                o.get("target_id"),
                (o.get("message") or "")[:300],
            )
            for o in outcomes
            if o["action"] != unchanged
        ),
    )


def _run_flows(**kwargs: Any) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Every flow for one tech school: the outcomes to record and the unchanged counts."""
    outcomes: list[dict[str, Any]] = []
    unchanged: Counter[str] = Counter()
    for flow in _flows():
        result = flow(**kwargs)
        if isinstance(result, FlowResult):
            outcomes += result.outcomes
            unchanged[result.flow] += result.unchanged
        else:
            outcomes += result
    return outcomes, unchanged


class _Superseded(Exception):
    """The part is no longer this worker's (cancelled, abandoned or re-queued): roll back."""


def set_timeouts() -> None:
    """R46: inside the part's transaction, a blocked lock or a runaway statement fails with
    a clear reason instead of waiting for ever (PostgreSQL; SQLite has its busy timeout).

    With the watermark on (R22), the part's transaction is REPEATABLE READ: its reads, its
    writes and the fingerprints taken after them see one snapshot. A row it writes that
    someone else changed meanwhile fails to serialize, and the part is tried again.

    The part's commit does not wait for its WAL flush (``synchronous_commit`` off for this
    transaction only): a server crash can lose only a whole recent part - its data and its
    ``succeeded`` together - which the watchdog then runs again; the run's own final status
    is committed synchronously, which flushes every part commit before it.

    No JIT compiling for the part's statements: the planner's costs for a part's writes
    (their correlated look-ups counted once per row) cross ``jit_above_cost`` while the
    statements run in milliseconds, and compiling one took up to 0.9 s - more than half of a
    full run's grade flow at 40,000 students."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('lock_timeout', %s, true),"
                " set_config('statement_timeout', %s, true),"
                " set_config('synchronous_commit', 'off', true),"
                " set_config('jit', 'off', true)",
                [str(settings.EXCHANGE_LOCK_TIMEOUT), str(settings.EXCHANGE_STATEMENT_TIMEOUT)],
            )


def _backoff(attempt: int) -> dt.timedelta:
    return dt.timedelta(seconds=settings.EXCHANGE_RETRY_BACKOFF * 2 ** (attempt - 1))


def _reconnect_if_broken() -> None:
    """After a lost connection, drop it so the next query opens a fresh one (R46)."""
    try:
        if connection.connection is not None and not connection.is_usable():
            connection.close()
    except Exception:  # noqa: BLE001 - closing a dead connection may itself fail
        connection.connection = None


def exchange_run_school(*, run_id: int, tech_school_id: int, finish: bool = True) -> RunPart:
    """R29, R46: one tech school's share of a run, applied all or nothing, exactly once.

    The part is claimed by a conditional update (queued -> running, one row or this call
    does nothing: a task delivered twice is a no-op) under a process lock on the part, so
    the watchdog knows a dead worker's part from a live one. The flows, the outcomes and the
    part's ``succeeded`` status commit together, and the commit is fenced on the claim still
    being ours. A database error (lost connection, lock timeout) is recorded after
    reconnecting and retried with backoff up to ``EXCHANGE_PART_ATTEMPTS``; any other error
    fails the part at once (R21: the other schools go on).
    """
    _reconnect_if_broken()  # a worker's connection may have died since its last task
    part = _read_part(run_id=run_id, tech_school_id=tech_school_id)
    lock = locks.ProcessLock(locks.PART_NAMESPACE, part.pk)
    if not lock.acquire():
        return part  # another worker is applying this part right now
    try:
        part = _apply_part(part, lock=lock)
    finally:
        lock.release()
    if finish and not _parts_active(run_id):
        finish_if_done(run_id=run_id)
    return part


def _parts_active(run_id: int) -> bool:
    """Is a part of the run still queued or running? Most parts are not the last to finish:
    this plain look, without the run's lock, spares them the locked read of every part.
    Each part looks after its own commit, so of two parts finishing at once the later to
    commit sees the other finished, and closes the run."""
    with connection.cursor() as cursor:
        cursor.execute(_part_sql()["active"], [run_id, sql.list_param(ACTIVE)])
        return bool(cursor.fetchone()[0])


def _apply_part(part: RunPart, *, lock: locks.ProcessLock) -> RunPart:
    run_id, tech_school_id = part.run_id, part.tech_school_id
    run = part.run  # read with the part; its as_of and dry_run never change
    if part.status == RunStatus.RUNNING:
        # We hold its lock, so whoever claimed it is dead: take it over (R46).
        requeue_dead_part(part, attempts_max=settings.EXCHANGE_PART_ATTEMPTS)
    if not _claim(part):
        part.refresh_from_db()
        return part  # already done or taken (a task delivered twice), or the run ended
    attempt = part.attempts
    mine = RunPart.objects.filter(pk=part.pk, status=RunStatus.RUNNING, attempts=attempt)
    try:
        with transaction.atomic(), watermark.part_snapshot():
            set_timeouts()
            kwargs = {
                "run_id": run_id,
                "tech_school_id": tech_school_id,
                "as_of": run.as_of,
                "school_year": school_year_of(run.as_of),
                "dry_run": run.dry_run,
            }
            outcomes, unchanged = _run_flows(**kwargs)
            save_outcomes(run_id=run_id, tech_school_id=tech_school_id, outcomes=outcomes)
            if not lock.alive():
                raise _Superseded("the part's lock connection was lost")
            succeeded = {
                "status": RunStatus.SUCCEEDED,
                "counts": count_outcomes(outcomes, unchanged),
                "finished_at": timezone.now(),
                "retry_at": None,
            }
            if not _succeed(part, attempt=attempt, values=succeeded):
                raise _Superseded("the part was cancelled, abandoned or taken over")
        for field, value in succeeded.items():  # as saved: no need to read it back
            setattr(part, field, value)
        return part
    except _Superseded as exc:
        logger.warning("Exchange run %s, tech school %s: %s", run_id, tech_school_id, exc)
    except Exception as exc:  # noqa: BLE001 - one school's failure must not stop the night
        _reconnect_if_broken()
        if not mine.exists():
            # Cancelled, abandoned or taken over while it applied: at REPEATABLE READ the
            # fence's update fails to serialize instead of finding no row (R22, R46).
            logger.warning(
                "Exchange run %s, tech school %s: superseded (%s)", run_id, tech_school_id, exc
            )
            part.refresh_from_db()
            return part
        logger.exception("Exchange run %s: tech school %s failed", run_id, tech_school_id)
        error = f"attempt {attempt}: {type(exc).__name__}: {exc}"[:2000]
        retry = (
            isinstance(exc, (OperationalError, InterfaceError))
            and attempt < settings.EXCHANGE_PART_ATTEMPTS
        )
        if retry:
            retry_at = timezone.now() + _backoff(attempt)
            mine.update(status=RunStatus.QUEUED, error=error, retry_at=retry_at)
            part.refresh_from_db()
            if part.status == RunStatus.QUEUED and not ExchangeRun.objects.get(pk=run_id).inline:
                dispatch(part, at=retry_at)
        else:
            mine.update(status=RunStatus.FAILED, error=error, finished_at=timezone.now())
    part.refresh_from_db()
    return part


# The part's fixed statements - its read, its claim, its fenced success and the look for
# parts still to finish - run once per part of every run: plain SQL built once from the
# models' tables and columns, instead of the ORM compiling the same query for every part
# (issue 13's pattern, schools.access.sql).
@functools.cache
def _part_sql() -> dict[str, str]:
    part, run = sql.quoted_table(RunPart), sql.quoted_table(ExchangeRun)

    def col(name: str | None = None, model: type[Model] = RunPart) -> str:
        return sql.quoted_column(model, name)

    run_is_running = (
        f"EXISTS (SELECT 1 FROM {run} r WHERE r.{col(model=ExchangeRun)} = %(run)s"
        f" AND r.{col('status', ExchangeRun)} = %(running)s)"
    )
    all_columns = ", ".join(col(f.name) for f in RunPart._meta.concrete_fields)
    return {
        # A part of the run still queued or running (the run is not done yet).
        "active": (
            f"SELECT EXISTS (SELECT 1 FROM {part} WHERE {col('run')} = %s"
            f" AND {sql.any_of(col('status'), 'text')})"
        ),
        "read": (
            f"SELECT {sql.columns(RunPart, 'p')}, {sql.columns(ExchangeRun, 'r')}"
            f" FROM {part} p JOIN {run} r ON r.{col(model=ExchangeRun)} = p.{col('run')}"
            f" WHERE p.{col('run')} = %(run)s AND p.{col('tech_school')} = %(school)s"
        ),
        # R46: queued -> running, only while the run runs and once its backoff has passed.
        "claim": (
            f"UPDATE {part} SET {col('status')} = %(running)s,"
            f" {col('attempts')} = {col('attempts')} + 1, {col('started_at')} = %(now)s"
            f" WHERE {col()} = %(part)s AND {col('status')} = %(queued)s AND {run_is_running}"
            f" AND ({col('retry_at')} IS NULL OR {col('retry_at')} <= %(now)s)"
            f" RETURNING {all_columns}"
        ),
        # R46: the commit's fence - still this claim's attempt, and the run still running.
        "succeed": (
            f"UPDATE {part} SET {col('status')} = %(status)s, {col('counts')} = %(counts)s,"
            f" {col('finished_at')} = %(finished_at)s, {col('retry_at')} = %(retry_at)s"
            f" WHERE {col()} = %(part)s AND {col('status')} = %(running)s"
            f" AND {col('attempts')} = %(attempt)s AND {run_is_running}"
        ),
    }


def _prep(name: str, value: Any) -> Any:
    """``value`` of RunPart's field ``name`` as the ORM would send it."""
    return RunPart._meta.get_field(name).get_db_prep_save(value, connection)  # type: ignore[union-attr]


def _read_part(*, run_id: int, tech_school_id: int) -> RunPart:
    """The part with its run (``RunPart.DoesNotExist`` when there is none)."""
    with connection.cursor() as cursor:
        cursor.execute(_part_sql()["read"], {"run": run_id, "school": tech_school_id})
        row = cursor.fetchone()
    if row is None:
        raise RunPart.DoesNotExist(f"No part of run {run_id} for tech school {tech_school_id}.")
    width = sql.width(RunPart)
    part = sql.from_row(RunPart, row[:width])
    part.run = sql.from_row(ExchangeRun, row[width:])
    return part


def _claim(part: RunPart) -> bool:
    """R46: claim ``part`` (queued -> running, one more attempt) if its run is running and
    its backoff has passed; on success ``part`` holds the claimed row as the database has
    it."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _part_sql()["claim"],
            {
                "part": part.pk,
                "run": part.run_id,
                "queued": RunStatus.QUEUED,
                "running": RunStatus.RUNNING,
                "now": _prep("started_at", now),
            },
        )
        row = cursor.fetchone()
    if row is None:
        return False
    claimed = sql.from_row(RunPart, row)
    for field in RunPart._meta.concrete_fields:
        setattr(part, field.attname, getattr(claimed, field.attname))
    return True


def _succeed(part: RunPart, *, attempt: int, values: dict[str, Any]) -> bool:
    """R46: record the part's success, fenced on the claim (this attempt, still running, in
    a running run); False when the part is no longer this attempt's."""
    with connection.cursor() as cursor:
        cursor.execute(
            _part_sql()["succeed"],
            {
                **{name: _prep(name, value) for name, value in values.items()},
                "part": part.pk,
                "run": part.run_id,
                "running": RunStatus.RUNNING,
                "attempt": attempt,
            },
        )
        updated: int = cursor.rowcount
    return updated == 1


def requeue_dead_part(part: RunPart, *, attempts_max: int) -> bool:
    """A running part whose worker died (its lock is free): queue it again, or fail it once
    it has used its attempts. Conditional on the attempt, so two watchdogs agree."""
    now = timezone.now()
    reason = f"attempt {part.attempts}: the worker stopped (killed or lost) mid-part."
    if part.attempts >= attempts_max:
        return bool(
            RunPart.objects.filter(
                pk=part.pk, status=RunStatus.RUNNING, attempts=part.attempts
            ).update(status=RunStatus.FAILED, finished_at=now, error=reason)
        )
    return bool(
        RunPart.objects.filter(pk=part.pk, status=RunStatus.RUNNING, attempts=part.attempts).update(
            status=RunStatus.QUEUED, error=reason, retry_at=None
        )
    )


def dispatch(part: RunPart, *, at: dt.datetime | None = None, stamped: bool = False) -> None:
    """Send a part's django-q2 task now, or at ``at`` (a retry's backoff), and stamp the
    part's ``queued_at`` (``stamped``: its creation did).

    The task's success is not saved in django-q2's task log: the part records its own
    outcome (status, counts, attempts, times, error), and the log's pruning to its save
    limit re-reads every saved success for each one saved, on the cluster's CPU while the
    other parts run. A task that raises is still saved as a failure."""
    from django_q.tasks import async_task, schedule

    args = ("exchange.tasks.run_school_part", part.run_id, part.tech_school_id)
    name = f"exchange-run-{part.run_id}-school-{part.tech_school_id}"
    if at is not None and at > timezone.now():
        schedule(*args, schedule_type="O", next_run=at, repeats=-1, name=None)
    else:
        async_task(*args, group=f"exchange-run-{part.run_id}", task_name=name, save=False)
    if not stamped:
        RunPart.objects.filter(pk=part.pk).update(queued_at=timezone.now())


def finish_if_done(*, run_id: int) -> None:
    """Close the run once every part has finished: counts summed, failed if any part failed.

    The run row is locked so that, of two parts finishing at once, the later one sees both.
    A scheduled run refused meanwhile starts now (R47).
    """
    with transaction.atomic():
        run = ExchangeRun.objects.select_for_update().get(pk=run_id)
        if run.status != RunStatus.RUNNING:
            return
        parts = list(run.parts.order_by().values("tech_school_id", "status", "counts", "error"))
        if any(p["status"] in ACTIVE for p in parts):
            return
        counts = empty_counts()
        for p in parts:
            merge_counts(counts, p["counts"])
        failed = [p for p in parts if p["status"] != RunStatus.SUCCEEDED]
        run.counts = counts
        run.status = RunStatus.FAILED if failed else RunStatus.SUCCEEDED
        run.error = "\n".join(f"tech school {p['tech_school_id']}: {p['error']}" for p in failed)
        run.finished_at = timezone.now()
        run.save(update_fields=["counts", "status", "error", "finished_at"])
    if not run.dry_run:
        bulk.analyze_written(_rows_written(counts), share=settings.EXCHANGE_ANALYZE_SHARE)
    from exchange.services.runs import start_deferred_runs  # runs imports this module

    start_deferred_runs()


def _rows_written(counts: dict[str, dict[str, int]]) -> dict[type[Model], int]:
    """The rows a finished run wrote to each table, at the most (every record but the
    unchanged ones is an outcome row; a quiet night writes none)."""
    from attendance.models import Attendance
    from grading.models import Grade, GradeHistory
    from schools.models import Enrollment, Tombstone

    tables = {
        "enrollments": [Enrollment, Roster, Tombstone],
        "grades": [Grade, GradeHistory],
        "attendance": [Attendance, Tombstone],
    }
    written_actions = ("added", "updated", "ended", "removed")
    rows: Counter[type[Model]] = Counter()
    for flow, actions in counts.items():
        rows[ExchangeOutcome] += sum(n for action, n in actions.items() if action != "unchanged")
        for model in tables.get(flow, []):
            rows[model] += sum(actions.get(action, 0) for action in written_actions)
    return {model: n for model, n in rows.items() if n}
