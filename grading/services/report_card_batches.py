"""Batch report cards (R32): one PDF of every student's report card for a HS term, built
by a django-q2 task so the page answers at once and shows progress."""

from __future__ import annotations

import io

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from grading.models import ReportCardBatch
from grading.report_pdf import PDF_CHUNK, _chunk_pdf, report_cards_html
from grading.selectors.report_card import check_report_term, report_cards
from schools.models import School, Term


def _enqueue(batch_id: int) -> None:
    from django_q.tasks import async_task

    async_task(
        "grading.tasks.build_report_card_batch",
        batch_id,
        task_name=f"report-cards-{batch_id}",
        sync=bool(settings.Q_CLUSTER.get("sync")),
    )


@transaction.atomic
def report_card_batch_request(*, school: School, term: Term, by) -> ReportCardBatch:
    """Queue the batch PDF of ``term`` at ``school`` (a term of another school or of a tech
    school is refused, R32). The task starts once this transaction commits."""
    check_report_term(term=term, school=school)
    batch = ReportCardBatch(
        school=school,
        term=term,
        requested_by=by if by is not None and by.is_authenticated else None,
    )
    batch.full_clean()
    batch.save()
    transaction.on_commit(lambda: _enqueue(batch.pk))
    return batch


def report_card_batch_build(*, batch_id: int, base_url: str = "/") -> str:
    """Build the PDF chunk by chunk, counting ``done`` as it goes. Safe to run twice: only a
    queued batch is claimed (queued -> running in one conditional update). Returns the
    batch's final status."""
    claimed = ReportCardBatch.objects.filter(
        pk=batch_id, status=ReportCardBatch.Status.QUEUED
    ).update(status=ReportCardBatch.Status.RUNNING)
    if not claimed:
        return (
            ReportCardBatch.objects.filter(pk=batch_id).values_list("status", flat=True).first()
            or ""
        )
    batch = ReportCardBatch.objects.select_related("term__calendar__school").get(pk=batch_id)
    rows = ReportCardBatch.objects.filter(pk=batch_id)
    try:
        cards = report_cards(term=batch.term)
        rows.update(total=len(cards))
        pdfs = []
        for i in range(0, max(len(cards), 1), PDF_CHUNK):
            chunk = cards[i : i + PDF_CHUNK]
            pdfs.append(_chunk_pdf((report_cards_html(term=batch.term, cards=chunk), base_url)))
            rows.update(done=min(i + len(chunk), len(cards)))
        if len(pdfs) == 1:
            data = pdfs[0]
        else:
            from pypdf import PdfWriter

            writer = PdfWriter()
            for pdf in pdfs:
                writer.append(io.BytesIO(pdf))
            out = io.BytesIO()
            writer.write(out)
            data = out.getvalue()
    except Exception as exc:  # recorded on the row: the page shows why
        rows.update(
            status=ReportCardBatch.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:500],
            finished_at=timezone.now(),
        )
        return ReportCardBatch.Status.FAILED
    rows.update(pdf=data, status=ReportCardBatch.Status.DONE, finished_at=timezone.now())
    return ReportCardBatch.Status.DONE
