"""R34: transcript posting and the registrar's review; R35: cumulative GPA."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grading.models import Grade, TranscriptLine, TranscriptLineHistory
from grading.selectors.transcripts import cumulative_gpa, cumulative_gpa_of_lines
from grading.services.transcripts import (
    transcript_line_accept,
    transcript_line_keep,
    transcript_post,
)
from schools.models import Course
from tests.factories import CalendarFactory, SchoolFactory, StudentFactory
from tests.world import reports_world


def _post(w, by=None):
    return transcript_post(school=w.hs_school, calendar=w.hs_calendar, by=by)


def _correct(grade: Grade, percent: str, score: str) -> None:
    # as the exchange / grade service would after a correction (R16)
    Grade.objects.filter(pk=grade.pk).update(percent=Decimal(percent), score=score)


@pytest.mark.django_db
def test_r34_posting_copies_final_grades_with_credit(superuser):
    # given two students with a passing and a failing CTE Final Grade (credit 1)
    w = reports_world()
    good, bad = w.add_student(), w.add_student()
    w.final(good, "85.00", "B")
    w.final(bad, "40.00", "F")
    # when the registrar posts the calendar
    result = _post(w, superuser)
    # then one line each, credits earned only when passing, GPA value from the row
    assert {k: result[k] for k in ("added", "updated", "unchanged", "needs_review")} == {
        "added": 2,
        "updated": 0,
        "unchanged": 0,
        "needs_review": 0,
    }
    line = TranscriptLine.objects.get(student=good)
    assert (line.course_number, line.course_name, line.state_code) == (
        "CTE1",
        "Welding I",
        "480501",
    )
    assert (line.school_year, line.score, line.percent) == (2027, "B", Decimal("85.00"))
    assert (line.credits_attempted, line.credits_earned) == (Decimal("1"), Decimal("1"))
    assert (line.credit_type, line.gpa_value, line.gpa_weight) == (
        "Career and Technical",
        Decimal("3"),
        Decimal("1"),
    )
    assert TranscriptLine.objects.get(student=bad).credits_earned == Decimal("0")
    assert TranscriptLineHistory.objects.filter(action="posted").count() == 2


@pytest.mark.django_db
def test_r34_term_grades_without_credit_are_not_posted(superuser):

    w = reports_world()
    student = w.add_student()
    w.letter(student, "A")
    w.exchanged(student, "90", "A")
    result = _post(w, superuser)
    assert result["added"] == 0 and result["final_grades"] == 0
    assert not TranscriptLine.objects.exists()


@pytest.mark.django_db
def test_r34_posting_twice_keeps_one_line(superuser):
    w = reports_world()
    student = w.add_student()
    w.final(student, "85.00", "B")
    _post(w, superuser)
    # when posted again / then unchanged, still one line
    result = _post(w, superuser)
    assert result["unchanged"] == 1 and result["added"] == 0
    assert TranscriptLine.objects.filter(student=student).count() == 1


@pytest.mark.django_db
def test_r34_posting_again_updates_setup_values(superuser):
    w = reports_world()
    student = w.add_student()
    w.final(student, "85.00", "B")
    _post(w, superuser)
    Course.objects.filter(pk=w.hs_section.course_id).update(name="Welding Technology I")
    result = _post(w, superuser)
    assert result["updated"] == 1
    line = TranscriptLine.objects.get(student=student)
    assert line.course_name == "Welding Technology I" and not line.needs_review


@pytest.mark.django_db
def test_r34_corrected_final_grade_marks_needs_review_and_keeps_values(superuser):
    # given a posted B 85
    w = reports_world()
    student = w.add_student()
    grade = w.final(student, "85.00", "B")
    _post(w, superuser)
    # when the final grade is corrected to A 92 and the calendar posted again
    _correct(grade, "92.00", "A")
    result = _post(w, superuser)
    # then the line needs review and still shows B 85 / 3.00
    assert result["needs_review"] == 1 and result["updated"] == 0
    line = TranscriptLine.objects.get(student=student)
    assert line.needs_review
    assert (line.score, line.percent, line.gpa_value) == ("B", Decimal("85.00"), Decimal("3"))
    # and posting again changes nothing until the registrar decides
    assert _post(w, superuser)["needs_review"] == 1
    assert TranscriptLine.objects.get(pk=line.pk).score == "B"


@pytest.mark.django_db
def test_r34_registrar_accepts_the_corrected_value_with_history(superuser):
    w = reports_world()
    student = w.add_student()
    grade = w.final(student, "85.00", "B")
    _post(w, superuser)
    _correct(grade, "92.00", "A")
    _post(w, superuser)
    line = TranscriptLine.objects.get(student=student)
    # when
    transcript_line_accept(line=line, by=superuser)
    # then
    line.refresh_from_db()
    assert (line.score, line.percent, line.gpa_value, line.needs_review) == (
        "A",
        Decimal("92.00"),
        Decimal("4"),
        False,
    )
    h = line.history.get(action="accepted")
    assert (h.old_score, h.old_percent, h.new_score, h.new_percent) == (
        "B",
        Decimal("85.00"),
        "A",
        Decimal("92.00"),
    )
    assert h.changed_by == superuser
    assert _post(w, superuser)["unchanged"] == 1


@pytest.mark.django_db
def test_r34_registrar_keeps_the_old_value_with_history_and_it_stays_kept(superuser):
    w = reports_world()
    student = w.add_student()
    grade = w.final(student, "85.00", "B")
    _post(w, superuser)
    _correct(grade, "92.00", "A")
    _post(w, superuser)
    line = TranscriptLine.objects.get(student=student)
    transcript_line_keep(line=line, by=superuser)
    line.refresh_from_db()
    assert (line.score, line.needs_review) == ("B", False)
    assert line.history.filter(action="kept", new_score="A").exists()
    # posting again does not flag the same change again...
    assert _post(w, superuser)["unchanged"] == 1
    # ...but a further correction does
    _correct(grade, "71.00", "C")
    assert _post(w, superuser)["needs_review"] == 1


@pytest.mark.django_db
def test_r34_accept_or_keep_refused_when_line_is_not_in_review(superuser):
    from django.core.exceptions import ValidationError

    w = reports_world()
    student = w.add_student()
    w.final(student, "85.00", "B")
    _post(w, superuser)
    line = TranscriptLine.objects.get(student=student)
    with pytest.raises(ValidationError) as exc:
        transcript_line_accept(line=line, by=superuser)
    assert exc.value.code == "line_not_in_review"
    assert not line.history.exclude(action="posted").exists()


@pytest.mark.django_db
def test_r34_calendar_of_another_school_is_refused_and_nothing_written(api):
    w = reports_world()
    w.final(w.add_student(), "85.00", "B")
    other_calendar = CalendarFactory(school=SchoolFactory(district=w.district))
    r = api.post(
        "/api/v1/transcripts/post/",
        {"school": w.hs_school.pk, "calendar": other_calendar.pk},
        format="json",
    )
    assert r.status_code == 400 and r.data["calendar"][0].code == "calendar_of_other_school"
    r = api.post(
        "/api/v1/transcripts/post/", {"school": w.tech_school.pk, "calendar": w.tech_calendar.pk}
    )
    assert r.status_code == 400 and r.data["school"][0].code == "not_a_high_school"
    r = api.post("/api/v1/transcripts/post/", {"school": w.hs_school.pk, "calendar": 999999})
    assert r.status_code == 400 and "calendar" in r.json()
    assert not TranscriptLine.objects.exists()


@pytest.mark.django_db
def test_r34_post_api_and_empty_calendar_is_explained(api):
    w = reports_world()
    r = api.post(
        "/api/v1/transcripts/post/",
        {"school": w.hs_school.pk, "calendar": w.hs_calendar.pk},
        format="json",
    )
    assert r.status_code == 200
    assert r.json()["added"] == 0 and "no final grades" in r.json()["detail"]
    student = w.add_student()
    w.final(student, "85.00", "B")
    r = api.post(
        "/api/v1/transcripts/post/",
        {"school": w.hs_school.pk, "calendar": w.hs_calendar.pk},
        format="json",
    )
    assert r.json() == {"added": 1, "updated": 0, "unchanged": 0, "needs_review": 0}


@pytest.mark.django_db
def test_r34_transcripts_api_lists_and_filters(api, superuser):
    w = reports_world()
    a, b = w.add_student(), w.add_student()
    grade = w.final(a, "85.00", "B")
    w.final(b, "95.00", "A")
    _post(w, superuser)
    _correct(grade, "50", "F")
    _post(w, superuser)
    r = api.get("/api/v1/transcripts/", {"student": a.pk})
    assert r.status_code == 200 and r.json()["count"] == 1
    line = r.json()["results"][0]
    assert set(line) >= {
        "id",
        "student",
        "school",
        "school_year",
        "course_number",
        "course_name",
        "state_code",
        "score",
        "percent",
        "credits_attempted",
        "credits_earned",
        "credit_type",
        "gpa_value",
        "gpa_weight",
        "needs_review",
    }
    assert line["percent"] == "85.00" and line["needs_review"] is True
    assert api.get("/api/v1/transcripts/", {"needs_review": "true"}).json()["count"] == 1
    assert api.get("/api/v1/transcripts/", {"school_year": 2027}).json()["count"] == 2
    assert api.get("/api/v1/transcripts/", {"school": w.hs_school.pk}).json()["count"] == 2
    assert api.post("/api/v1/transcripts/", {}).status_code == 405


@pytest.mark.django_db
def test_r34_posting_query_count_does_not_grow_with_students(
    superuser, django_assert_max_num_queries
):
    w = reports_world()
    for _ in range(2):
        w.final(w.add_student(), "85", "B")
    with django_assert_max_num_queries(12):
        assert _post(w, superuser)["added"] == 2
    for _ in range(10):
        w.final(w.add_student(), "85", "B")
    with django_assert_max_num_queries(12):
        assert _post(w, superuser)["added"] == 10


# --- R35 ----------------------------------------------------------------------------------

line_values = st.fixed_dictionaries(
    {
        "gpa_value": st.one_of(st.none(), st.decimals(min_value=0, max_value=5, places=2)),
        "credits_attempted": st.decimals(min_value=0, max_value=5, places=2),
        "credits_earned": st.decimals(min_value=0, max_value=5, places=2),
    }
)


@given(st.lists(line_values, max_size=10))
def test_r35_cumulative_gpa_is_weighted_by_credits_attempted(lines):
    result = cumulative_gpa_of_lines(lines)
    counted = [x for x in lines if x["gpa_value"] is not None and x["credits_attempted"]]
    assert result["credits_attempted"] == sum((x["credits_attempted"] for x in lines), Decimal(0))
    if not counted:
        assert result["gpa"] is None
    else:
        low = min(x["gpa_value"] for x in counted)
        high = max(x["gpa_value"] for x in counted)
        assert low <= result["gpa"] <= high


def _line(student, school, number, gpa, attempted, earned):
    return TranscriptLine.objects.create(
        student=student,
        school=school,
        school_year=2027,
        course_number=number,
        course_name=number,
        gpa_value=Decimal(gpa),
        credits_attempted=Decimal(attempted),
        credits_earned=Decimal(earned),
        credit_type="Math" if number.startswith("M") else "CTE",
    )


@pytest.mark.django_db
def test_r35_cumulative_gpa_api_and_transcript_page(api, admin_client_su):
    # given 4.0 on 1 credit and 2.0 on 2 credits (one failed line 0.0 on 1 credit, earned 0)
    school = SchoolFactory()
    student = StudentFactory(last_name="Ibarra")
    _line(student, school, "M1", "4", "1", "1")
    _line(student, school, "C1", "2", "2", "2")
    _line(student, school, "C2", "0", "1", "0")
    # then (4×1 + 2×2 + 0×1) / 4 = 2.00
    assert cumulative_gpa(student=student)["gpa"] == Decimal("2.00")
    r = api.get(f"/api/v1/students/{student.pk}/cumulative-gpa/")
    assert r.json() == {"gpa": "2.00", "credits_attempted": "4.00", "credits_earned": "3.00"}
    assert api.get("/api/v1/students/999999/cumulative-gpa/").status_code == 404
    # a student with no lines: no GPA, zero credits
    nobody = StudentFactory()
    assert api.get(f"/api/v1/students/{nobody.pk}/cumulative-gpa/").json()["gpa"] is None
    page = admin_client_su.get(f"/students/{student.pk}/transcript/").content.decode()
    assert "Ibarra" in page and "2.00" in page and "Math" in page and "CTE" in page


# --- registrar page -----------------------------------------------------------------------


@pytest.mark.django_db
def test_r34_registrar_page_posts_and_decides(admin_client_su):
    w = reports_world()
    student = w.add_student(last_name="Okafor")
    grade = w.final(student, "85.00", "B")
    url = f"/school/{w.hs_school.pk}/transcripts/"
    assert admin_client_su.get(url).status_code == 200
    r = admin_client_su.post(url, {"calendar": w.hs_calendar.pk}, follow=True)
    assert "Posted 1 new" in r.content.decode()
    _correct(grade, "92.00", "A")
    admin_client_su.post(url, {"calendar": w.hs_calendar.pk})
    page = admin_client_su.get(url).content.decode()
    assert "Okafor" in page and "Accept new value" in page
    line = TranscriptLine.objects.get(student=student)
    admin_client_su.post(url, {"line": line.pk, "decision": "accept"})
    line.refresh_from_db()
    assert (line.score, line.needs_review) == ("A", False)
    # a calendar of another school is refused with a message, nothing written
    r = admin_client_su.post(url, {"calendar": w.tech_calendar.pk}, follow=True)
    assert "Choose one of this school" in r.content.decode()
    assert TranscriptLine.objects.count() == 1


@pytest.mark.django_db
def test_r34_only_the_registrar_posts_and_reviews(client):
    from rest_framework.test import APIClient

    from schools.models import StaffRole
    from tests.factories import UserFactory

    w = reports_world()
    w.final(w.add_student(), "85.00", "B")
    teacher, registrar = UserFactory(), UserFactory()
    StaffRole.objects.create(user=teacher, role="teacher", school=w.hs_school)
    StaffRole.objects.create(user=registrar, role="registrar", school=w.hs_school)
    url = f"/school/{w.hs_school.pk}/transcripts/"
    client.force_login(teacher)
    assert client.get(url).status_code == 404
    api = APIClient()
    api.force_authenticate(teacher)
    body = {"school": w.hs_school.pk, "calendar": w.hs_calendar.pk}
    assert api.post("/api/v1/transcripts/post/", body, format="json").status_code == 403
    assert not TranscriptLine.objects.exists()
    client.force_login(registrar)
    assert client.get(url).status_code == 200
    api.force_authenticate(registrar)
    r = api.post("/api/v1/transcripts/post/", body, format="json")
    assert r.status_code == 200 and r.json()["added"] == 1


@pytest.mark.django_db
def test_r34_a_teacher_changing_a_posted_final_grade_flags_its_line_at_once(superuser):
    from grading.services.grades import grade_post

    # given: a HS course whose final task (credit 1) a teacher grades, posted as B
    w = reports_world()
    student = w.add_student()
    grade = w.letter(student, "B", term=w.q4)
    from grading.models import CourseGradingTask, CourseTaskTerm

    CourseGradingTask.objects.filter(course=w.english.course).update(credit=Decimal("1"))

    CourseTaskTerm.objects.filter(course_task__course=w.english.course).update(active=False)
    CourseTaskTerm.objects.filter(course_task__course=w.english.course, term=w.q4).update(
        active=True
    )
    _post(w, superuser)
    assert not TranscriptLine.objects.get(student=student, course_number="ENG1").needs_review
    # when: the teacher changes it to A (a correction, R16)
    grade_post(
        student=student,
        section=w.english,
        grading_task=w.term_grade,
        term=w.q4,
        score="A",
        by=w.teacher,
        correction_reason="Regraded essay",
    )
    # then: flagged now, value kept until the registrar decides
    line = TranscriptLine.objects.get(student=student, course_number="ENG1")
    assert line.needs_review and line.score == "B"
    assert Grade.objects.get(pk=grade.pk).score == "A"
