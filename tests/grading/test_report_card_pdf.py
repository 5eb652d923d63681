"""R32: the report cards' PDF (``grading.report_card_pdf``) - the batch has one page set per
student, in the batch's order, each card prints every field of the page, a long card goes on
over a second page, and the single card's PDF is the batch's page of that student."""

import io

import pytest
from pypdf import PdfReader

from grading.models import CourseGradingTask, CourseTaskTerm, Grade, ReportCardBatch
from grading.report_card_pdf import report_cards_pdf
from grading.report_pdf import report_cards_pdf_bytes
from grading.selectors.report_card import report_cards
from grading.services import report_card_batches as batches
from schools.models import Enrollment
from tests.factories import CourseFactory, SectionFactory
from tests.world import reports_world

NAMES = [("Evans", "Eve"), ("Baker", "Bea"), ("Archer", "Ann"), ("Davis", "Dan"), ("Cole", "Cy")]
IN_ORDER = ["Archer, Ann", "Baker, Bea", "Cole, Cy", "Davis, Dan", "Evans, Eve"]


def _text(page) -> str:
    return " ".join(page.extract_text().split())


def _page_sets(pdf: bytes) -> list[tuple[str, list[str]]]:
    """(bookmark title, the text of each of its pages) for each card, in page order."""
    reader = PdfReader(io.BytesIO(pdf))
    starts = [(item.title, reader.get_destination_page_number(item)) for item in reader.outline]
    ends = [page for _, page in starts[1:]] + [len(reader.pages)]
    return [
        (title, [_text(reader.pages[i]) for i in range(start, end)])
        for (title, start), end in zip(starts, ends, strict=True)
    ]


def _school_of_five():
    w = reports_world()
    w.hs_school.address = "100 Main Street\nFrankfort, KY 40601"
    w.hs_school.save()
    for last, first in NAMES:
        student = w.add_student(first_name=first, last_name=last)
        w.letter(student, "A")
        w.exchanged(student, "85.00", "B")
    return w


def _batch_pdf(w, *, size: int) -> bytes:
    batch = ReportCardBatch.objects.create(school=w.hs_school, term=w.q1)
    batches.report_card_batch_build(batch_id=batch.pk, size=size)
    batch.refresh_from_db()
    assert (batch.status, batch.done) == ("done", len(w.students))
    return bytes(batch.pdf)


@pytest.fixture
def sync_cluster(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}


@pytest.mark.django_db
def test_r32_batch_pdf_has_one_page_set_per_student_in_order(sync_cluster):
    # given five students at Central High, each with two grades
    w = _school_of_five()
    # when the batch is drawn in parts of two and joined
    pdf = _batch_pdf(w, size=2)
    # then each student has one bookmarked page, in name order, naming only that student
    sets = _page_sets(pdf)
    assert [title for title, _ in sets] == IN_ORDER
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 5
    for name, pages in sets:
        assert len(pages) == 1
        assert [other for other in IN_ORDER if other in pages[0]] == [name]
    # and the one-request download has the same cards in the same order
    assert [title for title, _ in _page_sets(report_cards_pdf_bytes(term=w.q1))] == IN_ORDER


@pytest.mark.django_db
def test_r32_batch_card_prints_every_field_of_the_report_card(sync_cluster):
    # given the five students; Cole is in grade 12, Davis has no grade level and failed
    # English (no tier)
    w = _school_of_five()
    cole, davis = (next(s for s in w.students if s.last_name == n) for n in ("Cole", "Davis"))
    Enrollment.objects.filter(student=cole).update(grade_level="12")
    Enrollment.objects.filter(student=davis).update(grade_level="")
    Grade.objects.filter(student=davis, section=w.english).update(score="F")
    # when the batch is drawn
    sets = dict(_page_sets(_batch_pdf(w, size=2)))
    # then Cole's card carries the school, the student, the term, every grade, GPA, tier,
    # the grading scales and the signature lines
    cole_text = sets["Cole, Cy"][0]
    for part in [
        "Central High",
        "100 Main Street",
        "Frankfort, KY 40601",
        "Report Card",
        "Student Cole, Cy",
        f"State ID {cole.state_id}",
        "Grade level 12",
        "Q1, 2026-2027 (Aug 10, 2026 – Oct 9, 2026)",
        "Course Section Teacher Grading task Score Percent",
        "ENG1 English I ENG1-1 Ada Lovelace Term Grade A",
        "CTE1 Welding I",
        "KTS course at Area Tech Center",
        "CTE Term Grade B 85.00",
        "Term GPA: 3.67",
        "Honor roll: Honor Roll",
        "Grading scale",
        "CTE Numeric",
        "District Letter",
        "Score From % GPA Passing",
        "A 90 4.00 yes",
        "F 0 0.00 no",
        "Principal's signature",
        "Date",
    ]:
        assert part in cole_text, part
    # and Davis's card has his own grades: no grade level, the F, no tier
    davis_text = sets["Davis, Dan"][0]
    assert "Grade level —" in davis_text
    assert "Term Grade F" in davis_text and "Honor roll: —" in davis_text
    assert "Cole, Cy" not in davis_text


@pytest.mark.django_db
def test_r32_long_card_goes_on_over_two_pages_and_the_next_starts_a_page():
    # given a student rostered in 30 graded sections, and another with the usual two
    w = reports_world()
    sections = []
    for i in range(30):
        course = CourseFactory(calendar=w.hs_calendar, number=f"X{i:02d}", name=f"Elective {i}")
        task = CourseGradingTask.objects.create(
            course=course, grading_task=w.term_grade, score_group=w.letter_group
        )
        CourseTaskTerm.objects.create(course_task=task, term=w.q1, active=True)
        sections.append(SectionFactory(course=course, number="1", teachers=[w.teacher]))
    long = w.add_student(first_name="Lou", last_name="Long", sections=sections)
    for section in sections:
        w.letter(long, "B", section=section)
    w.add_student(first_name="Sam", last_name="Short")
    # when both cards are drawn
    cards = report_cards(term=w.q1)
    sets = _page_sets(report_cards_pdf(cards=cards, school=w.hs_school, term=w.q1))
    # then Long's card has two pages, the table's header repeated, every section on one
    (first, long_pages), (second, short_pages) = sets
    assert (first, second, len(long_pages), len(short_pages)) == ("Long, Lou", "Short, Sam", 2, 1)
    assert all("Course Section Teacher Grading task Score Percent" in p for p in long_pages)
    both = " ".join(long_pages)
    assert all(f"X{i:02d} Elective {i}" in both for i in range(30))
    assert "Principal's signature" in long_pages[1] and "Long, Lou" not in short_pages[0]


@pytest.mark.django_db
def test_r32_single_card_pdf_is_the_batch_page_of_that_student(client, superuser, sync_cluster):
    # given the five students, one with a name beyond ASCII
    w = _school_of_five()
    zoe = w.add_student(first_name="Zoë", last_name="Ñúñez")
    w.letter(zoe, "B")
    client.force_login(superuser)
    # when the registrar downloads Zoë's card, and the whole batch
    response = client.get(f"/students/{zoe.pk}/report-card/{w.q1.pk}.pdf")
    single = PdfReader(io.BytesIO(response.content))
    sets = dict(_page_sets(_batch_pdf(w, size=4)))
    # then the single card is the batch's page for Zoë, name and all
    assert response["Content-Type"] == "application/pdf"
    assert [_text(p) for p in single.pages] == sets["Ñúñez, Zoë"]
    assert "Student Ñúñez, Zoë" in sets["Ñúñez, Zoë"][0]
    assert [item.title for item in single.outline] == ["Ñúñez, Zoë"]
