"""Teacher pages: my sections and the grade grid (R13, R14, R16, R23)."""

from decimal import Decimal

import pytest

from exchange.models import KtsLink
from grading.models import Grade, GradeHistory
from schools.models import SchoolKind, StaffRole
from tests.factories import (
    CalendarFactory,
    CourseFactory,
    SchoolFactory,
    SectionFactory,
    UserFactory,
    quarters,
    setup_cte_tasks,
)
from tests.grading.conftest import enroll_and_roster

pytestmark = pytest.mark.django_db


def grid_url(section) -> str:
    return f"/teacher/sections/{section.pk}/grades/"


def cell(student, course_task) -> str:
    return f"g-{student.pk}-{course_task.pk}"


def test_teacher_pages_need_login(client, tech):
    response = client.get("/teacher/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_r13_my_sections_lists_own_sections_with_missing_grades(client, tech, letters):
    # given: one of three students graded in the tech section
    Grade.objects.create(
        student=tech.students[0],
        section=tech.section,
        grading_task=tech.term_task,
        term=tech.s1,
        percent=Decimal("90"),
        score="A",
    )
    client.force_login(tech.teacher)
    # when
    response = client.get("/teacher/")
    # then
    assert response.status_code == 200
    rows = {row["section"].pk: row for row in response.context["rows"]}
    assert set(rows) == {tech.section.pk, letters.section.pk}
    # 2 CTE Term Grades (S1) + 3 CTE Final Grades (S2): each task counts on its active term
    assert rows[tech.section.pk]["missing"] == 5
    assert rows[letters.section.pk]["missing"] == 2
    assert rows[tech.section.pk]["last_posted_at"] is not None
    assert b"Central ATC" in response.content


def test_r13_my_sections_queries_do_not_grow_with_sections(
    client, tech, letters, django_assert_max_num_queries
):
    client.force_login(tech.teacher)
    with django_assert_max_num_queries(14):
        assert client.get("/teacher/").status_code == 200


def test_r13_grid_renders_students_and_active_tasks(client, tech, django_assert_max_num_queries):
    client.force_login(tech.teacher)
    with django_assert_max_num_queries(14):
        response = client.get(grid_url(tech.section))
    assert response.status_code == 200
    html = response.content.decode()
    for student in tech.students:
        assert f'name="{cell(student, tech.course_tasks["CTE_TERM"])}"' in html
    assert "CTE Term Grade" in html
    assert "CTE Final Grade" in html
    assert html.index("CTE Term Grade") < html.index("CTE Final Grade")
    assert 'id="score-groups"' in html


def test_r13_r14_posting_the_grid_saves_all_cells(client, tech):
    # given
    client.force_login(tech.teacher)
    ct = tech.course_tasks["CTE_TERM"]
    a, b, c = tech.students
    # when
    response = client.post(
        grid_url(tech.section), {cell(a, ct): "91.5", cell(b, ct): "72", cell(c, ct): ""}
    )
    # then
    assert response.status_code == 302
    grades = {g.student_id: g for g in Grade.objects.all()}
    assert set(grades) == {a.pk, b.pk}
    assert (grades[a.pk].score, grades[a.pk].percent) == ("A", Decimal("91.50"))
    assert grades[b.pk].posted_by == tech.teacher
    assert GradeHistory.objects.count() == 2
    page = client.get(response["Location"])
    assert "Saved 2 grades." in page.content.decode()


def test_r13_grid_error_shows_next_to_the_cell_and_nothing_is_saved(client, tech):
    # given
    client.force_login(tech.teacher)
    ct = tech.course_tasks["CTE_TERM"]
    a, b, _ = tech.students
    # when
    response = client.post(grid_url(tech.section), {cell(a, ct): "91", cell(b, ct): "120"})
    # then
    assert response.status_code == 200
    assert not Grade.objects.exists()
    grid = response.context["grid"]
    assert list(grid.cell_errors) == [cell(b, ct)]
    html = response.content.decode()
    assert "Enter a percent from 0 to 100." in html
    assert 'value="120"' in html  # the teacher's input is kept
    assert "Nothing was saved" in html


def test_r13_another_teachers_section_is_404(client, tech, other_teacher):
    client.force_login(other_teacher)
    assert client.get(grid_url(tech.section)).status_code == 404
    assert client.post(grid_url(tech.section), {}).status_code == 404
    assert tech.section.pk not in {r["section"].pk for r in client.get("/teacher/").context["rows"]}


def test_r42_grid_save_needs_the_teacher_role_at_the_school(client, tech):
    # given: a user listed on the section without a teacher role at its school
    listed = UserFactory(username="listed-no-role")
    tech.section.teachers.add(listed)
    StaffRole.objects.create(user=listed, role="attendance_clerk", school=tech.school)
    client.force_login(listed)
    ct = tech.course_tasks["CTE_TERM"]
    a, b, _ = tech.students
    # when
    response = client.post(grid_url(tech.section), {cell(a, ct): "91", cell(b, ct): "72"})
    # then: refused as the API refuses, and nothing is written
    assert response.status_code == 403
    assert not Grade.objects.exists()
    assert not GradeHistory.objects.exists()


def test_r13_superuser_sees_any_section(client, tech, superuser):
    client.force_login(superuser)
    assert client.get(grid_url(tech.section)).status_code == 200


def test_r16_grid_change_of_final_grade_needs_correction_reason(client, tech):
    # given: final grade open and posted
    tech.course_tasks["CTE_FINAL"].mask.update(active=True)
    tech.course_tasks["CTE_TERM"].mask.update(active=False)
    client.force_login(tech.teacher)
    ct = tech.course_tasks["CTE_FINAL"]
    a = tech.students[0]
    client.post(grid_url(tech.section), {cell(a, ct): "85"})
    # when
    refused = client.post(grid_url(tech.section), {cell(a, ct): "95"})
    accepted = client.post(
        grid_url(tech.section), {cell(a, ct): "95", "correction_reason": "Portfolio re-graded"}
    )
    # then
    assert "correction reason" in refused.content.decode()
    assert accepted.status_code == 302
    grade = Grade.objects.get()
    assert grade.percent == Decimal("95.00")
    assert grade.history.order_by("-id").first().reason == "Portfolio re-graded"


def test_r23_linked_hs_section_is_read_only(client, tech, teacher):
    # given
    school = SchoolFactory(kind=SchoolKind.HIGH_SCHOOL)
    calendar = CalendarFactory(school=school)
    q = quarters(calendar)
    course = CourseFactory(calendar=calendar, is_kts=True)
    tasks = setup_cte_tasks(course, active_term=q[0])
    section = SectionFactory(course=course, teachers=[teacher])
    StaffRole.objects.create(user=teacher, role="teacher", school=school)
    student = enroll_and_roster(section, count=1)[0]
    KtsLink.objects.create(hs_section=section, tech_section=tech.section)
    client.force_login(teacher)
    # when
    page = client.get(grid_url(section))
    posted = client.post(grid_url(section), {cell(student, tasks["CTE_TERM"]): "90"})
    # then
    assert 'id="linked-note"' in page.content.decode()
    assert "nightly exchange" in page.content.decode()
    assert posted.status_code == 302
    assert not Grade.objects.exists()
