"""A district admin sets up a KTS course's grading tasks in /admin/ and sees each error next
to the field to fix (R8, R9), with no more rights than their role gives (R36)."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from grading.models import CTE_FINAL, CTE_TERM, CourseGradingTask
from schools.models import StaffRole
from tests.browser.conftest import log_in
from tests.factories import (
    CalendarFactory,
    CourseFactory,
    SchoolFactory,
    UserFactory,
    quarters,
    setup_cte_tasks,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _inline(page, course_task):
    """The stacked inline block of one course task on the course page."""
    name = page.locator(f'input[name$="-id"][value="{course_task.pk}"]').get_attribute("name")
    return page.locator(f"#{name.removesuffix('-id')}")


def test_r8_r9_admin_shows_setup_errors_next_to_the_field_then_saves_the_fix(page):
    # given a correctly set-up KTS course at a HS (Term GPA on CTE Term Grade) and the admin of
    # its district: staff with a district admin role, no superuser, no model permissions (R36)
    admin = UserFactory(
        username="districtadmin", first_name="Dana", last_name="District", is_staff=True
    )
    school = SchoolFactory(name="Central High")
    StaffRole.objects.create(user=admin, role="district_admin", district=school.district)
    calendar = CalendarFactory(school=school)
    q1, *_ = quarters(calendar)
    course = CourseFactory(calendar=calendar, is_kts=True, number="CTE1", name="Welding I")
    tasks = setup_cte_tasks(course, active_term=q1)
    log_in(page, admin.username, "pw-for-tests-1")

    # when the admin opens the course and sees its Grading Tasks
    page.goto(f"/admin/schools/course/{course.pk}/change/")
    term, final = _inline(page, tasks[CTE_TERM]), _inline(page, tasks[CTE_FINAL])
    expect(term.locator("input[name$=term_gpa_weight]")).to_have_value("1.00")
    # and also sets Term GPA on CTE Final Grade and a credit on CTE Term Grade, then saves
    final.locator("input[name$=term_gpa_weight]").fill("1")
    term.locator("input[name$=-credit]").fill("1")
    page.locator("input[name=_continue]").click()

    # then each error shows next to its field and nothing is saved
    expect(page.locator(".errornote")).to_be_visible()
    expect(final.locator(".field-term_gpa_weight .errorlist")).to_contain_text(
        "Set Term GPA on only one task; CTE Term Grade already has it."
    )
    expect(term.locator(".field-credit .errorlist")).to_contain_text(
        "Leave credit blank on CTE Term Grade; credit goes on CTE Final Grade."
    )
    expect(page.locator(".messagelist .success")).to_have_count(0)
    saved = {ct.grading_task.code: ct for ct in CourseGradingTask.objects.filter(course=course)}
    assert saved[CTE_FINAL].term_gpa_weight is None
    assert saved[CTE_TERM].credit is None

    # when they fix it by moving Term GPA to CTE Final Grade, clear the credit and save again
    term.locator("input[name$=term_gpa_weight]").fill("")
    term.locator("input[name$=-credit]").fill("")
    page.locator("input[name=_continue]").click()

    # then the admin says the course was changed and the setup is as intended
    expect(page.locator(".messagelist .success")).to_contain_text("was changed successfully")
    expect(page.locator(".errorlist")).to_have_count(0)
    expect(term.locator("input[name$=term_gpa_weight]")).to_have_value("")
    expect(final.locator("input[name$=term_gpa_weight]")).to_have_value("1.00")
    saved = {ct.grading_task.code: ct for ct in CourseGradingTask.objects.filter(course=course)}
    assert saved[CTE_TERM].term_gpa_weight is None
    assert saved[CTE_TERM].credit is None
    assert saved[CTE_FINAL].term_gpa_weight == Decimal("1.00")
    assert saved[CTE_FINAL].credit == Decimal("1")
