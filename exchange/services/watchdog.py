"""R46: the watchdog schedule - dead runs abandoned, lost start and part tasks re-sent, dead
workers' parts re-queued, finished runs closed."""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from exchange import locks
from exchange.models import (
    ExchangeRun,
    RunStatus,
)
from exchange.services.base import serialize_runners
from exchange.services.parts import dispatch, finish_if_done, requeue_dead_part
from exchange.services.runs import abandon_dead_runs


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
            elif requeue_dead_part(part, attempts_max=s.EXCHANGE_PART_ATTEMPTS):
                stats["requeued"] += 1
        if not alive:
            # No worker holds a part of this run: every queued part's task may be lost
            # (Redis hands a task out once, without acknowledgement). A copy delivered twice
            # does nothing the second time (the claim).
            for part in run.parts.filter(status=RunStatus.QUEUED):
                if part.retry_at is None or part.retry_at <= now:
                    dispatch(part)
                    stats["resent"] += 1
        finish_if_done(run_id=run.pk)
    with transaction.atomic():
        serialize_runners()
        stats["abandoned"] = len(abandon_dead_runs())
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
