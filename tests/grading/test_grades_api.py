"""The grades API: upsert 201/200, bulk all-or-nothing, history, refusals as 400 (R13-R16)."""

import pytest

from exchange.models import KtsLink
from grading.models import Grade, GradeHistory
from schools.models import SchoolKind
from tests.factories import (
    CalendarFactory,
    CourseFactory,
    SchoolFactory,
    SectionFactory,
    quarters,
    setup_cte_tasks,
)
from tests.grading.conftest import enroll_and_roster

pytestmark = pytest.mark.django_db

URL = "/api/v1/grades/"


def body(tech, **extra):
    data = {
        "student": tech.students[0].pk,
        "section": tech.section.pk,
        "grading_task": tech.term_task.pk,
        "term": tech.s1.pk,
    }
    data.update(extra)
    return data


def test_r13_post_creates_201_then_upserts_200(api, tech):
    # when
    first = api.post(URL, body(tech, percent="92.50"), format="json")
    second = api.post(URL, body(tech, percent="78", comments="Late work"), format="json")
    # then
    assert first.status_code == 201, first.json()
    assert first.json()["percent"] == "92.50"
    assert first.json()["score"] == "A"
    assert first.json()["source"] == "teacher"
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert (second.json()["score"], second.json()["comments"]) == ("C", "Late work")
    assert Grade.objects.count() == 1


@pytest.mark.parametrize(
    ("extra", "field", "code"),
    [
        ({"percent": "101"}, "percent", "percent_out_of_range"),
        ({"percent": "92.555"}, "percent", "max_decimal_places"),
        ({"percent": "90", "score": "B"}, "score", "score_on_cte_numeric"),
        ({"score": "A"}, "percent", "percent_required"),
        ({"percent": "90", "student": 999999}, "student", "does_not_exist"),
    ],
)
def test_r13_bad_input_answers_400_and_saves_nothing(api, tech, extra, field, code):
    response = api.post(URL, body(tech, **extra), format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Grade.objects.exists()


def test_r13_inactive_term_answers_400(api, tech):
    response = api.post(URL, body(tech, percent="90", term=tech.s2.pk), format="json")
    assert response.status_code == 400
    assert "active term" in response.json()["term"][0]
    assert not Grade.objects.exists()


def test_malformed_json_answers_400(api, tech):
    response = api.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert not Grade.objects.exists()


def test_r14_patch_goes_through_the_service_and_history_lists_changes(api, tech):
    # given
    grade_id = api.post(URL, body(tech, percent="70"), format="json").json()["id"]
    # when
    patched = api.patch(f"{URL}{grade_id}/", {"percent": "85"}, format="json")
    unchanged = api.patch(f"{URL}{grade_id}/", {"percent": "85.00"}, format="json")
    history = api.get(f"{URL}{grade_id}/history/")
    # then
    assert patched.status_code == 200 and patched.json()["score"] == "B"
    assert unchanged.status_code == 200
    assert [(h["old_percent"], h["new_percent"]) for h in history.json()] == [
        ("70.00", "85.00"),
        (None, "70.00"),
    ]
    assert history.json()[0]["changed_by"] is not None
    assert set(history.json()[0]) >= {"changed_at", "source", "run", "reason", "new_score"}


def test_r13_a_grade_cannot_be_moved_by_patch(api, tech):
    grade_id = api.post(URL, body(tech, percent="70"), format="json").json()["id"]
    response = api.patch(f"{URL}{grade_id}/", {"student": tech.students[1].pk}, format="json")
    assert response.status_code == 400
    assert Grade.objects.get().student == tech.students[0]


def test_r16_final_change_without_reason_answers_400(api, tech):
    tech.course_tasks["CTE_FINAL"].mask.update(active=True)
    final = {"grading_task": tech.final_task.pk, "term": tech.s2.pk}
    assert api.post(URL, body(tech, percent="88", **final), format="json").status_code == 201
    refused = api.post(URL, body(tech, percent="90", **final), format="json")
    accepted = api.post(
        URL, body(tech, percent="90", correction_reason="Re-scored", **final), format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["correction_reason"][0]
    assert accepted.status_code == 200
    assert GradeHistory.objects.order_by("-id").first().reason == "Re-scored"


def test_r13_bulk_saves_all_and_answers_200(api, tech):
    a, b, c = tech.students
    response = api.post(
        f"{URL}bulk/",
        {
            "section": tech.section.pk,
            "grading_task": tech.term_task.pk,
            "term": tech.s1.pk,
            "grades": [
                {"student": a.pk, "percent": "91"},
                {"student": b.pk, "percent": "81.5", "comments": "ok"},
            ],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert [g["score"] for g in response.json()] == ["A", "B"]
    assert Grade.objects.count() == 2


def test_r13_bulk_with_a_bad_row_answers_400_naming_it_and_saves_nothing(api, tech):
    a, b, c = tech.students
    response = api.post(
        f"{URL}bulk/",
        {
            "section": tech.section.pk,
            "grading_task": tech.term_task.pk,
            "term": tech.s1.pk,
            "grades": [
                {"student": a.pk, "percent": "91"},
                {"student": b.pk, "percent": "150"},
            ],
        },
        format="json",
    )
    assert response.status_code == 400
    rows = response.json()["grades"]
    assert rows[0] == {}
    assert "percent" in rows[1]
    assert not Grade.objects.exists()


def test_grades_list_filters_by_school_and_section(api, tech, letters):
    api.post(URL, body(tech, percent="91"), format="json")
    response = api.get(URL, {"school": tech.school.pk})
    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert api.get(URL, {"school": letters.school.pk}).json()["count"] == 0
    assert api.get(URL, {"section": tech.section.pk, "source": "teacher"}).json()["count"] == 1


def test_grades_api_denies_anonymous(client, tech):
    assert client.get(URL).status_code in (401, 403)


def test_r5_label_not_in_group_answers_400(api, letters):
    data = {
        "student": letters.students[0].pk,
        "section": letters.section.pk,
        "grading_task": letters.task.pk,
        "term": letters.q1.pk,
    }
    refused = api.post(URL, {**data, "score": "E"}, format="json")
    accepted = api.post(URL, {**data, "score": "B"}, format="json")
    assert refused.status_code == 400 and "score" in refused.json()
    assert accepted.status_code == 201
    assert (accepted.json()["score"], accepted.json()["percent"]) == ("B", None)


def test_r23_post_on_linked_hs_section_answers_400(api, tech):
    # given
    calendar = CalendarFactory(school=SchoolFactory(kind=SchoolKind.HIGH_SCHOOL))
    q = quarters(calendar)
    course = CourseFactory(calendar=calendar, is_kts=True)
    task = setup_cte_tasks(course, active_term=q[0])["CTE_TERM"].grading_task
    section = SectionFactory(course=course)
    student = enroll_and_roster(section, count=1)[0]
    KtsLink.objects.create(hs_section=section, tech_section=tech.section)
    # when
    response = api.post(
        URL,
        {
            "student": student.pk,
            "section": section.pk,
            "grading_task": task.pk,
            "term": q[0].pk,
            "percent": "90",
        },
        format="json",
    )
    # then
    assert response.status_code == 400
    assert "nightly exchange" in response.json()["section"][0]
    assert not Grade.objects.exists()


def _bulk_as(user, tech, students, percent="88"):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(type(user).objects.get(pk=user.pk))  # no grants cached
    return client.post(
        f"{URL}bulk/",
        {
            "section": tech.section.pk,
            "grading_task": tech.term_task.pk,
            "term": tech.s1.pk,
            "grades": [{"student": s.pk, "percent": percent} for s in students],
        },
        format="json",
    )


def test_r13_bulk_queries_do_not_grow_with_rows(tech):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # given 60 more students rostered in the section
    students = enroll_and_roster(tech.section, count=60, service_type="secondary")
    # when the teacher posts 30 rows, then 60 rows (30 of them new)
    with CaptureQueriesContext(connection) as thirty:
        first = _bulk_as(tech.teacher, tech, students[:30])
    Grade.objects.all().delete()
    with CaptureQueriesContext(connection) as sixty:
        second = _bulk_as(tech.teacher, tech, students)
    # then both are saved with the same number of queries
    assert first.status_code == 200, first.json()
    assert second.status_code == 200, second.json()
    assert Grade.objects.count() == 60
    assert len(thirty.captured_queries) == len(sixty.captured_queries)


def test_r13_bulk_unknown_or_out_of_scope_student_is_named_per_row(tech, letters):
    # given a student of another school's section (outside the tech teacher's scope)
    from schools.models import StaffRole
    from tests.factories import UserFactory

    outsider = letters.students[0]
    teacher = UserFactory(username="tech-only")
    tech.section.teachers.add(teacher)
    StaffRole.objects.create(user=teacher, role="teacher", school=tech.school)
    a = tech.students[0]
    rows = [a, outsider, type(a)(pk=999999)]
    # when
    response = _bulk_as(teacher, tech, rows)
    # then each bad row is named with the related field's error, and nothing is written
    assert response.status_code == 400
    detail = response.json()["grades"]
    assert set(detail) == {"1", "2"}  # only the bad rows, by index
    assert response.data["grades"][1]["student"][0].code == "does_not_exist"
    assert response.data["grades"][2]["student"][0].code == "does_not_exist"
    assert detail["1"]["student"] == [f'Invalid pk "{outsider.pk}" - object does not exist.']
    assert not Grade.objects.exists()
