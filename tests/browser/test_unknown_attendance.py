"""An attendance clerk at a HS resolves unknown tech attendance on the worklist (R27)."""

import pytest
from playwright.sync_api import expect

from attendance.models import Attendance
from attendance.services.records import attendance_record
from exchange.services import exchange_run
from schools.models import StaffRole
from tests.browser.conftest import log_in
from tests.factories import UserFactory
from tests.world import MONDAY, TUESDAY, attendance_world

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_r27_clerk_resolves_unknown_attendance_from_the_nightly_sync(page):
    # given a HS with unknown attendance sync on, linked to a tech section, where the tech
    # teacher recorded two students absent with reason unknown on Monday
    world = attendance_world(students=3, sync=True)
    first, second, _ = world.students
    first.last_name, second.last_name = "Avery", "Brooks"
    first.save()
    second.save()
    for student in (first, second):
        attendance_record(
            student=student,
            section=world.tech_section,
            date=MONDAY,
            code=world.code(world.tech_school, "UNK"),
        )
    # and the nightly exchange ran on Tuesday
    run = exchange_run(as_of=TUESDAY, trigger="test", inline=True)
    assert run.status == "succeeded", run.error
    copies = {
        a.student_id: a
        for a in Attendance.objects.filter(section=world.hs_section).select_related("code")
    }
    assert {a.code.code for a in copies.values()} == {"UNK"} and len(copies) == 2
    clerk = UserFactory(username="aclerk", first_name="Alex", last_name="Clerk")
    StaffRole.objects.create(user=clerk, role="attendance_clerk", school=world.hs_school)
    ae = world.code(world.hs_school, "AE")

    # when the clerk opens the worklist
    log_in(page, "aclerk", "pw-for-tests-1")
    page.goto(f"/school/{world.hs_school.pk}/unknown-attendance/")

    # then both records are listed with the HS unknown code
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(2)
    avery = rows.filter(has_text="Avery")
    expect(avery).to_contain_text("2026-11-16")
    expect(avery).to_contain_text("UNK")
    expect(rows.filter(has_text="Brooks")).to_contain_text(second.state_id)

    # when they choose Absent excused for Avery and resolve that row
    avery.locator("select").select_option(label="AE – Absent excused")
    avery.get_by_role("button", name="Resolve").click()

    # then a confirmation shows and Avery's row has left the worklist
    expect(page.locator(".messages li.success")).to_have_text("Resolved 1 record as AE.")
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody")).not_to_contain_text("Avery")
    record = Attendance.objects.get(pk=copies[first.pk].pk)
    assert record.code_id == ae.pk and record.resolved_by_id == clerk.pk
    assert record.resolved_at is not None

    # when they tick Brooks and resolve the selection without choosing a code
    page.locator("tbody tr", has_text="Brooks").get_by_role("checkbox").check()
    page.get_by_role("button", name="Resolve selected").click()

    # then they are told what to do and nothing changes
    expect(page.get_by_role("alert")).to_have_text("Choose one of the school's codes.")
    assert Attendance.objects.get(pk=copies[second.pk].pk).resolved_at is None

    # when they choose a code for the selection and resolve it
    page.locator("tbody tr", has_text="Brooks").get_by_role("checkbox").check()
    page.locator("select[name=bulk_code]").select_option(label="AE – Absent excused")
    page.get_by_role("button", name="Resolve selected").click()

    # then the worklist is empty
    expect(page.locator(".messages li.success")).to_contain_text("Resolved 1 record")
    expect(page.get_by_text("Nothing to resolve.")).to_be_visible()
    assert not Attendance.objects.filter(section=world.hs_section, resolved_at__isnull=True)

    # and a later run does not overwrite the resolved records
    exchange_run(as_of=TUESDAY, trigger="test", inline=True)
    assert set(
        Attendance.objects.filter(section=world.hs_section).values_list("code__code", flat=True)
    ) == {"AE"}
