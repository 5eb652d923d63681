import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from attendance.models import AttendanceCode
from attendance.services.codes import attendance_code_create
from tests.factories import SchoolFactory


@pytest.mark.django_db
def test_r25_code_belongs_to_a_school_with_status_and_excuse():
    # given
    school = SchoolFactory()
    # when
    code = attendance_code_create(school=school, code="U", status="absent", excuse="unknown")
    # then
    assert code.school == school and code.excuse == "unknown"


@pytest.mark.django_db
def test_r25_present_code_with_an_excuse_is_refused():
    # given
    school = SchoolFactory()
    # when / then
    with pytest.raises(ValidationError) as exc:
        attendance_code_create(school=school, code="P", status="present", excuse="excused")
    assert exc.value.error_dict["excuse"][0].code == "excuse_status"
    assert not AttendanceCode.objects.exists()


@pytest.mark.django_db
def test_r25_database_refuses_an_absent_code_without_excuse():
    # given
    school = SchoolFactory()
    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        AttendanceCode.objects.create(school=school, code="A", status="absent", excuse="")


@pytest.mark.django_db
def test_r25_api_creates_and_filters_codes_by_school(api):
    # given
    a, b = SchoolFactory(), SchoolFactory()
    # when
    created = api.post(
        "/api/v1/attendance-codes/",
        {"school": a.pk, "code": "P", "status": "present", "excuse": "", "description": "Here"},
    )
    api.post(
        "/api/v1/attendance-codes/",
        {"school": b.pk, "code": "A", "status": "absent", "excuse": "unexcused"},
    )
    listed = api.get(f"/api/v1/attendance-codes/?school={a.pk}")
    # then
    assert created.status_code == 201, created.json()
    assert set(created.json()) >= {"id", "school", "code", "description", "status", "excuse"}
    assert [r["code"] for r in listed.json()["results"]] == ["P"]


@pytest.mark.django_db
def test_r25_api_refuses_excuse_on_present_and_saves_nothing(api):
    # given
    school = SchoolFactory()
    # when
    response = api.post(
        "/api/v1/attendance-codes/",
        {"school": school.pk, "code": "P", "status": "present", "excuse": "unknown"},
    )
    # then
    assert response.status_code == 400
    assert response.json()["excuse"][0].startswith("Leave excuse blank")
    assert not AttendanceCode.objects.exists()


@pytest.mark.django_db
def test_r25_api_refuses_a_duplicate_code_in_a_school(api):
    # given
    school = SchoolFactory()
    attendance_code_create(school=school, code="P", status="present")
    # when
    response = api.post(
        "/api/v1/attendance-codes/",
        {"school": school.pk, "code": "P", "status": "present", "excuse": ""},
    )
    # then
    assert response.status_code == 400
    assert AttendanceCode.objects.count() == 1
