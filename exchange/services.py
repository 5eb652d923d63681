"""The exchange runner (R28, R29, R39) and KTS link writes (R17).

A run is split into one part per technical school. Each part runs the flows - enrollments
(R18), grades (R19-R24), unknown attendance (R27) - and saves its outcomes and its status in
one transaction, so a failure or a kill leaves that school's work either fully applied or
not at all; every run reconciles the whole school year, so the next run completes it.
Parts are django-q2 tasks (clusters sharing a broker share the night) or run inline.
"""

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from exchange import bulk
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
)
from schools.models import Section

logger = logging.getLogger(__name__)

RUN_LOCK_KEY = 7_270_017  # pg advisory lock id of the exchange runner
ANOTHER_RUN = "another run is in progress"
ACTIONS = (Action.ADDED, Action.UPDATED, Action.UNCHANGED, Action.SKIPPED, Action.ENDED)
OUTCOME_FIELDS = (
    "flow",
    "action",
    "reason",
    "student_id",
    "hs_section_id",
    "source_id",
    "target_id",
    "message",
)

Progress = Callable[[int, int, RunPart], None]


def school_year_of(day: dt.date) -> int:
    """The school year (the year it ends) that ``day`` belongs to: July starts a new one."""
    return day.year + 1 if day.month >= 7 else day.year


def empty_counts() -> dict[str, dict[str, int]]:
    return {flow: dict.fromkeys(ACTIONS, 0) for flow in Flow.values}


def merge_counts(total: dict, part: dict) -> dict:
    for flow, actions in part.items():
        bucket = total.setdefault(flow, {})
        for action, n in actions.items():
            bucket[action] = bucket.get(action, 0) + n
    return total


def _sync_mode() -> bool:
    return bool(settings.Q_CLUSTER.get("sync"))


def _stale_after() -> dt.timedelta:
    # A part is a single django-q2 task; it cannot outlive the cluster's timeout.
    return dt.timedelta(seconds=int(settings.Q_CLUSTER.get("timeout", 3600)) + 600)


# --- KTS links (R17) -------------------------------------------------------------------


def kts_link_create(*, hs_section: Section, tech_section: Section) -> KtsLink:
    """R17: link a HS section of a KTS course to a tech section of the same school year."""
    link = KtsLink(hs_section=hs_section, tech_section=tech_section)
    link.full_clean()
    link.save()
    return link


# --- Runs (R28, R29, R39) ---------------------------------------------------------------


def exchange_run_create(
    *, as_of: dt.date, dry_run: bool = False, trigger: str, by=None
) -> ExchangeRun:
    """A queued run record; :func:`exchange_run_start` does the work."""
    run = ExchangeRun(as_of=as_of, dry_run=dry_run, trigger=trigger, requested_by=by)
    run.full_clean()
    run.save()
    return run


def exchange_run(
    *,
    as_of: dt.date,
    dry_run: bool = False,
    trigger: str,
    by=None,
    inline: bool | None = None,
    progress: Progress | None = None,
) -> ExchangeRun:
    """R28: run the exchange for ``as_of``'s school year.

    Inline (the command, or django-q2 in sync mode) the parts run here one after the other;
    otherwise each tech school's part is queued as its own django-q2 task. Refuses (status
    ``failed``, error "another run is in progress") while another run is running.
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


def _claim(run: ExchangeRun) -> bool:
    """The run lock (R28): move ``run`` to running only if no other run is running."""
    now = timezone.now()
    with transaction.atomic():
        _serialize_runners()
        # A run whose process was killed never finishes; after the task timeout it no
        # longer holds the lock (its parts rolled back; this run redoes the work).
        ExchangeRun.objects.filter(
            status=RunStatus.RUNNING, started_at__lt=now - _stale_after()
        ).update(status=RunStatus.FAILED, finished_at=now, error="abandoned: did not finish")
        others = ExchangeRun.objects.filter(status=RunStatus.RUNNING).exclude(pk=OuterRef("pk"))
        claimed = (
            ExchangeRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED)
            .filter(~Exists(others))
            .update(status=RunStatus.RUNNING, started_at=now)
        )
        if not claimed:
            ExchangeRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
                status=RunStatus.FAILED, finished_at=now, error=ANOTHER_RUN
            )
        return bool(claimed)


def tech_school_ids(school_year: int) -> list[int]:
    """Technical schools with at least one KTS link in ``school_year``."""
    return list(
        KtsLink.objects.filter(tech_section__course__calendar__school_year=school_year)
        .values_list("tech_section__course__calendar__school_id", flat=True)
        .distinct()
        .order_by("tech_section__course__calendar__school_id")
    )


def exchange_run_start(
    *, run_id: int, inline: bool | None = None, progress: Progress | None = None
) -> ExchangeRun:
    """Claim the run lock, create one part per tech school and run or queue the parts.

    Safe to call twice: only a queued run starts.
    """
    run = ExchangeRun.objects.get(pk=run_id)
    if run.status != RunStatus.QUEUED or not _claim(run):
        run.refresh_from_db()
        return run
    schools = tech_school_ids(school_year_of(run.as_of))
    RunPart.objects.bulk_create(RunPart(run=run, tech_school_id=s) for s in schools)
    if inline is None:
        inline = _sync_mode()
    if not schools:
        _finish_if_done(run_id=run.pk)
    elif inline:
        total = len(schools)
        for i, school_id in enumerate(schools, start=1):
            part = exchange_run_school(run_id=run.pk, tech_school_id=school_id, finish=False)
            if progress:
                progress(i, total, part)
        _finish_if_done(run_id=run.pk)
    else:
        from django_q.tasks import async_task

        for school_id in schools:
            async_task(
                "exchange.tasks.run_school_part",
                run.pk,
                school_id,
                group=f"exchange-run-{run.pk}",
                task_name=f"exchange-run-{run.pk}-school-{school_id}",
            )
    run.refresh_from_db()
    return run


def _flows() -> list[Callable[..., list[dict[str, Any]]]]:
    flows = [enrollments_flow.sync_enrollments, grades_flow.sync_grades]
    attendance = getattr(attendance_flow, "sync_unknown_attendance", None)
    if attendance is not None:
        flows.append(attendance)
    return flows


def _save_outcomes(*, run_id: int, tech_school_id: int, outcomes: list[dict]) -> None:
    """Per-record outcomes (R21). ``unchanged`` ones are only counted: a quiet night of
    80,000 unchanged grades would otherwise write 80,000 rows that say nothing."""
    bulk.insert(
        [
            ExchangeOutcome(
                run_id=run_id,
                tech_school_id=tech_school_id,
                **{k: o.get(k) for k in OUTCOME_FIELDS if k not in ("reason", "message")},
                reason=o.get("reason") or "",
                message=(o.get("message") or "")[:300],
            )
            for o in outcomes
            if o["action"] != Action.UNCHANGED
        ]
    )


def count_outcomes(outcomes: list[dict]) -> dict[str, dict[str, int]]:
    counts = empty_counts()
    for (flow, action), n in Counter((o["flow"], o["action"]) for o in outcomes).items():
        counts.setdefault(flow, {})
        counts[flow][action] = counts[flow].get(action, 0) + n
    return counts


def exchange_run_school(*, run_id: int, tech_school_id: int, finish: bool = True) -> RunPart:
    """R29: one tech school's share of a run, applied all or nothing.

    The flows, the outcomes and the part's ``succeeded`` status commit together; any error
    rolls the school back, marks the part (and so the run) failed, and lets the other
    schools go on (R21: errors do not stop the run). ``finish=False`` leaves closing the run
    to the caller (the inline runner closes it once, after the last part).
    """
    part = RunPart.objects.select_related("run").get(run_id=run_id, tech_school_id=tech_school_id)
    run = part.run
    if part.status != RunStatus.QUEUED or run.status != RunStatus.RUNNING:
        return part  # already done (a task delivered twice) or the run was abandoned
    started = timezone.now()
    kwargs = {
        "run_id": run_id,
        "tech_school_id": tech_school_id,
        "as_of": run.as_of,
        "school_year": school_year_of(run.as_of),
        "dry_run": run.dry_run,
    }
    try:
        with transaction.atomic():
            outcomes: list[dict] = []
            for flow in _flows():
                outcomes += flow(**kwargs)
            _save_outcomes(run_id=run_id, tech_school_id=tech_school_id, outcomes=outcomes)
            RunPart.objects.filter(pk=part.pk).update(
                status=RunStatus.SUCCEEDED,
                counts=count_outcomes(outcomes),
                started_at=started,
                finished_at=timezone.now(),
            )
        part.status = RunStatus.SUCCEEDED
    except Exception as exc:  # noqa: BLE001 - one school's failure must not stop the night
        logger.exception("Exchange run %s: tech school %s failed", run_id, tech_school_id)
        RunPart.objects.filter(pk=part.pk).update(
            status=RunStatus.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            started_at=started,
            finished_at=timezone.now(),
        )
        part.status, part.error = RunStatus.FAILED, str(exc)
    if finish:
        _finish_if_done(run_id=run_id)
    return part


def _finish_if_done(*, run_id: int) -> None:
    """Close the run once every part has finished: counts summed, failed if any part failed.

    The run row is locked so that, of two parts finishing at once, the later one sees both.
    """
    with transaction.atomic():
        run = ExchangeRun.objects.select_for_update().get(pk=run_id)
        if run.status != RunStatus.RUNNING:
            return
        parts = list(run.parts.order_by().values("tech_school_id", "status", "counts", "error"))
        if any(p["status"] in (RunStatus.QUEUED, RunStatus.RUNNING) for p in parts):
            return
        counts = empty_counts()
        for p in parts:
            merge_counts(counts, p["counts"])
        failed = [p for p in parts if p["status"] == RunStatus.FAILED]
        run.counts = counts
        run.status = RunStatus.FAILED if failed else RunStatus.SUCCEEDED
        run.error = "\n".join(f"tech school {p['tech_school_id']}: {p['error']}" for p in failed)
        run.finished_at = timezone.now()
        run.save(update_fields=["counts", "status", "error", "finished_at"])
