"""Report cards as PDF (R32): the batch HTML of a term, and the one-request PDF of every card.

Shared by the one-request download, the django-q2 batch parts and the benchmark. The PDF is
drawn by ``grading.report_card_pdf`` (ReportLab, ~5-7 ms of CPU a card); the HTML is the
printable page's template (``report_cards_html``).
"""

import io
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from django.template.loader import render_to_string

from grading.report_card_pdf import report_cards_pdf
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


# Cards per PDF drawn by one process; the chunks are drawn on several processes when the
# machine has them, then joined.
PDF_CHUNK = 500


def _chunk_pdf(args: tuple[list[dict[str, Any]], Term]) -> bytes:
    cards, term = args
    return report_cards_pdf(cards=cards, school=term.calendar.school, term=term)


def join_pdfs(pdfs: list[bytes]) -> bytes:
    """One PDF of ``pdfs``' pages (and bookmarks), in order."""
    if len(pdfs) == 1:
        return pdfs[0]
    from pypdf import PdfWriter

    writer = PdfWriter()
    for pdf in pdfs:
        writer.append(io.BytesIO(pdf))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def report_cards_pdf_bytes(*, term: Term, workers: int | None = None) -> bytes:
    """R32: one PDF with the report card of every student of ``term``'s HS.

    The cards are read here (the only database work); worker processes only draw.
    """
    cards = report_cards(term=term)
    chunks = [(cards[i : i + PDF_CHUNK], term) for i in range(0, max(len(cards), 1), PDF_CHUNK)]
    if len(chunks) == 1:
        return _chunk_pdf(chunks[0])
    workers = workers or min(len(chunks), os.cpu_count() or 1, 8)
    if workers > 1:
        # fork: children only draw the cards they are handed; they never touch the database.
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            pdfs = list(pool.map(_chunk_pdf, chunks))
    else:
        pdfs = [_chunk_pdf(chunk) for chunk in chunks]
    return join_pdfs(pdfs)
