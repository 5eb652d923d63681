"""The exchange runner (R28, R29, R39) and KTS link writes (R17).

A run is split into one part per technical school. Each part runs the flows - enrollments
(R18), grades (R19-R24), unknown attendance (R27) - and saves its outcomes and its status in
one transaction, so a failure or a kill leaves that school's work either fully applied or
not at all; every run reconciles the whole school year, so the next run completes it.
Parts are django-q2 tasks (clusters sharing a broker share the night) or run inline.
"""

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Exists, F, Model, OuterRef, Q
from django.utils import timezone

from exchange import bulk, locks
from exchange.flows import OUTCOME_KEYS, FlowResult, inputs, watermark
from exchange.flows import attendance as attendance_flow
from exchange.flows import enrollments as enrollments_flow
from exchange.flows import grades as grades_flow
from exchange.models import (
    Action,
    ExchangeOutcome,
    ExchangeRun,
    Flow,
    KtsLink,
    RunPart,
    RunStatus,
    RunTrigger,
)
from schools.actors import Actor, user_or_none
from schools.models import Roster, Section

logger = logging.getLogger(__name__)

RUN_LOCK_KEY = 7_270_017  # pg advisory lock id of the exchange runner
ANOTHER_RUN = "another run is in progress"
ACTIONS = (
    Action.ADDED,
    Action.UPDATED,
    Action.UNCHANGED,
    Action.SKIPPED,
    Action.ENDED,
    Action.REMOVED,
)

Progress = Callable[[int, int, RunPart], None]


def school_year_of(day: dt.date) -> int:
    """The school year (the year it ends) that ``day`` belongs to: July starts a new one."""
    return day.year + 1 if day.month >= 7 else day.year


def empty_counts() -> dict[str, dict[str, int]]:
    return {flow: dict.fromkeys(ACTIONS, 0) for flow in Flow.values}


def merge_counts(
    total: dict[str, dict[str, int]], part: dict[str, dict[str, int]]
) -> dict[str, dict[str, int]]:
    for flow, actions in part.items():
        bucket = total.setdefault(flow, {})
        for action, n in actions.items():
            bucket[action] = bucket.get(action, 0) + n
    return total


def _sync_mode() -> bool:
    return bool(settings.Q_CLUSTER.get("sync"))


# --- KTS links (R17) -------------------------------------------------------------------


def kts_link_create(*, hs_section: Section, tech_section: Section) -> KtsLink:
    """R17: link a HS section of a KTS course to a tech section of the same school year."""
    link = KtsLink(hs_section=hs_section, tech_section=tech_section)
    link.full_clean()
    link.save()
    return link


# --- Runs (R28, R29, R39) ---------------------------------------------------------------


def exchange_run_create(
    *, as_of: dt.date, dry_run: bool = False, trigger: str, by: Actor = None
) -> ExchangeRun:
    """A queued run record; :func:`exchange_run_start` does the work."""
    run = ExchangeRun(as_of=as_of, dry_run=dry_run, trigger=trigger, requested_by=user_or_none(by))
    run.full_clean()
    run.save()
    return run


def exchange_run_request(
    *, as_of: dt.date, dry_run: bool, trigger: str, by: Actor = None
) -> ExchangeRun:
    """R44: a run asked for through the API or a page, refused with a coded error when
    ``as_of`` is outside the current and the previous school year (``as_of_out_of_range``)
    or when a real run is already queued or running (``run_already_active``)."""
    this_year = school_year_of(timezone.localdate())
    if school_year_of(as_of) not in (this_year, this_year - 1):
        raise ValidationError(
            {
                "as_of": ValidationError(
                    f"Give a date in the {this_year - 1}-{this_year % 100:02d} or the "
                    f"{this_year - 2}-{(this_year - 1) % 100:02d} school year (July to June).",
                    code="as_of_out_of_range",
                )
            }
        )
    with transaction.atomic():
        _serialize_runners()
        if not dry_run:
            active = (
                ExchangeRun.objects.filter(status__in=ACTIVE, dry_run=False).order_by("pk").first()
            )
            if active is not None:
                raise ValidationError(
                    f"Run {active.pk} is already {active.status}; wait for it to finish or "
                    "cancel it before starting another.",
                    code="run_already_active",
                )
        return exchange_run_create(as_of=as_of, dry_run=dry_run, trigger=trigger, by=by)


def exchange_run(
    *,
    as_of: dt.date,
    dry_run: bool = False,
    trigger: str,
    by: Actor = None,
    inline: bool | None = None,
    progress: Progress | None = None,
) -> ExchangeRun:
    """R28: run the exchange for ``as_of``'s school year.

    Inline (the command, or django-q2 in sync mode) the parts run here one after the other;
    otherwise each tech school's part is queued as its own django-q2 task. Refuses (status
    ``failed``, error "another run is in progress") while another live run is running.
    ``dry_run`` (R39) computes every outcome but writes only the run, its parts and outcomes.
    """
    run = exchange_run_create(as_of=as_of, dry_run=dry_run, trigger=trigger, by=by)
    return exchange_run_start(run_id=run.pk, inline=inline, progress=progress)


def _serialize_runners() -> None:
    """Make the check-and-claim of the run lock one at a time across processes.

    PostgreSQL: a transaction-level advisory lock. SQLite: the connection opens every
    transaction with BEGIN IMMEDIATE, which already takes the database's write lock.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RUN_LOCK_KEY])


ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)


def _run_alive(run: ExchangeRun) -> bool:
    """R45: is a ``running`` run still worked on by a live process?

    Its own lock is held while its runner (inline) or its starter (cluster) lives; a cluster
    run also lives while a part waits for a worker (the watchdog re-sends lost tasks) or a
    part's worker holds that part's lock.
    """
    if locks.held(locks.RUN_NAMESPACE, run.pk):
        return True
    if run.inline:
        return False
    parts = list(run.parts.filter(status__in=ACTIVE).values_list("pk", "status"))
    return any(
        status == RunStatus.QUEUED or locks.held(locks.PART_NAMESPACE, pk) for pk, status in parts
    )


def _abandon(run: ExchangeRun, *, reason: str) -> None:
    """R45: record a dead run as ``abandoned``; its unfinished parts go with it (the next run
    reconciles the whole school year, so it supersedes them)."""
    now = timezone.now()
    ExchangeRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
        status=RunStatus.ABANDONED, finished_at=now, error=reason
    )
    run.parts.filter(status__in=ACTIVE).update(
        status=RunStatus.ABANDONED, finished_at=now, error=reason
    )
    logger.warning("Exchange run %s abandoned: %s", run.pk, reason)


def _abandon_dead_runs(*, by_run: int | None = None) -> list[int]:
    abandoned = []
    for run in ExchangeRun.objects.filter(status=RunStatus.RUNNING):
        if by_run is not None and run.pk == by_run:
            continue
        if not _run_alive(run):
            taker = f"; run {by_run} took over" if by_run else ""
            _abandon(
                run,
                reason="abandoned: the run's process stopped (killed, out of memory or cut "
                f"off from the database) before it finished{taker}.",
            )
            abandoned.append(run.pk)
    return abandoned


def _claim(run: ExchangeRun) -> bool:
    """The run lock (R28, R45): move ``run`` to running only if no other live run is running.

    A running run whose process died is recorded as ``abandoned`` first (its lock went with
    the process, so this happens at once, not after a lease).
    """
    now = timezone.now()
    with transaction.atomic():
        _serialize_runners()
        _abandon_dead_runs(by_run=run.pk)
        others = ExchangeRun.objects.filter(status=RunStatus.RUNNING).exclude(pk=OuterRef("pk"))
        claimed = (
            ExchangeRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED)
            .filter(~Exists(others))
            .update(status=RunStatus.RUNNING, started_at=now)
        )
        if not claimed:
            ExchangeRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
                status=RunStatus.FAILED,
                finished_at=now,
                error=ANOTHER_RUN,
                # R47: a refused scheduled run starts again when the running one ends.
                retry_pending=run.trigger == RunTrigger.SCHEDULE,
            )
        return bool(claimed)


def tech_school_ids(school_year: int) -> list[int]:
    """Technical schools with a KTS link in ``school_year``, or with tech rosters in a KTS
    section left to reconcile (R48: its last link was removed)."""
    linked = KtsLink.objects.filter(
        tech_section__course__calendar__school_year=school_year
    ).values_list("tech_section__course__calendar__school_id", flat=True)
    rostered = Roster.objects.filter(
        section__course__calendar__school_year=school_year,
        section__course__is_kts=True,
        section__course__calendar__school__kind="technical_school",
    ).values_list("section__course__calendar__school_id", flat=True)
    return sorted(set(linked.distinct().order_by()) | set(rostered.distinct().order_by()))


def exchange_run_start(
    *, run_id: int, inline: bool | None = None, progress: Progress | None = None
) -> ExchangeRun:
    """Claim the run lock, create one part per tech school and run or queue the parts.

    Safe to call twice: only a queued run starts. The run's process lock (R45) is held from
    the claim until the inline run ends (or, on a cluster, until its parts are queued).
    """
    if inline is None:
        inline = _sync_mode()
    run = ExchangeRun.objects.get(pk=run_id)
    if run.status != RunStatus.QUEUED:
        return run
    lock = locks.ProcessLock(locks.RUN_NAMESPACE, run.pk)
    lock.acquire()  # a fresh run's own key: always free
    try:
        ExchangeRun.objects.filter(pk=run.pk).update(inline=inline)
        run.inline = inline
        if not _claim(run):
            run.refresh_from_db()
            return run
        schools = tech_school_ids(school_year_of(run.as_of))
        settled = _settle_unchanged_schools(run, schools)
        rest = [s for s in schools if s not in settled]
        RunPart.objects.bulk_create(RunPart(run=run, tech_school_id=s) for s in rest)
        total = len(schools)
        if progress:
            for i, part in enumerate(settled.values(), start=1):
                progress(i, total, part)
        if not rest:
            _finish_if_done(run_id=run.pk)
        elif inline:
            for i, school_id in enumerate(rest, start=len(settled) + 1):
                part = _run_part_inline(run_id=run.pk, tech_school_id=school_id)
                if progress:
                    progress(i, total, part)
            _finish_if_done(run_id=run.pk)
        else:
            for part in RunPart.objects.filter(run=run, status=RunStatus.QUEUED):
                _dispatch(part)
    finally:
        lock.release()
    run.refresh_from_db()
    return run


def _settle_unchanged_schools(run: ExchangeRun, schools: list[int]) -> dict[int, RunPart]:
    """R22: the schools whose grade and enrollment inputs are exactly as their stored
    watermarks found them, and whose attendance has nothing to write, are settled here in
    one transaction: their parts are recorded as succeeded with the replayed outcomes and
    counts, without a part of their own. One fingerprint query per flow for all of them; the
    other schools run as parts (which check their own watermarks again, in their own
    snapshot). Answers the settled parts by school."""
    if not schools or not settings.EXCHANGE_WATERMARK or connection.vendor != "postgresql":
        return {}
    school_year = school_year_of(run.as_of)
    marks = watermark.load_all(school_year=school_year, schools=schools)
    candidates = [
        s
        for s in schools
        if (s, Flow.GRADES) in marks
        and (s, Flow.ENROLLMENTS) in marks
        and marks[(s, Flow.ENROLLMENTS)].as_of <= run.as_of
    ]
    if not candidates:
        return {}
    settled: dict[int, RunPart] = {}
    with transaction.atomic(), watermark.part_snapshot() as snapshot:
        if not snapshot:
            return {}  # inside someone else's transaction: the parts decide for themselves
        _set_timeouts()
        # A school whose teachers saved a grade since its mark was stored has changed: it
        # goes to its part without the fingerprint that would only confirm it.
        saved = inputs.grades_saved_since(
            school_year=school_year,
            since={s: marks[(s, Flow.GRADES)].updated_at for s in candidates},
        )
        candidates = [s for s in candidates if s not in saved]
        grades_prints = inputs.grade_fingerprints(school_year=school_year, schools=candidates)
        # A school whose grades changed runs as a part whatever its enrollments: only the
        # others' enrollment inputs are fingerprinted.
        candidates = [
            s for s in candidates if marks[(s, Flow.GRADES)].fingerprint == grades_prints[s]
        ]
        enrollments_prints = inputs.enrollment_fingerprints(
            school_year=school_year, schools=candidates
        )
        now = timezone.now()
        for school_id in candidates:
            grades, enrollments = (
                marks[(school_id, Flow.GRADES)],
                marks[(school_id, Flow.ENROLLMENTS)],
            )
            if grades.fingerprint != grades_prints.get(school_id) or (
                enrollments.fingerprint != enrollments_prints.get(school_id)
            ):
                continue
            # Attendance depends on the day: decided now, as a dry run; the school is
            # settled only if it has nothing to write.
            attendance = attendance_flow.sync_unknown_attendance(
                run_id=run.pk,
                tech_school_id=school_id,
                as_of=run.as_of,
                school_year=school_year,
                dry_run=True,
            )
            if any(o["action"] not in (Action.UNCHANGED, Action.SKIPPED) for o in attendance):
                continue
            outcomes = [*grades.outcomes, *attendance]
            unchanged: Counter[str] = Counter(
                {Flow.GRADES: grades.unchanged, Flow.ENROLLMENTS: enrollments.unchanged}
            )
            settled[school_id] = RunPart(
                run=run,
                tech_school_id=school_id,
                status=RunStatus.SUCCEEDED,
                counts=count_outcomes(outcomes, unchanged),
                started_at=now,
                finished_at=now,
            )
            _save_outcomes(run_id=run.pk, tech_school_id=school_id, outcomes=outcomes)
        RunPart.objects.bulk_create(settled.values())
    return settled


def _run_part_inline(*, run_id: int, tech_school_id: int) -> RunPart:
    """An inline part with its bounded retries (R46): wait the backoff, then try again."""
    part = exchange_run_school(run_id=run_id, tech_school_id=tech_school_id, finish=False)
    while part.status == RunStatus.QUEUED and part.retry_at is not None:
        time.sleep(max(0.0, (part.retry_at - timezone.now()).total_seconds()))
        part = exchange_run_school(run_id=run_id, tech_school_id=tech_school_id, finish=False)
    return part


def _dispatch(part: RunPart, *, at: dt.datetime | None = None) -> None:
    """Send a part's django-q2 task now, or at ``at`` (a retry's backoff)."""
    from django_q.tasks import async_task, schedule

    args = ("exchange.tasks.run_school_part", part.run_id, part.tech_school_id)
    name = f"exchange-run-{part.run_id}-school-{part.tech_school_id}"
    if at is not None and at > timezone.now():
        schedule(*args, schedule_type="O", next_run=at, repeats=-1, name=None)
    else:
        async_task(*args, group=f"exchange-run-{part.run_id}", task_name=name)
    RunPart.objects.filter(pk=part.pk).update(queued_at=timezone.now())


def exchange_run_cancel(*, run: ExchangeRun, by: Actor = None) -> ExchangeRun:
    """R45: cancel a queued or running (possibly stuck) run.

    Its parts not yet finished are cancelled with it; a part still applying rolls back at
    its commit, which is fenced on the part still being the run's claimed one (R46).
    """
    who = f" by {by.get_username()}" if by is not None else ""
    now = timezone.now()
    with transaction.atomic():
        changed = ExchangeRun.objects.filter(pk=run.pk, status__in=ACTIVE).update(
            status=RunStatus.CANCELLED, finished_at=now, error=f"cancelled{who}."
        )
        if not changed:
            run.refresh_from_db()
            raise ValidationError(
                f"Run {run.pk} is {run.status}; only a queued or running run can be cancelled.",
                code="run_not_active",
            )
        run.parts.filter(status__in=ACTIVE).update(
            status=RunStatus.CANCELLED, finished_at=now, error=f"cancelled{who}."
        )
    logger.info("Exchange run %s cancelled%s", run.pk, who)
    run.refresh_from_db()
    _start_deferred_runs()
    return run


def exchange_watchdog() -> dict[str, int]:
    """R46: the watchdog schedule. Abandons dead runs (R45), re-sends the start of a run
    whose start task was lost, re-queues parts whose worker died, re-sends part tasks a
    broker lost, and closes runs whose parts all finished."""
    from django.conf import settings as s

    stats = {"abandoned": 0, "requeued": 0, "resent": 0, "restarted": 0}
    now = timezone.now()
    stats["restarted"] = _restart_lost_starts(now=now)
    for run in ExchangeRun.objects.filter(status=RunStatus.RUNNING, inline=False):
        alive = False
        for part in run.parts.filter(status=RunStatus.RUNNING):
            if locks.held(locks.PART_NAMESPACE, part.pk):
                alive = True
            elif _requeue_dead_part(part, attempts_max=s.EXCHANGE_PART_ATTEMPTS):
                stats["requeued"] += 1
        if not alive:
            # No worker holds a part of this run: every queued part's task may be lost
            # (Redis hands a task out once, without acknowledgement). A copy delivered twice
            # does nothing the second time (the claim).
            for part in run.parts.filter(status=RunStatus.QUEUED):
                if part.retry_at is None or part.retry_at <= now:
                    _dispatch(part)
                    stats["resent"] += 1
        _finish_if_done(run_id=run.pk)
    with transaction.atomic():
        _serialize_runners()
        stats["abandoned"] = len(_abandon_dead_runs())
    return stats


def _restart_lost_starts(*, now: dt.datetime) -> int:
    """A cluster run still ``queued`` well after it was asked for, with no process holding
    its lock: its start task was lost (or its worker died before claiming it). Send it again;
    a copy delivered twice does nothing the second time (only a queued run starts)."""
    from django_q.tasks import async_task

    grace = now - dt.timedelta(seconds=settings.EXCHANGE_START_GRACE)
    restarted = 0
    for run_id in ExchangeRun.objects.filter(
        status=RunStatus.QUEUED, inline=False, created_at__lte=grace
    ).values_list("pk", flat=True):
        if not locks.held(locks.RUN_NAMESPACE, run_id):
            async_task("exchange.tasks.start_run", run_id, task_name=f"exchange-run-{run_id}")
            restarted += 1
    return restarted


def _requeue_dead_part(part: RunPart, *, attempts_max: int) -> bool:
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


def _start_deferred_runs() -> None:
    """R47: a scheduled run refused while another held the lock starts again once it ends
    (once, and only inside the night window)."""
    from exchange.schedule import in_night_window

    pending = list(
        ExchangeRun.objects.filter(retry_pending=True)
        .order_by("created_at")
        .values_list("pk", "as_of", "dry_run")
    )
    if not pending or ExchangeRun.objects.filter(status=RunStatus.RUNNING).exists():
        return
    ExchangeRun.objects.filter(pk__in=[p[0] for p in pending]).update(retry_pending=False)
    if not in_night_window():
        logger.info("Deferred scheduled runs %s not retried: outside the night window", pending)
        return
    _, as_of, dry_run = pending[-1]
    run = exchange_run_create(
        as_of=timezone.localdate(), dry_run=dry_run, trigger=RunTrigger.SCHEDULE
    )
    if _sync_mode():
        exchange_run_start(run_id=run.pk, inline=True)
    else:
        from django_q.tasks import async_task

        async_task("exchange.tasks.start_run", run.pk, task_name=f"exchange-run-{run.pk}")


def _flows() -> Sequence[Callable[..., FlowResult | list[dict[str, Any]]]]:
    flows: list[Callable[..., FlowResult | list[dict[str, Any]]]] = [
        enrollments_flow.sync_enrollments,
        grades_flow.sync_grades,
    ]
    attendance = getattr(attendance_flow, "sync_unknown_attendance", None)
    if attendance is not None:
        flows.append(attendance)
    return flows


def _save_outcomes(*, run_id: int, tech_school_id: int, outcomes: list[dict[str, Any]]) -> None:
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


def count_outcomes(
    outcomes: list[dict[str, Any]], unchanged: Counter[str] | None = None
) -> dict[str, dict[str, int]]:
    """Counts per flow and action; ``unchanged`` adds the unchanged records flows counted
    without listing them."""
    counts = empty_counts()
    tally = Counter((o["flow"], o["action"]) for o in outcomes)
    for flow, n in (unchanged or {}).items():
        tally[(flow, Action.UNCHANGED)] += n
    for (flow, action), n in tally.items():
        counts.setdefault(flow, {})
        counts[flow][action] = counts[flow].get(action, 0) + n
    return counts


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


def _set_timeouts() -> None:
    """R46: inside the part's transaction, a blocked lock or a runaway statement fails with
    a clear reason instead of waiting for ever (PostgreSQL; SQLite has its busy timeout).

    With the watermark on (R22), the part's transaction is REPEATABLE READ: its reads, its
    writes and the fingerprints taken after them see one snapshot. A row it writes that
    someone else changed meanwhile fails to serialize, and the part is tried again.

    The part's commit does not wait for its WAL flush (``synchronous_commit`` off for this
    transaction only): a server crash can lose only a whole recent part - its data and its
    ``succeeded`` together - which the watchdog then runs again; the run's own final status
    is committed synchronously, which flushes every part commit before it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('lock_timeout', %s, true),"
                " set_config('statement_timeout', %s, true),"
                " set_config('synchronous_commit', 'off', true)",
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
    part = RunPart.objects.select_related("run").get(run_id=run_id, tech_school_id=tech_school_id)
    lock = locks.ProcessLock(locks.PART_NAMESPACE, part.pk)
    if not lock.acquire():
        return part  # another worker is applying this part right now
    try:
        part = _apply_part(part, lock=lock)
    finally:
        lock.release()
    if finish:
        _finish_if_done(run_id=run_id)
    return part


def _apply_part(part: RunPart, *, lock: locks.ProcessLock) -> RunPart:
    run_id, tech_school_id = part.run_id, part.tech_school_id
    run = part.run  # read with the part; its as_of and dry_run never change
    if part.status == RunStatus.RUNNING:
        # We hold its lock, so whoever claimed it is dead: take it over (R46).
        _requeue_dead_part(part, attempts_max=settings.EXCHANGE_PART_ATTEMPTS)
    started = timezone.now()
    claimed = (
        RunPart.objects.filter(pk=part.pk, status=RunStatus.QUEUED)
        .filter(Exists(ExchangeRun.objects.filter(pk=run_id, status=RunStatus.RUNNING)))
        .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=started))
        .update(status=RunStatus.RUNNING, attempts=F("attempts") + 1, started_at=started)
    )
    part.refresh_from_db()
    if claimed != 1:
        return part  # already done or taken (a task delivered twice), or the run ended
    attempt = part.attempts
    mine = RunPart.objects.filter(pk=part.pk, status=RunStatus.RUNNING, attempts=attempt)
    try:
        with transaction.atomic(), watermark.part_snapshot():
            _set_timeouts()
            kwargs = {
                "run_id": run_id,
                "tech_school_id": tech_school_id,
                "as_of": run.as_of,
                "school_year": school_year_of(run.as_of),
                "dry_run": run.dry_run,
            }
            outcomes, unchanged = _run_flows(**kwargs)
            _save_outcomes(run_id=run_id, tech_school_id=tech_school_id, outcomes=outcomes)
            if not lock.alive():
                raise _Superseded("the part's lock connection was lost")
            succeeded = {
                "status": RunStatus.SUCCEEDED,
                "counts": count_outcomes(outcomes, unchanged),
                "finished_at": timezone.now(),
                "retry_at": None,
            }
            if mine.filter(run__status=RunStatus.RUNNING).update(**succeeded) != 1:
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
                _dispatch(part, at=retry_at)
        else:
            mine.update(status=RunStatus.FAILED, error=error, finished_at=timezone.now())
    part.refresh_from_db()
    return part


def _finish_if_done(*, run_id: int) -> None:
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
    _start_deferred_runs()


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
