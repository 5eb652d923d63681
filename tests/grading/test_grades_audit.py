"""R43: grade writes are audited by the service - "create" or "update" as it happened - and a
change of the comments alone keeps a history row (R14)."""

import pytest

from grading.models import GRADE_COMMENTS_MAX, Grade, GradeHistory
from schools.models import AuditEntry
from tests.grading.test_grades_api import URL, body

pytestmark = pytest.mark.django_db


def test_r43_grade_upsert_that_updates_is_audited_as_update(api, tech, superuser):
    # given a posted grade
    first = api.post(URL, body(tech, percent="92.50"), format="json")
    assert first.status_code == 201
    # when the same key is posted again with another value (an upsert: 200)
    second = api.post(URL, body(tech, percent="80"), format="json")
    # then one "create" and one "update" entry, attributed, naming the changed fields only
    assert second.status_code == 200
    grade_id = first.json()["id"]
    entries = list(
        AuditEntry.objects.filter(model="grading.Grade", object_id=grade_id).order_by("id")
    )
    assert [e.action for e in entries] == ["create", "update"]
    assert {e.user for e in entries} == {superuser}
    assert entries[1].changes == ["percent", "score"]
    assert entries[1].school_id == tech.school.pk


def test_r43_unchanged_upsert_writes_no_audit_entry(api, tech):
    api.post(URL, body(tech, percent="92.50"), format="json")
    before = AuditEntry.objects.count()
    response = api.post(URL, body(tech, percent="92.50"), format="json")
    assert response.status_code == 200
    assert AuditEntry.objects.count() == before


def test_r43_comment_only_change_writes_a_history_row(api, tech):
    # given a posted grade with a comment
    created = api.post(URL, body(tech, percent="92.50", comments="Good"), format="json").json()
    grade = Grade.objects.get(pk=created["id"])
    assert grade.history.count() == 1
    # when only the comment changes
    response = api.post(URL, body(tech, percent="92.50", comments="Late work"), format="json")
    # then a history row keeps the old and new comments, the value unchanged
    assert response.status_code == 200
    latest = grade.history.order_by("-id").first()
    assert (latest.old_comments, latest.new_comments) == ("Good", "Late work")
    assert (latest.old_percent, latest.new_percent) == (grade.percent, grade.percent)
    history = api.get(f"{URL}{grade.pk}/history/").json()
    assert history[0]["new_comments"] == "Late work"
    assert GradeHistory.objects.filter(grade=grade).count() == 2
    entry = AuditEntry.objects.filter(model="grading.Grade", action="update").get()
    assert entry.changes == ["comments"]


def test_r43_bulk_post_audits_each_written_grade(api, tech):
    # given one grade already posted
    api.post(URL, body(tech, percent="70"), format="json")
    rows = [{"student": s.pk, "percent": "88"} for s in tech.students[:2]]
    # when a bulk post updates it and creates the other
    response = api.post(
        f"{URL}bulk/",
        {
            "section": tech.section.pk,
            "grading_task": tech.term_task.pk,
            "term": tech.s1.pk,
            "grades": rows,
        },
        format="json",
    )
    # then two entries more: one update, one create
    assert response.status_code == 200, response.json()
    actions = sorted(
        AuditEntry.objects.filter(model="grading.Grade").values_list("action", flat=True)
    )
    assert actions == ["create", "create", "update"]


def test_r44_grade_comments_over_the_limit_answer_400_and_save_nothing(api, tech):
    # given a comment one character over the limit
    long = "x" * (GRADE_COMMENTS_MAX + 1)
    # when it is posted alone and in a bulk post
    single = api.post(URL, body(tech, percent="90", comments=long), format="json")
    bulk = api.post(
        f"{URL}bulk/",
        {
            "section": tech.section.pk,
            "grading_task": tech.term_task.pk,
            "term": tech.s1.pk,
            "grades": [{"student": tech.students[0].pk, "percent": "90", "comments": long}],
        },
        format="json",
    )
    # then both are 400 with the limit's code, and nothing is written
    assert single.status_code == 400
    assert single.json()["comments"][0].startswith("Keep comments to 1000 characters")
    assert bulk.status_code == 400
    assert not Grade.objects.exists()
    assert not AuditEntry.objects.exists()


def test_r44_bulk_post_over_1000_rows_is_400_naming_the_limit_before_any_row_is_read(
    api, tech, django_assert_max_num_queries
):
    # given 1,001 rows, none of them valid (unknown students)
    rows = [{"student": 10**9 + n, "percent": "90"} for n in range(1001)]
    payload = {
        "section": tech.section.pk,
        "grading_task": tech.term_task.pk,
        "term": tech.s1.pk,
        "grades": rows,
    }
    # when posted: answered without looking up a single row (no student query)
    with django_assert_max_num_queries(3):  # session/auth only
        response = api.post(f"{URL}bulk/", payload, format="json")
    # then 400 naming the limit, on "grades", and nothing written
    assert response.status_code == 400
    assert response.json() == {
        "grades": [
            "Send at most 1,000 grades in one post (this one has 1,001); "
            "split them into several posts."
        ]
    }
    assert not Grade.objects.exists()


def test_r44_json_nested_5000_levels_is_400_not_500(api):
    body = "[" * 5000 + "]" * 5000
    response = api.generic("POST", f"{URL}bulk/", body, content_type="application/json")
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]
    moderate = '{"grades": ' + "[" * 40 + "]" * 40 + "}"
    response = api.generic("POST", URL, moderate, content_type="application/json")
    assert response.status_code == 400
