"""Bad input never gives a 500: malformed ids on the worklist page and API answer 400."""

import pytest

from attendance.models import Attendance
from attendance.services.records import attendance_record
from exchange.flows.attendance import sync_unknown_attendance
from tests.factories import YEAR
from tests.world import MONDAY, TUESDAY


@pytest.fixture
def copy(world):
    """One unknown tech record copied to the HS by a sync run."""
    attendance_record(
        student=world.students[0],
        section=world.tech_section,
        date=MONDAY,
        code=world.code(world.tech_school, "UNK"),
    )
    sync_unknown_attendance(
        run_id=1,
        tech_school_id=world.tech_school.pk,
        as_of=TUESDAY,
        school_year=YEAR,
        dry_run=False,
    )
    return Attendance.objects.get(section=world.hs_section)


def test_r27_page_resolve_with_a_code_that_is_not_a_number_is_400(client, world, copy, superuser):
    # given
    client.force_login(superuser)
    url = f"/school/{world.hs_school.pk}/unknown-attendance/"
    # when
    response = client.post(url, {"resolve": copy.pk, f"code_{copy.pk}": "abc"})
    # then
    assert response.status_code == 400
    assert "Choose one of the school" in response.content.decode()
    copy.refresh_from_db()
    assert copy.resolved_at is None


def test_r27_page_resolve_with_a_non_ascii_digit_id_is_400(client, world, copy, superuser):
    # given
    client.force_login(superuser)
    url = f"/school/{world.hs_school.pk}/unknown-attendance/"
    # when: "²" passes str.isdigit() but is not a number int() reads
    one = client.post(url, {"resolve": "²", "code_²": "²"})
    bulk = client.post(url, {"bulk": "1", "ids": ["²"], "bulk_code": "²"})
    # then
    assert one.status_code == 400
    assert bulk.status_code == 400
    copy.refresh_from_db()
    assert copy.resolved_at is None


def test_r27_api_worklist_with_a_non_ascii_digit_school_is_400(api, world):
    # when
    response = api.get("/api/v1/attendance/unknown/", {"school": "²"})
    # then
    assert response.status_code == 400
    assert "school" in response.json()
