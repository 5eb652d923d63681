"""A tech teacher posts grades in the grade grid with the keyboard (R4, R13)."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from grading.models import CTE_FINAL, CTE_TERM, Grade
from schools.models import SchoolKind, StaffRole
from tests.browser.conftest import log_in
from tests.factories import (
    CalendarFactory,
    CourseFactory,
    EnrollmentFactory,
    RosterFactory,
    SchoolFactory,
    SectionFactory,
    StudentFactory,
    UserFactory,
    semesters,
    setup_cte_tasks,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _tech_section():
    """A tech KTS section: CTE Term Grade open in S1, CTE Final Grade open in S2, three
    students (Adams, Baker, Clark), taught by Terry Teacher."""
    teacher = UserFactory(username="tteacher", first_name="Terry", last_name="Teacher")
    school = SchoolFactory(kind=SchoolKind.TECHNICAL_SCHOOL, name="Central ATC")
    calendar = CalendarFactory(school=school)
    s1, s2 = semesters(calendar)
    course = CourseFactory(calendar=calendar, is_kts=True, number="T100", name="Welding I")
    tasks = setup_cte_tasks(course, active_term=s1, final_active_term=s2)
    section = SectionFactory(course=course, number="1", teachers=[teacher])
    StaffRole.objects.create(user=teacher, role="teacher", school=school)
    students = []
    for last in ("Adams", "Baker", "Clark"):
        student = StudentFactory(last_name=last, first_name="Pat")
        EnrollmentFactory(student=student, calendar=calendar, service_type="secondary")
        RosterFactory(student=student, section=section)
        students.append(student)
    return teacher, section, tasks, students


def _cell(page, student, course_task):
    return page.locator(f'input[name="g-{student.pk}-{course_task.pk}"]')


def _derived(page, student, course_task):
    return _cell(page, student, course_task).locator("xpath=..").locator(".derived")


def _grades(section) -> dict:
    return {
        (g.student.last_name, g.grading_task.code): (g.percent, g.score)
        for g in Grade.objects.filter(section=section).select_related("student", "grading_task")
    }


def test_r13_teacher_types_percents_sees_scores_saves_and_a_bad_value_saves_nothing(page):
    # given a tech teacher with one KTS section of three students
    teacher, section, tasks, (adams, baker, clark) = _tech_section()
    term, final = tasks[CTE_TERM], tasks[CTE_FINAL]
    log_in(page, "tteacher", "pw-for-tests-1")

    # when they open My sections and click their section
    page.goto("/teacher/")
    row = page.locator("tr", has_text="Welding I")
    expect(row).to_contain_text("Central ATC")
    expect(row.locator(".pill.warn")).to_have_text("6")  # 3 term + 3 final grades missing
    row.get_by_role("link", name="Post grades").click()

    # then the grade grid shows both open tasks and every student
    expect(page).to_have_url(re.compile(rf"/teacher/sections/{section.pk}/grades/$"))
    expect(page.locator("thead")).to_contain_text("CTE Term Grade")
    expect(page.locator("thead")).to_contain_text("CTE Final Grade")
    expect(page.locator("tbody tr")).to_have_count(3)

    # when they type with the keyboard: Enter moves down, Tab moves right
    _cell(page, adams, term).click()
    page.keyboard.type("92")
    # then the score appears as they type (R4: CTE Numeric)
    expect(_derived(page, adams, term)).to_have_text("A")
    page.keyboard.press("Enter")
    expect(_cell(page, baker, term)).to_be_focused()
    page.keyboard.type("75")
    expect(_derived(page, baker, term)).to_have_text("C")
    page.keyboard.press("Enter")
    expect(_cell(page, clark, term)).to_be_focused()
    page.keyboard.type("58.5")
    expect(_derived(page, clark, term)).to_have_text("F")
    page.keyboard.press("Tab")
    expect(_cell(page, clark, final)).to_be_focused()
    page.keyboard.type("88")
    expect(_derived(page, clark, final)).to_have_text("B")
    # and nothing is saved before they press Save
    assert not Grade.objects.exists()

    # when they save
    page.get_by_role("button", name="Save grades").click()

    # then they see the success message and the saved values with their scores
    expect(page.locator(".messages li.success")).to_have_text("Saved 4 grades.")
    expect(_cell(page, adams, term)).to_have_value("92.00")
    expect(_derived(page, adams, term)).to_have_text("A")
    expect(_cell(page, clark, final)).to_have_value("88.00")
    expect(_derived(page, clark, final)).to_have_text("B")
    expect(page.locator("#last-posted")).not_to_have_text("never")
    assert _grades(section) == {
        ("Adams", "CTE_TERM"): (Decimal("92.00"), "A"),
        ("Baker", "CTE_TERM"): (Decimal("75.00"), "C"),
        ("Clark", "CTE_TERM"): (Decimal("58.50"), "F"),
        ("Clark", "CTE_FINAL"): (Decimal("88.00"), "B"),
    }

    # when they change Baker to 95 and mistype Adams as 120, then save
    _cell(page, baker, term).fill("95")
    _cell(page, adams, term).click()
    page.keyboard.press("Control+A")
    page.keyboard.type("120")
    expect(_derived(page, adams, term)).to_have_text("?")
    page.get_by_role("button", name="Save grades").click()

    # then the error shows next to the bad cell, the input is kept, and nothing is saved
    expect(page.locator(".messages li.error")).to_contain_text("Nothing was saved")
    bad = _cell(page, adams, term).locator("xpath=..")
    expect(bad).to_have_class("cell has-error")
    expect(bad.locator(".cell-error")).to_have_text("Enter a percent from 0 to 100.")
    expect(_cell(page, adams, term)).to_have_value("120")
    expect(_cell(page, baker, term)).to_have_value("95")
    expect(page.locator("td.has-error")).to_have_count(1)
    assert _grades(section)[("Adams", "CTE_TERM")] == (Decimal("92.00"), "A")
    assert _grades(section)[("Baker", "CTE_TERM")] == (Decimal("75.00"), "C")
    assert Grade.objects.count() == 4


def test_r13_preview_and_server_agree_on_plain_decimals(page):
    # given
    teacher, section, tasks, students = _tech_section()
    log_in(page, "tteacher", "pw-for-tests-1")
    page.goto(f"/teacher/sections/{section.pk}/grades/")
    term = tasks[CTE_TERM]
    # when the teacher types numbers the server refuses, and one it takes
    _cell(page, students[0], term).fill("1e2")
    _cell(page, students[1], term).fill("85,5")
    _cell(page, students[2], term).fill("85.50")
    # then the preview marks the refused ones and derives the plain one
    expect(_derived(page, students[0], term)).to_have_text("?")
    expect(_derived(page, students[1], term)).to_contain_text("decimal point")
    expect(_derived(page, students[2], term)).to_have_text("B")
    # and saving refuses the same cells, with what to type, and saves nothing
    page.get_by_role("button", name=re.compile("Save")).first.click()
    expect(page.get_by_text("Use a decimal point: type 85.5, not 85,5.")).to_be_visible()
    expect(page.get_by_text(re.compile("1e2 is not a plain number"))).to_be_visible()
    assert _grades(section) == {}
