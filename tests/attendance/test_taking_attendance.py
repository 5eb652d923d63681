import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from attendance.models import Attendance
from attendance.services.records import Entry, attendance_record, attendance_record_bulk
from tests.factories import SchoolFactory, UserFactory
from tests.world import BEFORE_TERMS, MONDAY, TUESDAY


def test_r25_teacher_records_attendance_and_a_second_save_updates_it(world):
    # given
    student = world.students[0]
    absent = world.code(world.tech_school, "AU")
    present = world.code(world.tech_school, "P")
    # when
    first, created = attendance_record(
        student=student, section=world.tech_section, date=MONDAY, code=absent, by=world.teacher
    )
    second, created_again = attendance_record(
        student=student, section=world.tech_section, date=MONDAY, code=present, by=world.teacher
    )
    # then
    assert created and not created_again
    assert first.pk == second.pk
    assert Attendance.objects.get().code == present
    assert second.recorded_by == world.teacher and second.source == "teacher"


@pytest.mark.parametrize(
    "case,field,code",
    [
        ("future", "date", "future_date"),
        ("non_instructional", "date", "non_instructional_day"),
        ("weekend", "date", "non_instructional_day"),
        ("other_school_code", "code", "code_wrong_school"),
        ("not_rostered", "student", "not_rostered"),
    ],
)
def test_r25_refused_attendance_saves_nothing(world, case, field, code):
    # given
    student = world.students[0]
    day = MONDAY
    att_code = world.code(world.tech_school, "P")
    if case == "future":
        day = timezone.localdate() + dt.timedelta(days=1)
    elif case == "non_instructional":
        day = BEFORE_TERMS
    elif case == "weekend":
        day = MONDAY - dt.timedelta(days=2)  # the Saturday before, inside the term
    elif case == "other_school_code":
        att_code = world.code(world.hs_school, "P")
    elif case == "not_rostered":
        student = world.add_student(tech_roster=False)
    # when
    with pytest.raises(ValidationError) as exc:
        attendance_record(
            student=student, section=world.tech_section, date=day, code=att_code, by=None
        )
    # then
    assert exc.value.error_dict[field][0].code == code
    assert not Attendance.objects.exists()


def test_r25_roster_ended_before_the_day_is_not_rostered(world):
    # given
    student = world.students[0]
    roster = student.rosters.get(section=world.tech_section)
    roster.end_date = MONDAY
    roster.save()
    # when / then
    with pytest.raises(ValidationError) as exc:
        attendance_record(
            student=student,
            section=world.tech_section,
            date=TUESDAY,
            code=world.code(world.tech_school, "P"),
        )
    assert exc.value.error_dict["student"][0].code == "not_rostered"


def test_r25_bulk_saves_a_whole_section_day_in_constant_queries(
    world, django_assert_max_num_queries
):
    # given
    present = world.code(world.tech_school, "P")
    entries = [Entry(student=s.pk, code=present.pk) for s in world.students]
    # when (12 + R43: read the old values, write history and audit rows, the school's id)
    with django_assert_max_num_queries(16):
        saved = attendance_record_bulk(
            section=world.tech_section, date=MONDAY, entries=entries, by=world.teacher
        )
    for _ in range(7):
        world.add_student()
    entries = [Entry(student=s.pk, code=present.pk) for s in world.students]
    with django_assert_max_num_queries(16):
        saved_more = attendance_record_bulk(
            section=world.tech_section, date=TUESDAY, entries=entries, by=world.teacher
        )
    # then
    assert len(saved) == 3 and len(saved_more) == 10
    assert Attendance.objects.filter(code=present).count() == 13


def test_r25_bulk_is_all_or_nothing(world):
    # given
    present = world.code(world.tech_school, "P")
    outsider = world.add_student(tech_roster=False)
    entries = [Entry(student=s.pk, code=present.pk) for s in world.students]
    # when
    with pytest.raises(ValidationError) as exc:
        attendance_record_bulk(section=world.tech_section, date=MONDAY, entries=entries)
    # then
    errors = exc.value.error_dict["entries"]
    assert [(e.code, e.params["student"]) for e in errors] == [("not_rostered", outsider.pk)]
    assert not Attendance.objects.exists()


# --- API ---------------------------------------------------------------------------------
def _post(api, world, **overrides):
    body = {
        "student": world.students[0].pk,
        "section": world.tech_section.pk,
        "date": MONDAY.isoformat(),
        "code": world.code(world.tech_school, "AU").pk,
        **overrides,
    }
    return api.post("/api/v1/attendance/", body)


def test_r25_api_post_upserts_201_then_200(api, world):
    # when
    first = _post(api, world)
    second = _post(api, world, code=world.code(world.tech_school, "P").pk, comments="late bus")
    # then
    assert first.status_code == 201, first.json()
    assert second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    body = second.json()
    assert body["source"] == "teacher" and body["resolved_at"] is None
    assert body["comments"] == "late bus"
    assert Attendance.objects.count() == 1


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"code": 999999}, "code"),
        ({"date": "2026-13-45"}, "date"),
        ({"date": "2026-08-03"}, "date"),
        ({"date": (dt.date.today() + dt.timedelta(days=2)).isoformat()}, "date"),
    ],
    ids=["unknown_code", "malformed_date", "non_instructional", "future"],
)
def test_r25_api_refuses_bad_input_with_400_and_saves_nothing(api, world, overrides, field):
    # when
    response = _post(api, world, **overrides)
    # then
    assert response.status_code == 400
    assert field in response.json()
    assert not Attendance.objects.exists()


def test_r25_api_refuses_code_of_another_school(api, world):
    # when
    response = _post(api, world, code=world.code(world.hs_school, "AU").pk)
    # then
    assert response.status_code == 400
    assert "another school" in response.json()["code"][0]
    assert not Attendance.objects.exists()


def test_r25_api_refuses_a_student_not_rostered(api, world):
    # given
    outsider = world.add_student(tech_roster=False)
    # when
    response = _post(api, world, student=outsider.pk)
    # then
    assert response.status_code == 400
    assert "not rostered" in response.json()["student"][0]
    assert not Attendance.objects.exists()


def test_r25_api_filters_by_school_student_and_date_range(api, world):
    # given
    for s in world.students:
        _post(api, world, student=s.pk)
    _post(api, world, date=TUESDAY.isoformat())
    # when
    by_school = api.get(f"/api/v1/attendance/?school={world.tech_school.pk}")
    by_range = api.get(f"/api/v1/attendance/?start={TUESDAY}&end={TUESDAY}")
    by_student = api.get(f"/api/v1/attendance/?student={world.students[1].pk}")
    other = api.get(f"/api/v1/attendance/?school={SchoolFactory().pk}")
    bad = api.get("/api/v1/attendance/?start=yesterday")
    # then
    assert by_school.json()["count"] == 4
    assert by_range.json()["count"] == 1
    assert by_student.json()["count"] == 1
    assert other.json()["count"] == 0
    assert bad.status_code == 400


def test_r25_api_update_cannot_move_a_record_to_another_day(api, world):
    # given
    record = _post(api, world).json()
    # when
    moved = api.patch(f"/api/v1/attendance/{record['id']}/", {"date": TUESDAY.isoformat()})
    changed = api.patch(
        f"/api/v1/attendance/{record['id']}/", {"code": world.code(world.tech_school, "P").pk}
    )
    # then
    assert moved.status_code == 400
    assert changed.status_code == 200
    assert Attendance.objects.get().date == MONDAY


def test_r36_api_needs_a_login(world):
    # given
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(UserFactory())
    # when
    response = client.get("/api/v1/attendance/")
    # then
    assert response.status_code == 403
