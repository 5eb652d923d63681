"""Pages: report card (HTML/PDF), honor roll, eligibility, transcripts (R30-R35)."""

import csv
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods

from grading.models import ReportCardBatch, TranscriptLine
from grading.report_card_pdf import report_cards_pdf, student_name
from grading.report_pdf import PDF_CHUNK, report_cards_html, report_cards_pdf_bytes  # noqa: F401
from grading.selectors.gpa import eligibility, gpa_histogram, honor_roll, school_gpas
from grading.selectors.report_card import (
    check_report_term,
    check_student_in_term,
    report_card,
)
from grading.selectors.transcripts import transcript
from grading.services.report_card_batches import (
    report_card_batch_progress,
    report_card_batch_request,
    report_card_batches_watchdog,
)
from grading.services.transcripts import (
    transcript_line_accept,
    transcript_line_current_grade,
    transcript_line_keep,
    transcript_post,
)
from schools.access import (
    REPORTS,
    is_state_admin,
    report_school_or_404,
    user_school_ids,
)
from schools.models import Calendar, Enrollment, School, Student, Term

# --- access: one place, on top of the R36 scope (schools.access) --------------------------


def user_may_view_student(user, student_id: int, roles: set[str] | None = None) -> bool:
    """A state admin, or staff of a school where the student is enrolled (with one of
    ``roles`` when given)."""
    if is_state_admin(user):
        return True
    return Enrollment.objects.filter(
        student_id=student_id, calendar__school_id__in=user_school_ids(user, roles)
    ).exists()


def _school_for(request, pk: int, report: str, form: str = "page") -> School:
    """R42: the HS whose ``report`` the user reads in ``form``; 404 for every other role and
    every school outside the user's scope (``schools.access`` report table)."""
    return report_school_or_404(request.user, report, form, pk)


def _student_for(request, pk: int, roles: set[str] | None = None) -> Student:
    student = get_object_or_404(Student, pk=pk)
    if not user_may_view_student(request.user, student.pk, roles):
        raise Http404
    return student


def _posted_id(request, name: str) -> int:
    """A posted id; 0 (matches nothing) when it is not a whole number."""
    raw = request.POST.get(name, "")
    return int(raw) if raw.isascii() and raw.isdigit() else 0


def _chosen_term(request, school: School) -> tuple[Term | None, list[Term], str]:
    """The ``?term=`` of this school, the terms to choose from, and an error to show."""
    terms = list(
        Term.objects.filter(calendar__school=school)
        .select_related("calendar")
        .order_by("-calendar__school_year", "seq")
    )
    raw = request.GET.get("term")
    if not raw:
        return None, terms, ""
    term = next((t for t in terms if str(t.pk) == raw), None)
    if term is None:
        return None, terms, f"Choose one of {school.name}'s terms; term {raw} is not one."
    return term, terms, ""


# --- report cards -------------------------------------------------------------------------


def _registrar_roles() -> set[str]:
    return set(REPORTS["report-card"].roles)


def _card_or_404(request, pk: int, term_id: int, form: str = "page") -> dict:
    """R32/R36: report cards are the HS's records - its registrar and admins read them
    (not the tech school's staff, who may only read students enrolled there)."""
    student = _student_for(request, pk, _registrar_roles())
    term = get_object_or_404(Term.objects.select_related("calendar__school"), pk=term_id)
    report_school_or_404(request.user, "report-card", form, term.calendar.school_id)
    try:
        check_report_term(term=term)
        check_student_in_term(student=student, term=term)
    except ValidationError as exc:
        raise Http404(" ".join(exc.messages)) from exc
    return report_card(student=student, term=term)


@login_required
def report_card_page(request, pk: int, term_id: int):
    """R32: a student's report card, printable."""
    card = _card_or_404(request, pk, term_id)
    return render(request, "grading/reports/report_card.html", {"card": card})


@login_required
def report_card_pdf(request, pk: int, term_id: int):
    """R32: the same report card as a PDF, drawn as in the batch (``report_card_pdf``)."""
    card = _card_or_404(request, pk, term_id, "pdf")
    term = card["term"]
    pdf = report_cards_pdf(
        cards=[card],
        school=card["school"],
        term=term,
        title=f"Report card \u00b7 {student_name(card)} \u00b7 {term.name}",
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    filename = f"report-card-{card['student'].state_id}-{term.name}.pdf"
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@login_required
def report_cards_batch_pdf(request, pk: int):
    """R32: every student's report card of this HS for ``?term=`` in ONE PDF."""
    school = _school_for(request, pk, "report-cards-batch", "pdf")
    term, _, error = _chosen_term(request, school)
    if term is None:
        return HttpResponse(error or "Choose a term (?term=).", status=400)
    pdf = report_cards_pdf_bytes(term=term)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="report-cards-{term.name}.pdf"'
    return response


@login_required
@require_http_methods(["POST"])
def report_card_batch_start(request, pk: int):
    """R32: queue every student's report card of ``term`` as one PDF (a django-q2 task)."""
    school = _school_for(request, pk, "report-cards-batch", "pdf")
    term = Term.objects.filter(calendar__school=school, pk=_posted_id(request, "term")).first()
    if term is None:
        messages.error(request, f"Choose one of {school.name}'s terms.")
        return redirect("reports-honor-roll", pk=school.pk)
    batch = report_card_batch_request(school=school, term=term, by=request.user)
    return redirect("reports-report-card-batch", pk=school.pk, batch_id=batch.pk)


def _batch_or_404(request, pk: int, batch_id: int) -> ReportCardBatch:
    school = _school_for(request, pk, "report-cards-batch", "pdf")
    return get_object_or_404(
        ReportCardBatch.objects.select_related("term", "school").defer("pdf"),
        pk=batch_id,
        school=school,
    )


@login_required
def report_card_batch_page(request, pk: int, batch_id: int):
    """R32: the batch's progress (the page polls ``?format=json``) and its download link."""
    batch = _batch_or_404(request, pk, batch_id)
    if batch.status in (ReportCardBatch.Status.QUEUED, ReportCardBatch.Status.RUNNING):
        # A batch whose worker was killed does not stay "running": look at it now.
        report_card_batches_watchdog(batch_ids=[batch.pk])
        batch.refresh_from_db(fields=["status", "done", "total", "error"])
    state = {
        "id": batch.pk,
        "status": batch.status,
        "done": batch.done,
        "total": batch.total,
        "error": batch.error,
        "download": (
            reverse("reports-report-card-batch-pdf", args=[batch.school_id, batch.pk])
            if batch.status == ReportCardBatch.Status.DONE
            else None
        ),
        **report_card_batch_progress(batch=batch),
    }
    if request.GET.get("format") == "json":
        return JsonResponse(state)
    return render(
        request, "grading/reports/report_card_batch.html", {"batch": batch, "state": state}
    )


@login_required
def report_card_batch_pdf(request, pk: int, batch_id: int):
    batch = _batch_or_404(request, pk, batch_id)
    if batch.status != ReportCardBatch.Status.DONE:
        raise Http404("This batch is not ready yet.")
    data = ReportCardBatch.objects.values_list("pdf", flat=True).get(pk=batch.pk)
    response = HttpResponse(bytes(data), content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="report-cards-{batch.school.code}-{batch.term.name}.pdf"'
    )
    return response


# --- honor roll and eligibility ----------------------------------------------------------


def _chart(gpas: list[Decimal]) -> dict:
    """Bars of the GPA distribution, laid out for an inline SVG (no script, no CDN)."""
    bins = gpa_histogram(gpas)
    width, height, pad = 480, 180, 24
    top = max([b["count"] for b in bins] + [1])
    bar_w = (width - 2 * pad) / len(bins)
    bars = []
    for i, b in enumerate(bins):
        h = (height - 2 * pad) * b["count"] / top
        bars.append(
            {
                **b,
                "x": round(pad + i * bar_w + 2, 1),
                "y": round(height - pad - h, 1),
                "w": round(bar_w - 4, 1),
                "h": round(h, 1),
                "label_x": round(pad + i * bar_w + bar_w / 2, 1),
                "label_y": round(height - pad - h - 3, 1),
            }
        )
    return {
        "bars": bars,
        "width": width,
        "height": height,
        "axis_y": height - pad,
        "tick_y": height - 8,
    }


@login_required
def honor_roll_page(request, pk: int):
    """R31: the honor roll by tier, a GPA distribution chart and a CSV download."""
    csv_form = request.GET.get("download") == "csv"
    school = _school_for(request, pk, "honor-roll", "csv" if csv_form else "page")
    term, terms, error = _chosen_term(request, school)
    rows, chart, tiers, incomplete = [], None, [], []
    if term is not None:
        rows = honor_roll(school=school, term=term)
        if csv_form:
            response = HttpResponse(content_type="text/csv")
            response["Content-Disposition"] = f'attachment; filename="honor-roll-{term.name}.csv"'
            writer = csv.writer(response)
            writer.writerow(["tier", "student", "state_id", "gpa", "incomplete", "missing"])
            for r in rows:
                writer.writerow(
                    [
                        r["tier"] or "",
                        r["student_name"],
                        r["state_id"],
                        f"{r['gpa']:.2f}",
                        "yes" if r["incomplete"] else "no",
                        r["missing"],
                    ]
                )
            return response
        chart = _chart(school_gpas(term=term))
        by_tier: dict[str, list] = {}
        for r in rows:
            if not r["incomplete"]:
                by_tier.setdefault(r["tier"], []).append(r)
        tiers = list(by_tier.items())
        incomplete = [r for r in rows if r["incomplete"]]
    return render(
        request,
        "grading/reports/honor_roll.html",
        {
            "school": school,
            "term": term,
            "terms": terms,
            "error": error,
            "tiers": tiers,
            "incomplete": incomplete,
            "last_batch": (
                ReportCardBatch.objects.filter(school=school, term=term).defer("pdf").first()
                if term is not None
                else None
            ),
            "count": len(rows) - len(incomplete),
            "chart": chart,
        },
    )


@login_required
def eligibility_page(request, pk: int):
    """R33: students with a non-passing grade in the term, tech grades included."""
    school = _school_for(request, pk, "eligibility")
    term, terms, error = _chosen_term(request, school)
    rows = eligibility(school=school, term=term) if term is not None else []
    students = len({r["student"] for r in rows})
    return render(
        request,
        "grading/reports/eligibility.html",
        {
            "school": school,
            "term": term,
            "terms": terms,
            "error": error,
            "rows": rows,
            "students": students,
        },
    )


# --- transcripts -------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def transcripts_page(request, pk: int):
    """R34: the registrar posts a calendar and decides on lines whose final grade changed."""
    school = _school_for(request, pk, "transcripts")
    if request.method == "POST":
        try:
            if "calendar" in request.POST:
                calendar = Calendar.objects.filter(
                    school=school, pk=_posted_id(request, "calendar")
                ).first()
                if calendar is None:
                    raise ValidationError("Choose one of this school's calendars.", code="invalid")
                result = transcript_post(school=school, calendar=calendar, by=request.user)
                if not result["final_grades"]:
                    messages.info(request, f"{calendar} has no final grades yet; nothing posted.")
                else:
                    messages.success(
                        request,
                        "Posted {added} new, {updated} updated, {unchanged} unchanged, "
                        "{needs_review} awaiting review.".format(**result),
                    )
            else:
                line = TranscriptLine.objects.filter(
                    school=school, pk=_posted_id(request, "line")
                ).first()
                if line is None:
                    raise ValidationError("That transcript line is not this school's.")
                if request.POST.get("decision") == "accept":
                    transcript_line_accept(line=line, by=request.user)
                    messages.success(request, "The line now shows the corrected final grade.")
                else:
                    transcript_line_keep(line=line, by=request.user)
                    messages.success(request, "The posted value was kept.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect(request.path)

    review = list(
        TranscriptLine.objects.filter(school=school, needs_review=True)
        .select_related("student")
        .order_by("school_year", "student__last_name", "course_number")
    )
    for line in review:  # a registrar's worklist is short; one lookup per line is fine here
        line.current = transcript_line_current_grade(line=line)
    calendars = Calendar.objects.filter(school=school).order_by("-school_year")
    posted = TranscriptLine.objects.filter(school=school).count()
    return render(
        request,
        "grading/reports/transcripts.html",
        {"school": school, "calendars": calendars, "review": review, "posted": posted},
    )


@login_required
def transcript_page(request, pk: int):
    """R35: a student's transcript with cumulative GPA and credits by credit type; the
    registrar's roles only, as transcript lines in the API (R36)."""
    student = _student_for(request, pk, _registrar_roles())
    return render(request, "grading/reports/transcript.html", {"t": transcript(student=student)})


urlpatterns = [
    path(
        "students/<int:pk>/report-card/<int:term_id>/",
        report_card_page,
        name="reports-report-card",
    ),
    path(
        "students/<int:pk>/report-card/<int:term_id>/.pdf",
        report_card_pdf,
        name="reports-report-card-pdf",
    ),
    path("students/<int:pk>/report-card/<int:term_id>.pdf", report_card_pdf),
    path("students/<int:pk>/transcript/", transcript_page, name="reports-student-transcript"),
    path("school/<int:pk>/honor-roll/", honor_roll_page, name="reports-honor-roll"),
    path(
        "school/<int:pk>/honor-roll/report-cards.pdf",
        report_cards_batch_pdf,
        name="reports-report-cards-batch-pdf",
    ),
    path(
        "school/<int:pk>/report-card-batches/",
        report_card_batch_start,
        name="reports-report-card-batch-start",
    ),
    path(
        "school/<int:pk>/report-card-batches/<int:batch_id>/",
        report_card_batch_page,
        name="reports-report-card-batch",
    ),
    path(
        "school/<int:pk>/report-card-batches/<int:batch_id>.pdf",
        report_card_batch_pdf,
        name="reports-report-card-batch-pdf",
    ),
    path("school/<int:pk>/eligibility/", eligibility_page, name="reports-eligibility"),
    path("school/<int:pk>/transcripts/", transcripts_page, name="reports-school-transcripts"),
]
