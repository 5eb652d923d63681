"""Setup of organisations, calendars and people: R1-R3 through the services, the admin and
the API, and bad input answered with 400 and nothing written."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from schools.models import Calendar, Course, District, Enrollment, School, StaffRole, Term
from schools.services.organisations import calendar_create, school_create, term_create
from schools.services.people import enrollment_create, student_create
from tests.factories import (
    YEAR,
    CalendarFactory,
    CourseFactory,
    DistrictFactory,
    EnrollmentFactory,
    SchoolFactory,
    SectionFactory,
    StudentFactory,
    quarters,
)

pytestmark = pytest.mark.django_db


# --- R1: schools ---------------------------------------------------------------------------


def test_r1_school_belongs_to_district_and_has_kind():
    # given
    district = DistrictFactory(code="KTS", name="Kentucky Tech System")
    # when
    school = school_create(
        district=district, code="ATC1", name="Area Tech", kind="technical_school"
    )
    # then
    assert school.district == district and school.is_technical


def test_r1_school_with_unknown_kind_is_refused():
    district = DistrictFactory()
    with pytest.raises(ValidationError) as exc:
        school_create(district=district, code="X", name="X", kind="college")
    assert "kind" in exc.value.message_dict
    assert not School.objects.filter(code="X").exists()


def test_r1_api_creates_school_and_refuses_unknown_district(api):
    district = DistrictFactory()
    ok = api.post(
        "/api/v1/schools/",
        {"district": district.pk, "code": "HS1", "name": "Central High", "kind": "high_school"},
        format="json",
    )
    assert ok.status_code == 201, ok.content
    assert ok.json()["unknown_attendance_sync"] is False
    bad = api.post(
        "/api/v1/schools/",
        {"district": 999999, "code": "HS2", "name": "Nowhere", "kind": "high_school"},
        format="json",
    )
    assert bad.status_code == 400 and "district" in bad.json()
    assert not School.objects.filter(code="HS2").exists()


def test_r1_api_duplicate_school_code_in_district_is_400(api):
    school = SchoolFactory(code="DUP")
    resp = api.post(
        "/api/v1/schools/",
        {"district": school.district_id, "code": "DUP", "name": "Again", "kind": "high_school"},
        format="json",
    )
    assert resp.status_code == 400
    assert School.objects.filter(code="DUP").count() == 1


def test_r1_api_filters_schools_by_district_and_kind(api):
    hs = SchoolFactory(kind="high_school")
    SchoolFactory(kind="technical_school", district=hs.district)
    SchoolFactory()
    resp = api.get(f"/api/v1/schools/?district={hs.district_id}&kind=high_school")
    assert [r["id"] for r in resp.json()["results"]] == [hs.pk]


# --- R2: calendars and terms ---------------------------------------------------------------


def test_r2_calendar_and_terms_accepted():
    school = SchoolFactory()
    cal = calendar_create(
        school=school,
        school_year=YEAR,
        name="2026-27",
        start_date=dt.date(2026, 8, 10),
        end_date=dt.date(2027, 5, 28),
    )
    t1 = term_create(
        calendar=cal,
        name="S1",
        seq=1,
        start_date=dt.date(2026, 8, 10),
        end_date=dt.date(2026, 12, 18),
    )
    t2 = term_create(
        calendar=cal,
        name="S2",
        seq=2,
        start_date=dt.date(2027, 1, 4),
        end_date=dt.date(2027, 5, 28),
    )
    assert list(cal.terms.all()) == [t1, t2]


def test_r2_calendar_school_year_must_be_the_year_it_ends():
    school = SchoolFactory()
    with pytest.raises(ValidationError) as exc:
        calendar_create(
            school=school,
            school_year=2028,
            name="wrong",
            start_date=dt.date(2026, 8, 10),
            end_date=dt.date(2027, 5, 28),
        )
    assert exc.value.error_dict["school_year"][0].code == "school_year_mismatch"
    assert not Calendar.objects.exists()


def test_r2_second_calendar_for_school_year_refused():
    cal = CalendarFactory()
    with pytest.raises(ValidationError):
        calendar_create(
            school=cal.school,
            school_year=YEAR,
            name="again",
            start_date=cal.start_date,
            end_date=cal.end_date,
        )
    assert Calendar.objects.count() == 1


def test_r2_term_dates_out_of_order_refused():
    cal = CalendarFactory()
    with pytest.raises(ValidationError) as exc:
        term_create(
            calendar=cal,
            name="T",
            seq=1,
            start_date=dt.date(2026, 9, 1),
            end_date=dt.date(2026, 8, 20),
        )
    assert exc.value.error_dict["end_date"][0].code == "dates_out_of_order"
    assert not Term.objects.exists()


def test_r2_term_outside_calendar_refused():
    cal = CalendarFactory()
    with pytest.raises(ValidationError) as exc:
        term_create(
            calendar=cal,
            name="T",
            seq=1,
            start_date=dt.date(2026, 7, 1),
            end_date=dt.date(2026, 9, 1),
        )
    assert exc.value.error_dict["__all__"][0].code == "term_outside_calendar"


def test_r2_overlapping_terms_refused():
    cal = CalendarFactory()
    quarters(cal)
    with pytest.raises(ValidationError) as exc:
        term_create(
            calendar=cal,
            name="X",
            seq=9,
            start_date=dt.date(2027, 5, 1),
            end_date=dt.date(2027, 5, 20),
        )
    assert exc.value.error_dict["__all__"][0].code == "terms_overlap"
    assert cal.terms.count() == 4


def test_r2_term_sequence_must_follow_date_order():
    cal = CalendarFactory()
    term_create(
        calendar=cal,
        name="Late",
        seq=1,
        start_date=dt.date(2027, 1, 4),
        end_date=dt.date(2027, 5, 28),
    )
    with pytest.raises(ValidationError) as exc:
        term_create(
            calendar=cal,
            name="Early",
            seq=2,
            start_date=dt.date(2026, 8, 10),
            end_date=dt.date(2026, 12, 18),
        )
    assert exc.value.error_dict["seq"][0].code == "term_seq_out_of_order"


def test_r2_api_bad_terms_are_400_and_nothing_written(api):
    cal = CalendarFactory()
    quarters(cal)
    url = "/api/v1/terms/"
    base = {"calendar": cal.pk, "name": "Z", "seq": 9}
    out_of_order = api.post(
        url, {**base, "start_date": "2027-05-20", "end_date": "2027-05-01"}, format="json"
    )
    overlap = api.post(
        url, {**base, "start_date": "2027-05-01", "end_date": "2027-05-20"}, format="json"
    )
    duplicate_seq = api.post(
        url,
        {**base, "seq": 1, "start_date": "2027-05-01", "end_date": "2027-05-20"},
        format="json",
    )
    unknown_calendar = api.post(
        url,
        {**base, "calendar": 999999, "start_date": "2026-08-10", "end_date": "2026-08-20"},
        format="json",
    )
    for resp in (out_of_order, overlap, duplicate_seq, unknown_calendar):
        assert resp.status_code == 400, resp.content
    assert "end_date" in out_of_order.json()
    assert overlap.json()["non_field_errors"][0].startswith("Change the dates")
    assert "calendar" in unknown_calendar.json()
    assert cal.terms.count() == 4


def test_r2_api_filters_terms_by_calendar_and_school_year(api):
    cal = CalendarFactory()
    terms = quarters(cal)
    quarters(CalendarFactory())
    resp = api.get(f"/api/v1/terms/?calendar={cal.pk}&school_year={YEAR}")
    assert [r["id"] for r in resp.json()["results"]] == [t.pk for t in terms]


def test_r2_admin_refuses_overlapping_term(admin_client_su):
    cal = CalendarFactory()
    quarters(cal)
    resp = admin_client_su.post(
        reverse("admin:schools_term_add"),
        {
            "calendar": cal.pk,
            "name": "X",
            "seq": 9,
            "start_date": "2027-05-01",
            "end_date": "2027-05-20",
        },
    )
    assert resp.status_code == 200
    assert "overlap" in resp.content.decode()
    assert cal.terms.count() == 4


def test_r2_admin_adds_calendar(admin_client_su):
    school = SchoolFactory()
    resp = admin_client_su.post(
        reverse("admin:schools_calendar_add"),
        {
            "school": school.pk,
            "school_year": YEAR,
            "name": "2026-27",
            "start_date": "2026-08-10",
            "end_date": "2027-05-28",
            "terms-TOTAL_FORMS": "0",
            "terms-INITIAL_FORMS": "0",
        },
    )
    assert resp.status_code == 302, resp.content.decode()[:2000]
    assert Calendar.objects.filter(school=school).exists()


# --- R3: students and enrollments ----------------------------------------------------------


def test_r3_state_id_is_unique():
    StudentFactory(state_id="1234567890")
    with pytest.raises(ValidationError) as exc:
        student_create(state_id="1234567890", first_name="A", last_name="B")
    assert "state_id" in exc.value.message_dict


def test_r3_one_primary_and_secondary_enrollments_accepted():
    student = StudentFactory()
    hs_cal = CalendarFactory()
    tech_cal = CalendarFactory(school=SchoolFactory(kind="technical_school"))
    enrollment_create(
        student=student, calendar=hs_cal, service_type="primary", start_date=hs_cal.start_date
    )
    enrollment_create(
        student=student, calendar=tech_cal, service_type="secondary", start_date=tech_cal.start_date
    )
    assert Enrollment.objects.filter(student=student).count() == 2


def test_r3_second_primary_enrollment_in_year_refused():
    student = StudentFactory()
    EnrollmentFactory(student=student)
    other = CalendarFactory()
    with pytest.raises(ValidationError) as exc:
        enrollment_create(
            student=student, calendar=other, service_type="primary", start_date=other.start_date
        )
    assert exc.value.error_dict["service_type"][0].code == "second_primary_enrollment"
    assert Enrollment.objects.filter(student=student).count() == 1


def test_r3_primary_enrollment_at_tech_school_refused(api):
    student = StudentFactory()
    tech_cal = CalendarFactory(school=SchoolFactory(kind="technical_school"))
    resp = api.post(
        "/api/v1/enrollments/",
        {
            "student": student.pk,
            "calendar": tech_cal.pk,
            "service_type": "primary",
            "start_date": "2026-08-10",
        },
        format="json",
    )
    assert resp.status_code == 400
    assert resp.json()["service_type"][0].startswith("Enroll at a technical school as secondary")
    assert not Enrollment.objects.exists()


def test_r3_api_student_create_duplicate_state_id_and_search(api):
    ok = api.post(
        "/api/v1/students/",
        {"state_id": "5550001111", "first_name": "Ann", "last_name": "Lee"},
        format="json",
    )
    assert ok.status_code == 201
    dup = api.post(
        "/api/v1/students/",
        {"state_id": "5550001111", "first_name": "Bo", "last_name": "Lee"},
        format="json",
    )
    assert dup.status_code == 400 and "state_id" in dup.json()
    found = api.get("/api/v1/students/?search=5550001111").json()
    assert found["count"] == 1


def test_r3_admin_refuses_second_primary_enrollment(admin_client_su):
    first = EnrollmentFactory()
    other = CalendarFactory()
    resp = admin_client_su.post(
        reverse("admin:schools_enrollment_add"),
        {
            "student": first.student_id,
            "calendar": other.pk,
            "service_type": "primary",
            "grade_level": "11",
            "start_date": "2026-08-10",
        },
    )
    assert resp.status_code == 200
    assert "already has a primary enrollment" in resp.content.decode()
    assert Enrollment.objects.count() == 1


# --- Bad input through the API -------------------------------------------------------------


def test_api_malformed_json_is_400(api):
    resp = api.generic("POST", "/api/v1/districts/", "{not json", content_type="application/json")
    assert resp.status_code == 400
    assert not District.objects.exists()


def test_api_duplicate_course_number_is_400(api):
    course = CourseFactory(number="101")
    resp = api.post(
        "/api/v1/courses/",
        {"calendar": course.calendar_id, "number": "101", "name": "Again"},
        format="json",
    )
    assert resp.status_code == 400
    assert Course.objects.filter(number="101").count() == 1


def test_api_courses_filter_by_is_kts_school_and_search(api):
    kts = CourseFactory(is_kts=True, number="KTS-1", name="Welding")
    CourseFactory(is_kts=False, calendar=kts.calendar)
    resp = api.get(f"/api/v1/courses/?is_kts=true&school={kts.calendar.school_id}")
    assert [r["id"] for r in resp.json()["results"]] == [kts.pk]
    assert api.get("/api/v1/courses/?search=Weld").json()["count"] == 1


def test_api_delete_school_in_use_is_400(api):
    cal = CalendarFactory()
    resp = api.delete(f"/api/v1/schools/{cal.school_id}/")
    assert resp.status_code == 400
    assert School.objects.filter(pk=cal.school_id).exists()


def test_api_roster_needs_enrollment_and_unknown_section_is_400(api):
    section = SectionFactory()
    student = StudentFactory()
    not_enrolled = api.post(
        "/api/v1/rosters/",
        {"student": student.pk, "section": section.pk, "start_date": "2026-08-10"},
        format="json",
    )
    assert not_enrolled.status_code == 400 and "student" in not_enrolled.json()
    unknown = api.post(
        "/api/v1/rosters/",
        {"student": student.pk, "section": 999999, "start_date": "2026-08-10"},
        format="json",
    )
    assert unknown.status_code == 400 and "section" in unknown.json()
    EnrollmentFactory(student=student, calendar=section.course.calendar)
    ok = api.post(
        "/api/v1/rosters/",
        {"student": student.pk, "section": section.pk, "start_date": "2026-08-10"},
        format="json",
    )
    assert ok.status_code == 201, ok.content


def test_api_staff_role_scope_is_checked(api, superuser):
    school = SchoolFactory()
    bad = api.post(
        "/api/v1/staff-roles/",
        {"user": superuser.pk, "role": "teacher", "district": school.district_id},
        format="json",
    )
    assert bad.status_code == 400
    ok = api.post(
        "/api/v1/staff-roles/",
        {"user": superuser.pk, "role": "teacher", "school": school.pk},
        format="json",
    )
    assert ok.status_code == 201, ok.content


def test_api_sections_with_teachers(api, superuser):
    course = CourseFactory()
    StaffRole.objects.create(user=superuser, role="teacher", school=course.calendar.school)
    resp = api.post(
        "/api/v1/sections/",
        {"course": course.pk, "number": "1", "teachers": [superuser.pk]},
        format="json",
    )
    assert resp.status_code == 201, resp.content
    assert resp.json()["teachers"] == [superuser.pk]
    listed = api.get(f"/api/v1/sections/?teacher={superuser.pk}").json()
    assert listed["count"] == 1


def test_admin_changelists_render(admin_client_su):
    EnrollmentFactory()
    for name in (
        "district",
        "school",
        "calendar",
        "term",
        "course",
        "section",
        "student",
        "enrollment",
        "roster",
        "staffrole",
    ):
        resp = admin_client_su.get(reverse(f"admin:schools_{name}_changelist") + "?q=x")
        assert resp.status_code == 200, name


@pytest.mark.django_db
def test_r38_school_admin_links_to_the_readiness_report(admin_client_su):
    # given a school
    from tests.factories import SchoolFactory

    school = SchoolFactory()
    # when the admin lists schools and opens the school
    listing = admin_client_su.get("/admin/schools/school/")
    page = admin_client_su.get(f"/admin/schools/school/{school.pk}/change/")
    # then both link to what would skip tonight for that school
    link = f'href="/exchange/readiness/?school={school.pk}"'
    assert link in listing.content.decode()
    assert link in page.content.decode()
