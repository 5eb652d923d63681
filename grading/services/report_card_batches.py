"""Batch report cards (R32): one PDF of every student's report card for a HS term, built by
django-q2 tasks so the page answers at once and shows progress.

The batch is split into parts of ``REPORT_CARD_PART_SIZE`` students, each rendered by its own
task into its own PDF, so the cluster's workers share the work; the part that finishes last
joins the parts' PDFs, in the batch's order, into the batch's PDF and drops them.

- A part is claimed by a conditional update (queued -> running, one row or nothing) under a
  process-bound lock (``schools.locks``): a task delivered twice renders once.
- A part that fails fails the batch, with the part and the reason in the batch's error.
- The watchdog (a schedule, and each look at a batch's page or a new request at its school)
  re-queues a running part whose worker is gone (its lock is free), up to
  ``REPORT_CARD_PART_ATTEMPTS`` attempts, then fails it - and with it the batch.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from grading.models import ReportCardBatch, ReportCardBatchPart
from grading.report_card_pdf import report_cards_pdf
from grading.report_pdf import join_pdfs
from grading.selectors.report_card import (
    check_report_term,
    report_card_student_ids,
    report_cards,
)
from schools import locks
from schools.actors import Actor, user_or_none
from schools.models import School, Term

logger = logging.getLogger(__name__)

Status = ReportCardBatch.Status
ACTIVE = (Status.QUEUED, Status.RUNNING)
# Advisory lock namespace (the first of the two int4 keys) of report-card batch parts.
PART_NAMESPACE = 7_270_032


def part_size() -> int:
    """Students per part: small enough to spread a school over the workers, large enough
    that the per-document cost (fonts, style sheet) stays small."""
    return settings.REPORT_CARD_PART_SIZE


def _attempts_max() -> int:
    return settings.REPORT_CARD_PART_ATTEMPTS


def _resend_after() -> dt.timedelta:
    """How long a queued task may wait before the watchdog sends it again (a broker may lose
    a task; a copy delivered twice does nothing the second time)."""
    return dt.timedelta(seconds=settings.REPORT_CARD_RESEND_AFTER)


def _sync() -> bool:
    return bool(settings.Q_CLUSTER.get("sync"))


def _enqueue(batch_id: int) -> None:
    from django_q.tasks import async_task

    async_task(
        "grading.tasks.build_report_card_batch",
        batch_id,
        task_name=f"report-cards-{batch_id}",
        sync=_sync(),
    )


def _dispatch(part: ReportCardBatchPart) -> None:
    """Send a part's task (again). ``queued_at`` first: in sync mode the task runs here.
    Its success is not saved in django-q2's task log: the part records its own status,
    attempts, times and error (a task that raises is still saved as a failure)."""
    from django_q.tasks import async_task

    ReportCardBatchPart.objects.filter(pk=part.pk).update(queued_at=timezone.now())
    async_task(
        "grading.tasks.build_report_card_part",
        part.pk,
        group=f"report-cards-{part.batch_id}",
        task_name=f"report-cards-{part.batch_id}-part-{part.seq}",
        sync=_sync(),
        save=False,
    )


def report_card_batch_request(*, school: School, term: Term, by: Actor) -> ReportCardBatch:
    """Queue the batch PDF of ``term`` at ``school`` (a term of another school or of a tech
    school is refused, R32). The task starts once this transaction commits. The school's
    unfinished batches are checked first (the watchdog), so a killed one does not linger."""
    check_report_term(term=term, school=school)
    report_card_batches_watchdog(school_id=school.pk)
    with transaction.atomic():
        batch = ReportCardBatch(
            school=school,
            term=term,
            requested_by=user_or_none(by),
        )
        batch.full_clean()
        batch.save()
        transaction.on_commit(lambda: _enqueue(batch.pk))
    return batch


def _status_of(batch_id: int) -> str:
    return (
        ReportCardBatch.objects.filter(pk=batch_id).values_list("status", flat=True).first() or ""
    )


def report_card_batch_build(*, batch_id: int, size: int | None = None) -> str:
    """Start a batch: claim it (queued -> running, one conditional update: a task delivered
    twice does nothing), fix its students and their order, split them into parts and send
    one task per part. Returns the batch's status (final at once in sync mode)."""
    size = size or part_size()
    with transaction.atomic():
        claimed = ReportCardBatch.objects.filter(pk=batch_id, status=Status.QUEUED).update(
            status=Status.RUNNING
        )
        if not claimed:
            return _status_of(batch_id)
        batch = ReportCardBatch.objects.select_related("term__calendar__school").get(pk=batch_id)
        try:
            ids = report_card_student_ids(term=batch.term)
        except Exception as exc:  # recorded on the row: the page shows why
            logger.exception("Report card batch %s could not list its students", batch_id)
            ReportCardBatch.objects.filter(pk=batch_id).update(
                status=Status.FAILED,
                error=f"{type(exc).__name__}: {exc}"[:500],
                finished_at=timezone.now(),
            )
            return Status.FAILED
        # No student: one part, whose PDF says so (as the one-request download does).
        slices = [ids[i : i + size] for i in range(0, len(ids), size)] or [[]]
        ReportCardBatchPart.objects.bulk_create(
            ReportCardBatchPart(batch_id=batch_id, seq=seq, student_ids=chunk)
            for seq, chunk in enumerate(slices, start=1)
        )
        ReportCardBatch.objects.filter(pk=batch_id).update(total=len(ids), done=0)
    # Sent once the parts are committed, so a worker finds them.
    for part in ReportCardBatchPart.objects.filter(batch_id=batch_id).order_by("seq"):
        _dispatch(part)
    return _status_of(batch_id)


def _render(part: ReportCardBatchPart) -> bytes:
    """The part's report cards, in the order fixed when the batch was split, drawn as one
    PDF (``grading.report_card_pdf``: every card of the part in one document)."""
    term = Term.objects.select_related("calendar__school").get(pk=part.batch.term_id)
    cards = report_cards(term=term, student_ids=part.student_ids) if part.student_ids else []
    by_student = {card["student"].pk: card for card in cards}
    ordered = [by_student[i] for i in part.student_ids if i in by_student]
    return report_cards_pdf(cards=ordered, school=term.calendar.school, term=term)


def report_card_part_build(*, part_id: int) -> str:
    """Render one part (the task of a part). Only a queued part of a running batch is
    claimed, under the part's process lock; the PDF and ``done`` are saved together, fenced
    on the claim still being this attempt's. The batch is finished when this was the last
    part. Returns the part's status."""
    part = ReportCardBatchPart.objects.select_related("batch").filter(pk=part_id).first()
    if part is None:
        return ""  # the batch was deleted meanwhile
    lock = locks.ProcessLock(PART_NAMESPACE, part.pk)
    if not lock.acquire():
        return part.status  # another worker is rendering this part right now
    try:
        if part.status == Status.RUNNING:
            # We hold its lock, so whoever claimed it is gone: take it over (bounded).
            _requeue_dead_part(part)
        claimed = (
            ReportCardBatchPart.objects.filter(pk=part.pk, status=Status.QUEUED)
            .filter(batch__status=Status.RUNNING)
            .update(status=Status.RUNNING, attempts=F("attempts") + 1, started_at=timezone.now())
        )
        part.refresh_from_db(fields=["status", "attempts"])
        if claimed != 1:
            return part.status  # done, failed, or its batch ended (a task delivered twice)
        mine = ReportCardBatchPart.objects.filter(
            pk=part.pk, status=Status.RUNNING, attempts=part.attempts
        )
        try:
            pdf = _render(part)
        except Exception as exc:  # noqa: BLE001 - recorded: the batch fails with the reason
            logger.exception("Report card batch %s: part %s failed", part.batch_id, part.seq)
            mine.update(
                status=Status.FAILED,
                error=f"{type(exc).__name__}: {exc}"[:500],
                finished_at=timezone.now(),
            )
        else:
            with transaction.atomic():
                if mine.update(status=Status.DONE, pdf=pdf, finished_at=timezone.now()):
                    ReportCardBatch.objects.filter(pk=part.batch_id).update(
                        done=F("done") + len(part.student_ids)
                    )
    finally:
        lock.release()
    _finish_if_done(batch_id=part.batch_id)
    part.refresh_from_db(fields=["status"])
    return part.status


class _PartState(NamedTuple):
    """A part as the batch's closing sees it."""

    seq: int
    status: str
    error: str
    cards: int


def _part_label(part: _PartState, parts: int, size: int) -> str:
    first = (part.seq - 1) * size + 1
    return f"part {part.seq} of {parts} (report cards {first}-{first + part.cards - 1})"


def _finish_if_done(*, batch_id: int) -> str:
    """Close the batch once every part has finished: failed (with each failed part and its
    reason) if any part failed, else the parts' PDFs joined in order into the batch's PDF.
    The parts' PDFs are dropped either way.

    The batch row is locked so that, of two parts finishing at once, the later one sees both
    and only one joins. Returns the batch's status.
    """
    parts_qs = ReportCardBatchPart.objects.filter(batch_id=batch_id)
    with transaction.atomic():
        batch = ReportCardBatch.objects.select_for_update().defer("pdf").filter(pk=batch_id).first()
        if batch is None:
            return ""
        if batch.status != Status.RUNNING:
            # A part that finished after its batch ended keeps no PDF.
            parts_qs.filter(pdf__isnull=False).update(pdf=None)
            return batch.status
        parts = [
            _PartState(seq, status, error, len(student_ids))
            for seq, status, error, student_ids in parts_qs.order_by("seq").values_list(
                "seq", "status", "error", "student_ids"
            )
        ]
        size = max((p.cards for p in parts), default=0)
        failed = [p for p in parts if p.status == Status.FAILED]
        now = timezone.now()
        if failed:
            batch.status = Status.FAILED
            batch.error = "; ".join(
                f"{_part_label(p, len(parts), size)} failed: {p.error}" for p in failed
            )[:2000]
            # The parts not started will not be: their batch has failed.
            parts_qs.filter(status=Status.QUEUED).update(
                status=Status.FAILED, error="not rendered: another part failed", finished_at=now
            )
            parts_qs.filter(pdf__isnull=False).update(pdf=None)
            batch.finished_at = now
            batch.save(update_fields=["status", "error", "finished_at"])
            return batch.status
        if not parts or any(p.status in ACTIVE for p in parts):
            return batch.status
        pdf = _merge(parts_qs.order_by("seq").values_list("pdf", flat=True).iterator())
        ReportCardBatch.objects.filter(pk=batch_id).update(
            pdf=pdf, status=Status.DONE, done=F("total"), finished_at=timezone.now()
        )
        parts_qs.update(pdf=None)
    return Status.DONE


def _merge(pdfs: Iterable[bytes | memoryview | None]) -> bytes:
    """One PDF of the parts' pages (and their cards' bookmarks), in the parts' order."""
    parts = []
    for pdf in pdfs:
        if pdf is None:  # a done part always has its PDF: never join a batch without one
            raise ValueError("A finished part of the batch has no PDF.")
        parts.append(bytes(pdf))
    return join_pdfs(parts)


def _requeue_dead_part(part: ReportCardBatchPart) -> bool:
    """A running part whose worker is gone (its lock is free): queue it again, or fail it
    once it has used its attempts. Conditional on the attempt, so two watchdogs agree."""
    reason = f"attempt {part.attempts}: the worker stopped (killed or lost) while rendering."
    dead = ReportCardBatchPart.objects.filter(
        pk=part.pk, status=Status.RUNNING, attempts=part.attempts
    )
    if part.attempts >= _attempts_max():
        return bool(
            dead.update(
                status=Status.FAILED,
                error=f"{reason} Gave up after {part.attempts} attempts.",
                finished_at=timezone.now(),
            )
        )
    return bool(dead.update(status=Status.QUEUED, error=reason))


def report_card_batches_watchdog(
    *, batch_ids: list[int] | None = None, school_id: int | None = None
) -> dict[str, int]:
    """R32: the batches' watchdog (a schedule; also run for one batch when its page is
    looked at, and for a school's batches when it asks for a new one).

    A running part whose lock no process holds lost its worker: it is queued and sent again,
    or failed after ``REPORT_CARD_PART_ATTEMPTS`` attempts, which fails its batch. A task
    queued longer than ``REPORT_CARD_RESEND_AFTER`` is sent again (the broker may have lost
    it). Returns what it did."""
    stats = {"requeued": 0, "failed": 0, "resent": 0}
    stale = timezone.now() - _resend_after()
    batches = ReportCardBatch.objects.filter(status__in=ACTIVE).defer("pdf")
    if batch_ids is not None:
        batches = batches.filter(pk__in=batch_ids)
    if school_id is not None:
        batches = batches.filter(school_id=school_id)
    for batch in batches:
        if batch.status == Status.QUEUED:
            if batch.created_at < stale:
                _enqueue(batch.pk)
                stats["resent"] += 1
            continue
        for part in batch.parts.filter(status=Status.RUNNING).defer("pdf"):
            if locks.held(PART_NAMESPACE, part.pk) or not _requeue_dead_part(part):
                continue
            part.refresh_from_db(fields=["status"])
            if part.status == Status.QUEUED:
                stats["requeued"] += 1
                _dispatch(part)
            else:
                stats["failed"] += 1
        lost = batch.parts.filter(status=Status.QUEUED).filter(
            Q(queued_at__isnull=True) | Q(queued_at__lt=stale)
        )
        for part in lost.defer("pdf"):
            stats["resent"] += 1
            _dispatch(part)
        _finish_if_done(batch_id=batch.pk)
    return stats


def report_card_batch_progress(*, batch: ReportCardBatch) -> dict[str, int]:
    """Parts done and in all (one query), for the batch's page."""
    counts = ReportCardBatchPart.objects.filter(batch_id=batch.pk).aggregate(
        total=Count("id"), done=Count("id", filter=Q(status=Status.DONE))
    )
    return {"parts_done": counts["done"], "parts_total": counts["total"]}
