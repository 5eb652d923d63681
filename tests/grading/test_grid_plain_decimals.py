"""Issue 12 (R13, R5): the grade grid takes plain decimals only; preview and server agree."""

import pytest

from grading.forms import percent_refusal
from grading.models import Grade
from tests.grading.test_teacher_pages import cell, grid_url

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("raw", ["85", "85.5", "85.50"])
def test_r13_grid_saves_plain_decimals(client, tech, raw):
    # given
    client.force_login(tech.teacher)
    student = tech.students[0]
    # when
    response = client.post(
        grid_url(tech.section), {cell(student, tech.course_tasks["CTE_TERM"]): raw}
    )
    # then
    assert response.status_code == 302
    assert str(Grade.objects.get(student=student).percent).rstrip("0").rstrip(".") == raw.rstrip(
        "0"
    ).rstrip(".")


@pytest.mark.parametrize(
    "raw, hint",
    [
        ("1e2", "digits 0-9"),
        ("１００", "digits 0-9"),
        ("٨٥", "digits 0-9"),
        ("85,5", "Use a decimal point: type 85.5"),
    ],
)
def test_r13_grid_refuses_other_numbers_with_what_to_type(client, tech, raw, hint):
    # given
    client.force_login(tech.teacher)
    student = tech.students[0]
    # when
    response = client.post(
        grid_url(tech.section), {cell(student, tech.course_tasks["CTE_TERM"]): raw}
    )
    # then
    assert response.status_code == 200  # the grid again, with the error on the cell
    assert "Nothing was saved" in response.content.decode()
    assert hint in response.content.decode()
    assert "percent" not in percent_refusal("85,5")
    assert not Grade.objects.exists()


def test_r13_preview_uses_the_same_pattern_as_the_server(client, tech):
    # given
    client.force_login(tech.teacher)
    # when
    html = client.get(grid_url(tech.section)).content.decode()
    # then: the inline preview accepts exactly what PLAIN_DECIMAL accepts
    assert r"/^[0-9]+(\.[0-9]+)?$/" in html
    assert percent_refusal("85") is None and percent_refusal("A") is None
