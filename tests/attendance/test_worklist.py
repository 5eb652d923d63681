"""R27: the clerks' unknown-attendance worklist (API, page, resolve service)."""

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from attendance.models import Attendance
from attendance.services.records import attendance_record
from attendance.services.worklist import attendance_resolve
from exchange.flows.attendance import sync_unknown_attendance
from schools.models import StaffRole
from tests.factories import YEAR, UserFactory
from tests.world import MONDAY, TUESDAY


@pytest.fixture
def copies(world):
    """Two unknown tech records copied to the HS by a sync run."""
    for student in world.students[:2]:
        attendance_record(
            student=student,
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
    return list(Attendance.objects.filter(section=world.hs_section).order_by("pk"))


def test_r27_api_lists_the_worklist_oldest_first(api, world, copies):
    # when
    response = api.get("/api/v1/attendance/unknown/", {"school": world.hs_school.pk})
    # then
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [c.pk for c in copies]
    assert response.json()["results"][0]["source"] == "exchange"


def test_r27_api_worklist_needs_a_school(api, world):
    # when
    response = api.get("/api/v1/attendance/unknown/")
    # then
    assert response.status_code == 400
    assert "school" in response.json()


def test_r27_api_resolve_sets_code_and_leaves_the_worklist(api, world, copies, superuser):
    # given
    record = copies[0]
    # when
    response = api.post(
        f"/api/v1/attendance/{record.pk}/resolve/", {"code": world.code(world.hs_school, "AE").pk}
    )
    # then
    assert response.status_code == 200, response.json()
    assert response.json()["resolved_at"] is not None
    record.refresh_from_db()
    assert record.code.code == "AE" and record.resolved_by == superuser
    left = api.get("/api/v1/attendance/unknown/", {"school": world.hs_school.pk}).json()["results"]
    assert [r["id"] for r in left] == [copies[1].pk]


def test_r27_api_resolving_a_record_not_on_the_worklist_is_400(api, world, copies):
    # given
    record = copies[0]
    attendance_resolve(record=record, code=world.code(world.hs_school, "AE"), by=None)
    # when
    again = api.post(
        f"/api/v1/attendance/{record.pk}/resolve/", {"code": world.code(world.hs_school, "AU").pk}
    )
    # then
    assert again.status_code == 400
    assert "not on the unknown-attendance worklist" in again.json()["non_field_errors"][0]
    record.refresh_from_db()
    assert record.code.code == "AE"


def test_r27_api_resolving_with_another_schools_code_is_400(api, world, copies):
    # when
    response = api.post(
        f"/api/v1/attendance/{copies[0].pk}/resolve/",
        {"code": world.code(world.tech_school, "AE").pk},
    )
    bad = api.post(f"/api/v1/attendance/{copies[0].pk}/resolve/", {"code": "x"})
    # then
    assert response.status_code == 400 and "code" in response.json()
    assert bad.status_code == 400
    copies[0].refresh_from_db()
    assert copies[0].resolved_at is None and copies[0].code.code == "UNK"


def test_r27_resolve_service_refuses_a_present_record(world):
    # given
    record, _ = attendance_record(
        student=world.students[0],
        section=world.tech_section,
        date=MONDAY,
        code=world.code(world.tech_school, "P"),
    )
    # when / then
    with pytest.raises(ValidationError) as exc:
        attendance_resolve(record=record, code=world.code(world.tech_school, "AE"), by=None)
    assert exc.value.code == "not_on_worklist"


def test_r36_clerk_of_another_school_cannot_resolve(world, copies):
    # given
    outsider = UserFactory()
    StaffRole.objects.create(user=outsider, role="attendance_clerk", school=world.tech_school)
    client = APIClient()
    client.force_authenticate(outsider)
    # when
    response = client.post(
        f"/api/v1/attendance/{copies[0].pk}/resolve/",
        {"code": world.code(world.hs_school, "AE").pk},
    )
    # then
    assert response.status_code == 404
    copies[0].refresh_from_db()
    assert copies[0].resolved_at is None


def test_r27_page_resolves_one_and_in_bulk(client, world, copies):
    # given
    clerk = UserFactory()
    StaffRole.objects.create(user=clerk, role="attendance_clerk", school=world.hs_school)
    client.force_login(clerk)
    url = f"/school/{world.hs_school.pk}/unknown-attendance/"
    ae = world.code(world.hs_school, "AE")
    # when
    page = client.get(url)
    one = client.post(url, {"resolve": copies[0].pk, f"code_{copies[0].pk}": ae.pk})
    # then
    assert page.status_code == 200 and copies[0].student.last_name in page.content.decode()
    assert one.status_code == 302
    # when: bulk with nothing chosen, then properly
    nothing = client.post(url, {"bulk": "1", "ids": [copies[1].pk]})
    bulk = client.post(url, {"bulk": "1", "ids": [copies[1].pk], "bulk_code": ae.pk})
    # then
    assert nothing.status_code == 400
    assert bulk.status_code == 302
    assert (
        Attendance.objects.filter(section=world.hs_section, resolved_at__isnull=False).count() == 2
    )
    assert "Nothing to resolve" in client.get(url).content.decode()


def test_r27_page_bulk_with_a_record_off_the_worklist_resolves_nothing(
    client, world, copies, superuser
):
    # given
    client.force_login(superuser)
    attendance_resolve(record=copies[0], code=world.code(world.hs_school, "AE"), by=None)
    url = f"/school/{world.hs_school.pk}/unknown-attendance/"
    # when
    response = client.post(
        url,
        {
            "bulk": "1",
            "ids": [copies[0].pk, copies[1].pk],
            "bulk_code": world.code(world.hs_school, "AU").pk,
        },
    )
    # then
    assert response.status_code == 400
    copies[1].refresh_from_db()
    assert copies[1].resolved_at is None


def test_r36_worklist_page_is_404_outside_ones_school(client, world):
    # given
    stranger = UserFactory()
    StaffRole.objects.create(user=stranger, role="attendance_clerk", school=world.tech_school)
    client.force_login(stranger)
    # when
    response = client.get(f"/school/{world.hs_school.pk}/unknown-attendance/")
    # then
    assert response.status_code == 404


def test_r27_resolving_with_the_unknown_code_is_refused(api, world, copies):
    # given
    unknown = world.code(world.hs_school, "UNK")
    # when
    with pytest.raises(ValidationError) as exc:
        attendance_resolve(record=copies[0], code=unknown, by=None)
    response = api.post(f"/api/v1/attendance/{copies[1].pk}/resolve/", {"code": unknown.pk})
    # then
    assert exc.value.error_dict["code"][0].code == "code_unknown"
    assert response.status_code == 400 and "unknown-excuse" in str(response.json())
    assert not Attendance.objects.filter(resolved_at__isnull=False).exists()


def test_r27_page_does_not_offer_the_unknown_code(client, world, copies, superuser):
    # given
    client.force_login(superuser)
    unknown = world.code(world.hs_school, "UNK")
    # when
    html = client.get(f"/school/{world.hs_school.pk}/unknown-attendance/").content.decode()
    # then
    assert f'<option value="{unknown.pk}">' not in html
    assert '<label for="bulk_code">' in html
