"""Issue 13: whole API answers (report card, honor roll, pages of a grade list) are cached
under the versions of the school's data. Role and scope are checked on every request: a
cached answer is never given to a user of another school or role (R36, R42), a write makes
the next answer the new one, and a cached page of another school's grades is logged as a
disclosure like a computed one (R37).
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from grading.services.grades import grade_post
from schools.models import DisclosureLog, StaffRole
from schools.services.writes import model_save
from tests.factories import SchoolFactory, UserFactory
from tests.world import reports_world

CARD = "/api/v1/reports/report-card/"
ROLL = "/api/v1/reports/honor-roll/"
GRADES = "/api/v1/grades/"


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _staff(school, role: str) -> APIClient:
    user = UserFactory()
    StaffRole.objects.create(user=user, role=role, school=school)
    return _client(user)


def _world():
    w = reports_world()
    student = w.add_student(first_name="Ann", last_name="Archer")
    w.letter(student, "A")
    w.exchanged(student, "95.00", "A")
    return w, student


def _twice(client, url, params):
    """The answer read twice: the second, from the cache, is the same with fewer queries."""
    with CaptureQueriesContext(connection) as computed:
        first = client.get(url, params)
    assert first.status_code == 200, first.content
    with CaptureQueriesContext(connection) as cached:
        second = client.get(url, params)
    assert second.status_code == 200 and second.json() == first.json()
    assert len(cached) < len(computed)
    return first.json()


@pytest.mark.django_db
def test_r36_r42_a_cached_report_card_is_not_given_to_another_school_or_role():
    # given the HS registrar's report card of a student, cached
    w, student = _world()
    params = {"student": student.pk, "term": w.q1.pk}
    registrar = _staff(w.hs_school, "registrar")
    body = _twice(registrar, CARD, params)
    assert body["student_name"] == "Archer, Ann" and body["honor_roll"]
    # when a registrar of another high school, a teacher and a clerk of this one ask for it
    other_hs = SchoolFactory(district=w.hs_school.district)
    others = [
        _staff(other_hs, "registrar"),
        _staff(w.hs_school, "teacher"),
        _staff(w.hs_school, "attendance_clerk"),
        _staff(w.tech_school, "school_admin"),
    ]
    # then each is refused as before the cache (404), and nothing is written
    logs = DisclosureLog.objects.count()
    for client in others:
        assert client.get(CARD, params).status_code == 404
    assert DisclosureLog.objects.count() == logs
    # and the registrar still reads it
    assert registrar.get(CARD, params).json() == body


@pytest.mark.django_db
def test_r32_a_grade_write_and_a_teacher_change_show_in_the_next_report_card():
    # given a cached report card
    w, student = _world()
    params = {"student": student.pk, "term": w.q1.pk}
    registrar = _staff(w.hs_school, "registrar")
    before = _twice(registrar, CARD, params)
    english = next(s for s in before["sections"] if s["section"] == w.english.pk)
    assert english["grades"][0]["score"] == "A" and english["teacher_names"] == ["Ada Lovelace"]
    # when the teacher posts a C and changes her name
    grade_post(
        student=student,
        section=w.english,
        grading_task=w.term_grade,
        term=w.q1,
        score="C",
        by=w.teacher,
    )
    w.teacher.last_name = "King"
    w.teacher.save()
    # then the next answer shows both, and its GPA and tier are recomputed
    after = registrar.get(CARD, params).json()
    english = next(s for s in after["sections"] if s["section"] == w.english.pk)
    assert english["grades"][0]["score"] == "C"
    assert english["teacher_names"] == ["Ada King"]
    assert after["gpa"] != before["gpa"]


@pytest.mark.django_db
def test_r32_a_setup_write_shows_in_the_next_report_card():
    w, student = _world()
    params = {"student": student.pk, "term": w.q1.pk}
    registrar = _staff(w.hs_school, "registrar")
    _twice(registrar, CARD, params)
    # when the student's name is corrected through the one write path
    student.last_name = "Baker"
    model_save(instance=student)
    # then
    assert registrar.get(CARD, params).json()["student_name"] == "Baker, Ann"


@pytest.mark.django_db
def test_r42_a_cached_honor_roll_is_not_given_to_another_school_and_follows_writes():
    w, student = _world()
    params = {"school": w.hs_school.pk, "term": w.q1.pk}
    registrar = _staff(w.hs_school, "registrar")
    body = _twice(registrar, ROLL, params)
    assert [r["student"] for r in body] == [student.pk]
    other_hs = SchoolFactory(district=w.hs_school.district)
    assert _staff(other_hs, "registrar").get(ROLL, params).status_code == 404
    assert _staff(w.hs_school, "teacher").get(ROLL, params).status_code == 404
    # a grade write takes the student off the roll at once
    grade_post(
        student=student,
        section=w.english,
        grading_task=w.term_grade,
        term=w.q1,
        score="F",
        by=w.teacher,
    )
    assert registrar.get(ROLL, params).json() == []


@pytest.mark.django_db
@pytest.mark.parametrize("by", ["school", "section"])
def test_r36_a_cached_grade_page_is_not_given_to_another_scope_and_follows_writes(by):
    # given a page of the HS's grades (the whole school's, or the English section's), cached
    w, student = _world()
    second = w.add_student()
    w.letter(second, "B")
    params = (
        {"school": w.hs_school.pk, "term": w.q1.pk}
        if by == "school"
        else {"section": w.english.pk, "term": w.q1.pk}
    )
    registrar = _staff(w.hs_school, "registrar")
    body = _twice(registrar, GRADES, params)
    assert body["count"] == (3 if by == "school" else 2)
    # when a registrar of another high school asks for the same page
    other = _staff(SchoolFactory(district=w.hs_school.district), "registrar")
    # then they get their own scope's answer (none of these grades), not the cached page
    assert other.get(GRADES, params).json()["count"] == 0
    # and a teacher of the school gets the grades of their own sections only
    teacher = UserFactory()
    StaffRole.objects.create(user=teacher, role="teacher", school=w.hs_school)
    mine = _client(teacher).get(GRADES, params).json()
    assert mine["count"] == 0
    # and the English teacher the English grades (not the exchanged KTS grade)
    StaffRole.objects.create(user=w.teacher, role="teacher", school=w.hs_school)
    english = _client(w.teacher).get(GRADES, params).json()
    assert english["count"] == 2
    assert {g["section"] for g in english["results"]} == {w.english.pk}
    # when a grade is changed through the service
    grade_post(
        student=second,
        section=w.english,
        grading_task=w.term_grade,
        term=w.q1,
        score="D",
        by=w.teacher,
    )
    # then the registrar's next page shows it
    page = registrar.get(GRADES, params).json()["results"]
    scores = {(g["student"], g["section"]): g["score"] for g in page}
    assert scores[(second.pk, w.english.pk)] == "D"


@pytest.mark.django_db
def test_r37_a_cached_page_of_tech_grades_is_logged_on_every_read():
    # given a HS student's grade at the technical school, read by the HS registrar
    w, student = _world()
    w.post_tech_grade(student, "91")
    from schools.versions import bump_grades

    bump_grades(school_ids=[w.tech_school.pk])
    registrar = _staff(w.hs_school, "registrar")
    params = {"school": w.tech_school.pk}
    # when the page is read twice (the second answer from the cache)
    body = _twice(registrar, GRADES, params)
    assert [g["student"] for g in body["results"]] == [student.pk]
    # then each read is a disclosure of the tech school's record (R37)
    logs = DisclosureLog.objects.filter(source_school_id=w.tech_school.pk)
    assert logs.count() == 2
    assert all(log.student_ids == [student.pk] for log in logs)
    assert {log.reader_school_id for log in logs} == {w.hs_school.pk}
