"""Issue 12 (R25): All present keeps saved codes, a day without school shows a notice, and
no date or id answers 500."""

import datetime as dt

import pytest

from attendance.models import Attendance
from tests.world import MONDAY


def url(world, day=MONDAY, section_id=None):
    sid = section_id if section_id is not None else world.tech_section.pk
    return f"/teacher/sections/{sid}/attendance/?date={day}"


def test_r25_all_present_keeps_a_saved_absence_and_says_how_many_it_filled(client, world):
    # given: one student saved absent
    client.force_login(world.teacher)
    s0, s1, s2 = world.students
    absent = world.code(world.tech_school, "AU")
    client.post(url(world), {"action": "save", f"code_{s0.pk}": absent.pk})
    # when: All present without ticking anyone else
    response = client.post(url(world), {"action": "all_present"}, follow=True)
    # then: the absence stays, the two unmarked students are present
    saved = {a.student_id: a.code.code for a in Attendance.objects.filter(date=MONDAY)}
    assert saved == {s0.pk: "AU", s1.pk: "P", s2.pk: "P"}
    assert "All present marked 2 students" in response.content.decode()


def test_r25_all_present_keeps_a_code_ticked_in_the_form(client, world):
    # given
    client.force_login(world.teacher)
    s0 = world.students[0]
    tardy = world.code(world.tech_school, "T")
    # when
    client.post(url(world), {"action": "all_present", f"code_{s0.pk}": tardy.pk})
    # then
    assert Attendance.objects.get(student=s0).code.code == "T"
    assert Attendance.objects.filter(code__status="present").count() == 2


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_r25_far_dates_show_a_notice_not_a_500(client, world, day):
    # given
    client.force_login(world.teacher)
    # when
    response = client.get(url(world, day))
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "No attendance is taken on this day" in html
    assert 'name="action"' not in html


def test_r25_a_malformed_date_is_400(client, world):
    # given
    client.force_login(world.teacher)
    # when
    response = client.get(url(world, "2026-02-31"))
    # then
    assert response.status_code == 400
    assert "YYYY-MM-DD" in response.content.decode()


@pytest.mark.parametrize("day", ["future", dt.date(2026, 11, 14)])  # a Saturday
def test_r25_a_future_day_or_weekend_shows_the_notice_once_and_no_form(client, world, day):
    # given
    client.force_login(world.teacher)
    if day == "future":
        day = dt.date.today() + dt.timedelta(days=3)
    s0 = world.students[0]
    # when
    get = client.get(url(world, day))
    post = client.post(
        url(world, day), {"action": "save", f"code_{s0.pk}": world.code(world.tech_school, "P").pk}
    )
    # then
    assert get.status_code == 200
    assert 'name="action"' not in get.content.decode()
    assert post.status_code == 400
    html = post.content.decode()
    assert html.count("No attendance is taken on this day") == 1
    assert "choose" in html
    assert not Attendance.objects.exists()


def test_r25_a_section_id_too_large_for_the_database_is_404(client, world):
    # given
    client.force_login(world.teacher)
    # when
    response = client.get(url(world, MONDAY, section_id="99999999999999999999"))
    # then
    assert response.status_code == 404
