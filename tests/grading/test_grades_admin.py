"""The admin shows grades read-only with their history (R14)."""

import pytest

from grading.services.grades import grade_post

pytestmark = pytest.mark.django_db


def test_r14_admin_lists_grades_and_shows_history_read_only(admin_client_su, tech):
    # given
    grade, _ = grade_post(
        student=tech.students[0],
        section=tech.section,
        grading_task=tech.term_task,
        term=tech.s1,
        percent="88",
        by=tech.teacher,
    )
    grade_post(
        student=tech.students[0],
        section=tech.section,
        grading_task=tech.term_task,
        term=tech.s1,
        percent="93",
        by=tech.teacher,
    )
    # when
    listing = admin_client_su.get(
        "/admin/grading/grade/", {"q": tech.students[0].state_id, "source": "teacher"}
    )
    detail = admin_client_su.get(f"/admin/grading/grade/{grade.pk}/change/")
    # then
    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 1
    assert detail.status_code == 200
    html = detail.content.decode()
    assert "88.00" in html and "93.00" in html
    assert 'name="_save"' not in html
    assert admin_client_su.get("/admin/grading/grade/add/").status_code == 403
