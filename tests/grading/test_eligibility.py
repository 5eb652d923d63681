"""R33: athletic eligibility - students with a non-passing grade in the term."""

import pytest

from grading.selectors.gpa import eligibility
from tests.factories import SchoolFactory
from tests.world import reports_world


@pytest.mark.django_db
def test_r33_failing_exchanged_tech_grade_puts_the_student_on_the_list():
    # given a student with an English A and a failing exchanged KTS grade, and a passing one
    w = reports_world()
    failing, passing = w.add_student(), w.add_student()
    w.letter(failing, "A")
    w.exchanged(failing, "42.00", "F")
    w.letter(passing, "D")
    w.exchanged(passing, "60.00", "D")
    # when
    rows = eligibility(school=w.hs_school, term=w.q1)
    # then only the tech F is listed, with course and score
    assert [(r["student"], r["course_name"], r["score"], str(r["percent"])) for r in rows] == [
        (failing.pk, "Welding I", "F", "42.00")
    ]
    assert rows[0]["source"] == "exchange"


@pytest.mark.django_db
def test_r33_any_non_passing_grade_counts_even_without_term_gpa_weight():
    # given a failing English letter grade in Q1 and a failing one in Q2
    w = reports_world()
    student = w.add_student()
    w.letter(student, "F")
    w.letter(student, "F", term=w.hs_terms[1])
    w.exchanged(student, "30", "F", code="CTE_FINAL", term=w.q1)  # no Term GPA weight
    rows = eligibility(school=w.hs_school, term=w.q1)
    assert sorted(r["grading_task_name"] for r in rows) == ["CTE Final Grade", "Term Grade"]


@pytest.mark.django_db
def test_r33_eligibility_query_count_does_not_grow(django_assert_max_num_queries):
    w = reports_world()
    for _ in range(2):
        w.exchanged(w.add_student(), "10", "F")
    with django_assert_max_num_queries(4):
        assert len(eligibility(school=w.hs_school, term=w.q1)) == 2
    for _ in range(8):
        w.exchanged(w.add_student(), "10", "F")
    with django_assert_max_num_queries(4):
        assert len(eligibility(school=w.hs_school, term=w.q1)) == 10


@pytest.mark.django_db
def test_r33_eligibility_api(api):
    w = reports_world()
    student = w.add_student()
    w.exchanged(student, "42.00", "F")
    r = api.get("/api/v1/reports/eligibility/", {"school": w.hs_school.pk, "term": w.q1.pk})
    assert r.status_code == 200
    row = r.json()[0]
    assert row["student"] == student.pk
    assert row["section"] == w.hs_section.pk and row["course"] == w.hs_section.course_id
    assert row["grading_task"] == w.hs_tasks["CTE_TERM"].grading_task_id
    assert row["score"] == "F" and row["percent"] == "42.00"


@pytest.mark.django_db
def test_r33_eligibility_api_refuses_a_term_of_another_school(api):
    w = reports_world()
    other = SchoolFactory(district=w.district)
    r = api.get("/api/v1/reports/eligibility/", {"school": other.pk, "term": w.q1.pk})
    assert r.status_code == 400 and r.data["term"][0].code == "term_of_other_school"
    r = api.get("/api/v1/reports/eligibility/", {"school": w.hs_school.pk, "term": 0})
    assert r.status_code == 400 and "term" in r.json()


@pytest.mark.django_db
def test_r33_eligibility_page(admin_client_su):
    w = reports_world()
    student = w.add_student(last_name="Quill")
    w.exchanged(student, "42.00", "F")
    url = f"/school/{w.hs_school.pk}/eligibility/"
    body = admin_client_su.get(url, {"term": w.q1.pk}).content.decode()
    assert "Quill" in body and "Welding I" in body and "tech school" in body
    # without a term: the picker, no 500
    assert admin_client_su.get(url).status_code == 200
    # a tech school has no eligibility page
    assert admin_client_su.get(f"/school/{w.tech_school.pk}/eligibility/").status_code == 404
