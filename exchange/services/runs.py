"""Runs (R28, R39, R44, R45, R47): asked for, claimed under the run lock, started (inline or
as django-q2 tasks), cancelled, abandoned when their process died, and deferred scheduled runs
started once the lock is free."""

import datetime as dt
import logging
import time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from exchange import locks
from exchange.models import (
    ExchangeRun,
    KtsLink,
    RunPart,
    RunStatus,
    RunTrigger,
)
from exchange.services.base import (
    ACTIVE,
    ANOTHER_RUN,
    Progress,
    school_year_of,
    serialize_runners,
    sync_mode,
)
from exchange.services.parts import dispatch, exchange_run_school, finish_if_done
from exchange.services.settle import settle_unchanged_schools
from schools.actors import Actor, user_or_none
from schools.models import Roster, Section

logger = logging.getLogger(__name__)


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
        serialize_runners()
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


def abandon_dead_runs(*, by_run: int | None = None) -> list[int]:
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
        serialize_runners()
        abandon_dead_runs(by_run=run.pk)
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
    # A section with any roster (one index probe each), not every roster of the state.
    rostered = (
        Section.objects.filter(
            course__calendar__school_year=school_year,
            course__is_kts=True,
            course__calendar__school__kind="technical_school",
        )
        .filter(Exists(Roster.objects.filter(section=OuterRef("pk"))))
        .values_list("course__calendar__school_id", flat=True)
    )
    return sorted(set(linked.distinct().order_by()) | set(rostered.distinct().order_by()))


def exchange_run_start(
    *, run_id: int, inline: bool | None = None, progress: Progress | None = None
) -> ExchangeRun:
    """Claim the run lock, create one part per tech school and run or queue the parts.

    Safe to call twice: only a queued run starts. The run's process lock (R45) is held from
    the claim until the inline run ends (or, on a cluster, until its parts are queued).
    """
    if inline is None:
        inline = sync_mode()
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
        settled = settle_unchanged_schools(run, schools)
        rest = [s for s in schools if s not in settled]
        # A cluster run's parts are sent right below: stamped as sent in the same insert,
        # not by an update of each part while the first ones already run (a worker's open
        # part would make that update wait, or fail its commit's serialization). A starter
        # that dies before sending them leaves them stamped; the watchdog sends the queued
        # parts of a run no worker holds, whatever their stamp.
        sent = None if inline else timezone.now()
        RunPart.objects.bulk_create(
            RunPart(run=run, tech_school_id=s, queued_at=sent) for s in rest
        )
        total = len(schools)
        if progress:
            for i, part in enumerate(settled.values(), start=1):
                progress(i, total, part)
        if not rest:
            finish_if_done(run_id=run.pk)
        elif inline:
            for i, school_id in enumerate(rest, start=len(settled) + 1):
                part = _run_part_inline(run_id=run.pk, tech_school_id=school_id)
                if progress:
                    progress(i, total, part)
            finish_if_done(run_id=run.pk)
        else:
            for part in RunPart.objects.filter(run=run, status=RunStatus.QUEUED):
                dispatch(part, stamped=True)
    finally:
        lock.release()
    run.refresh_from_db()
    return run


def _run_part_inline(*, run_id: int, tech_school_id: int) -> RunPart:
    """An inline part with its bounded retries (R46): wait the backoff, then try again."""
    part = exchange_run_school(run_id=run_id, tech_school_id=tech_school_id, finish=False)
    while part.status == RunStatus.QUEUED and part.retry_at is not None:
        time.sleep(max(0.0, (part.retry_at - timezone.now()).total_seconds()))
        part = exchange_run_school(run_id=run_id, tech_school_id=tech_school_id, finish=False)
    return part


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
    start_deferred_runs()
    return run


def start_deferred_runs() -> None:
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
    if sync_mode():
        exchange_run_start(run_id=run.pk, inline=True)
    else:
        from django_q.tasks import async_task

        async_task("exchange.tasks.start_run", run.pk, task_name=f"exchange-run-{run.pk}")
