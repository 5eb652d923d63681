"""R32: report cards (selector, API, HTML page, PDF, batch PDF)."""

import io
from decimal import Decimal

import pytest
from pypdf import PdfReader

from grading.models import CourseGradingTask, CourseTaskTerm
from grading.selectors.report_card import report_card, report_cards
from tests.factories import CourseFactory, SectionFactory, StudentFactory, UserFactory
from tests.world import reports_world


def _scenario():
    w = reports_world()
    student = w.add_student(first_name="Ann", last_name="Archer")
    w.letter(student, "A")
    w.exchanged(student, "85.00", "B")
    return w, student


@pytest.mark.django_db
def test_r32_report_card_has_sections_teachers_tech_school_gpa_and_tier():
    # given the English A (teacher Ada Lovelace) and the exchanged KTS 85
    w, student = _scenario()
    # when
    card = report_card(student=student, term=w.q1)
    # then every section with its task's score and percent, teacher, tech school, GPA, tier
    by_course = {s["course_number"]: s for s in card["sections"]}
    assert set(by_course) == {"ENG1", "CTE1"}
    assert by_course["ENG1"]["teachers"] == [w.teacher.pk]
    assert by_course["ENG1"]["teacher_names"] == ["Ada Lovelace"]
    assert by_course["ENG1"]["tech_school"] is None
    assert by_course["ENG1"]["grades"][0]["score"] == "A"
    assert by_course["ENG1"]["grades"][0]["percent"] is None
    assert by_course["CTE1"]["tech_school"] == "Area Tech Center"
    assert by_course["CTE1"]["grades"][0]["percent"] == Decimal("85.00")
    assert card["gpa"] == Decimal("3.67")
    assert card["honor_roll"] == "Honor Roll"


@pytest.mark.django_db
def test_r32_rostered_section_without_grade_is_listed_empty():
    w = reports_world()
    student = w.add_student()
    card = report_card(student=student, term=w.q1)
    assert [s["grades"] for s in card["sections"]] == [[], []]
    assert card["gpa"] is None and card["honor_roll"] is None


def _more_sections(w, student, n):
    for _ in range(n):
        course = CourseFactory(calendar=w.hs_calendar)
        task = CourseGradingTask.objects.create(
            course=course,
            grading_task=w.term_grade,
            score_group=w.letter_group,
            term_gpa_weight=Decimal("1"),
        )
        CourseTaskTerm.objects.create(course_task=task, term=w.q1, active=True)
        section = SectionFactory(course=course, teachers=[UserFactory(), UserFactory()])
        from tests.factories import RosterFactory

        RosterFactory(student=student, section=section)
        w.letter(student, "B", section=section)


@pytest.mark.django_db
def test_r32_report_card_query_count_does_not_grow_with_sections(django_assert_max_num_queries):
    w, student = _scenario()
    with django_assert_max_num_queries(20):
        assert len(report_card(student=student, term=w.q1)["sections"]) == 2
    _more_sections(w, student, 6)
    with django_assert_max_num_queries(20):
        assert len(report_card(student=student, term=w.q1)["sections"]) == 8


@pytest.mark.django_db
def test_r32_batch_report_cards_query_count_does_not_grow_with_students(
    django_assert_max_num_queries,
):
    w, _ = _scenario()
    with django_assert_max_num_queries(18):
        assert len(report_cards(term=w.q1)) == 1
    for _ in range(8):
        s = w.add_student()
        w.letter(s, "C")
    with django_assert_max_num_queries(18):
        assert len(report_cards(term=w.q1)) == 9


# --- API ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_r32_report_card_api(api):
    w, student = _scenario()
    r = api.get("/api/v1/reports/report-card/", {"student": student.pk, "term": w.q1.pk})
    assert r.status_code == 200, r.content
    body = r.json()
    assert (
        body["student"] == student.pk
        and body["term"] == w.q1.pk
        and body["school"] == w.hs_school.pk
    )
    assert body["gpa"] == "3.67" and body["honor_roll"] == "Honor Roll"
    kts = next(s for s in body["sections"] if s["section"] == w.hs_section.pk)
    assert kts["tech_school"] == "Area Tech Center"
    assert kts["grades"] == [
        {
            "grading_task": w.hs_tasks["CTE_TERM"].grading_task_id,
            "grading_task_name": "CTE Term Grade",
            "score": "B",
            "percent": "85.00",
        }
    ]


@pytest.mark.django_db
def test_r32_report_card_api_refuses_unknown_or_foreign_input(api):
    w, student = _scenario()
    stranger = StudentFactory()
    tech_term = w.tech_calendar.terms.first()
    url = "/api/v1/reports/report-card/"
    assert api.get(url, {"student": 999999, "term": w.q1.pk}).status_code == 400
    assert api.get(url, {"student": student.pk, "term": 999999}).status_code == 400
    assert api.get(url, {"student": "abc", "term": w.q1.pk}).status_code == 400
    r = api.get(url, {"student": stranger.pk, "term": w.q1.pk})
    assert r.status_code == 400 and r.data["term"][0].code == "student_not_enrolled"
    r = api.get(url, {"student": student.pk, "term": tech_term.pk})
    assert r.status_code == 400 and r.data["term"][0].code == "term_not_at_high_school"


# --- pages and PDF ------------------------------------------------------------------------


@pytest.mark.django_db
def test_r32_report_card_page_is_printable(admin_client_su):
    w, student = _scenario()
    page = admin_client_su.get(f"/students/{student.pk}/report-card/{w.q1.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Archer, Ann" in body and "Area Tech Center" in body and "3.67" in body
    assert "@media print" in body


@pytest.mark.django_db
def test_r32_report_card_pdf(admin_client_su):
    w, student = _scenario()
    for url in (
        f"/students/{student.pk}/report-card/{w.q1.pk}/.pdf",
        f"/students/{student.pk}/report-card/{w.q1.pk}.pdf",
    ):
        r = admin_client_su.get(url)
        assert r.status_code == 200
        assert r["Content-Type"] == "application/pdf"
        assert r.content.startswith(b"%PDF")


@pytest.mark.django_db
def test_r32_report_card_page_for_a_term_of_another_school_is_404(admin_client_su):
    w, student = _scenario()
    tech_term = w.tech_calendar.terms.first()
    assert (
        admin_client_su.get(f"/students/{student.pk}/report-card/{tech_term.pk}/").status_code
        == 404
    )
    assert admin_client_su.get(f"/students/999999/report-card/{w.q1.pk}/").status_code == 404


@pytest.mark.django_db
def test_r32_batch_pdf_holds_every_students_card(admin_client_su):
    w, _ = _scenario()
    for _ in range(2):
        w.add_student()
    r = admin_client_su.get(
        f"/school/{w.hs_school.pk}/honor-roll/report-cards.pdf", {"term": w.q1.pk}
    )
    assert r.status_code == 200
    assert r["Content-Type"] == "application/pdf" and r.content.startswith(b"%PDF")
    # three students, one page each
    assert len(PdfReader(io.BytesIO(r.content)).pages) == 3
    # no term → 400, not a 500
    assert (
        admin_client_su.get(f"/school/{w.hs_school.pk}/honor-roll/report-cards.pdf").status_code
        == 400
    )


@pytest.mark.django_db
def test_r32_report_card_page_hidden_from_staff_of_another_school(client):
    from schools.models import StaffRole

    w, student = _scenario()
    user = UserFactory()
    StaffRole.objects.create(user=user, role="registrar", school=w.tech_school)
    client.force_login(user)
    assert client.get(f"/students/{student.pk}/report-card/{w.q1.pk}/").status_code == 404
    StaffRole.objects.create(user=user, role="registrar", school=w.hs_school)
    assert client.get(f"/students/{student.pk}/report-card/{w.q1.pk}/").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("school_attr", "role", "status"),
    [
        ("tech", "school_admin", 404),  # tech staff of a student enrolled there (R36)
        ("tech", "teacher", 404),
        ("hs", "teacher", 404),  # report cards are the registrar's and admins' (R36)
        ("hs", "attendance_clerk", 404),
        ("hs", "registrar", 200),
        ("hs", "school_admin", 200),
    ],
)
def test_r36_r32_report_card_only_for_the_hs_registrar_and_admins(
    client, school_attr, role, status
):
    from rest_framework.test import APIClient

    from schools.models import StaffRole
    from tests.factories import EnrollmentFactory

    # given a KTS student enrolled at the tech school too, and a staff member with one role
    w, student = _scenario()
    EnrollmentFactory(student=student, calendar=w.tech_calendar, service_type="secondary")
    user = UserFactory()
    StaffRole.objects.create(
        user=user, role=role, school={"hs": w.hs_school, "tech": w.tech_school}[school_attr]
    )
    client.force_login(user)
    api = APIClient()
    api.force_authenticate(user)
    # when they open the student's HS report card (page, PDF and API)
    page = client.get(f"/students/{student.pk}/report-card/{w.q1.pk}/")
    api_res = api.get(f"/api/v1/reports/report-card/?student={student.pk}&term={w.q1.pk}")
    # then only the HS registrar and admins see it; everyone else gets 404 (R36)
    assert page.status_code == status
    assert api_res.status_code == status


@pytest.mark.django_db
def test_r32_official_report_card_is_the_same_on_the_page_and_in_the_pdf(client, superuser):
    import io

    from pypdf import PdfReader

    from schools.models import Enrollment

    # given a school with an address and a grade level on the enrollment
    w, student = _scenario()
    w.hs_school.address = "100 Main Street\nFrankfort, KY 40601"
    w.hs_school.save()
    Enrollment.objects.filter(student=student).update(grade_level="11")
    client.force_login(superuser)
    url = f"/students/{student.pk}/report-card/{w.q1.pk}/"
    # when
    html = client.get(url).content.decode()
    pdf = client.get(url + ".pdf").content
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    # then: the page has one h1 and both forms carry every official part
    assert html.count("<h1") == 1 and '<h1 class="rc-title">Report Card</h1>' in html
    expected = [
        "Central High",
        "100 Main Street",
        "Report Card",
        "Archer, Ann",
        "Grade level",
        "11",
        "Q1",
        "Ada Lovelace",
        "KTS course at Area Tech Center",
        "Grading scale",
        "District Letter",
        "CTE Numeric",
        "Term GPA",
        "3.67",
        "Honor Roll",
        "Principal's signature",
    ]
    flat = " ".join(text.split())
    for part in expected:
        assert part in html, part
        assert part in flat, part


@pytest.mark.django_db
def test_r32_batch_pdf_is_a_task_with_progress_and_a_download_link(
    client, superuser, settings, django_capture_on_commit_callbacks
):
    import io

    from pypdf import PdfReader

    from grading.models import ReportCardBatch
    from grading.services.report_card_batches import report_card_batch_build

    # given two students at Central High and the cluster in sync mode
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    w, first = _scenario()
    w.add_student(first_name="Bea", last_name="Baker")
    client.force_login(superuser)
    # when the registrar asks for every report card of Q1
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(f"/school/{w.hs_school.pk}/report-card-batches/", {"term": w.q1.pk})
    batch = ReportCardBatch.objects.get()
    page = client.get(started["Location"]).content.decode()
    state = client.get(started["Location"], {"format": "json"}).json()
    pdf = client.get(state["download"])
    # then the task ran, the page shows it done with the link, the PDF has both cards
    assert started.status_code == 302
    assert (batch.status, batch.done, batch.total) == ("done", 2, 2)
    assert "Download the PDF" in page and 'id="batch-progress"' in page
    assert state["status"] == "done" and state["download"].endswith(".pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert len(PdfReader(io.BytesIO(pdf.content)).pages) == 2
    # and the honor roll page links to the finished batch
    honor = client.get(f"/school/{w.hs_school.pk}/honor-roll/", {"term": w.q1.pk}).content.decode()
    assert f"/school/{w.hs_school.pk}/report-card-batches/{batch.pk}/" in honor
    # and running the task again changes nothing (only a queued batch is claimed)
    assert report_card_batch_build(batch_id=batch.pk) == "done"


@pytest.mark.django_db
def test_r32_batch_of_another_schools_term_is_refused_and_nothing_queued(client, superuser):
    from grading.models import ReportCardBatch

    # given
    w, _ = _scenario()
    client.force_login(superuser)
    # when: a tech school's term
    tech_term = w.tech_calendar.terms.first()
    response = client.post(f"/school/{w.hs_school.pk}/report-card-batches/", {"term": tech_term.pk})
    # then
    assert response.status_code == 302 and "honor-roll" in response["Location"]
    assert not ReportCardBatch.objects.exists()
