"""Report cards as PDF (R32): the batch HTML of a term and its PDF, in chunks.

Shared by the one-request download, the django-q2 batch task and the benchmark.
"""

import io
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from django.template.loader import render_to_string

from grading.selectors.report_card import report_cards
from schools.models import Term


def report_cards_html(*, term: Term, cards: list[dict] | None = None) -> str:
    """R32: report cards of ``term``'s HS (default: every student), one printed page each."""
    return render_to_string(
        "grading/reports/report_cards_batch.html",
        {
            "cards": report_cards(term=term) if cards is None else cards,
            "school": term.calendar.school,
            "term": term,
        },
    )


# WeasyPrint lays out each page from the start of its document and costs ~30-50 ms of CPU
# per report card, so a whole school is rendered in chunks - on several processes when the
# machine has them - and the chunks are joined into one PDF.
PDF_CHUNK = 100


def _chunk_pdf(args: tuple[str, str]) -> bytes:
    from weasyprint import HTML

    html, base_url = args
    return HTML(string=html, base_url=base_url).write_pdf()


def report_cards_pdf_bytes(*, term: Term, base_url: str = "/", workers: int | None = None) -> bytes:
    """R32: one PDF with the report card of every student of ``term``'s HS.

    The HTML is built here (the only database work); worker processes run WeasyPrint only.
    """
    cards = report_cards(term=term)
    chunks = [
        (report_cards_html(term=term, cards=cards[i : i + PDF_CHUNK]), base_url)
        for i in range(0, max(len(cards), 1), PDF_CHUNK)
    ]
    if len(chunks) == 1:
        return _chunk_pdf(chunks[0])
    workers = workers or min(len(chunks), os.cpu_count() or 1, 8)
    if workers > 1:
        # fork: children only lay out HTML strings; they never touch the database.
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            pdfs = list(pool.map(_chunk_pdf, chunks))
    else:
        pdfs = [_chunk_pdf(chunk) for chunk in chunks]
    return merge_pdfs(pdfs)


def merge_pdfs(pdfs: list[bytes]) -> bytes:
    """The PDFs one after the other in one document (R32: a school's report cards)."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for pdf in pdfs:
        writer.append(io.BytesIO(pdf))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
