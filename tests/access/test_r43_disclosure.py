"""R37/R43: every HS read of tech data is logged with the reader's own school, whichever
page, admin view or API produced it (issue 9, finding 7: the disclosure part)."""

from decimal import Decimal

from django.test import Client

from grading.models import CTE_TERM, Grade
from schools.models import DisclosureLog, SchoolKind
from tests.factories import (
    CalendarFactory,
    EnrollmentFactory,
    RosterFactory,
    SchoolFactory,
    StudentFactory,
    cte_task,
    quarters,
)


def _admin_client(world, name):
    client = Client()
    client.force_login(world.users[name])
    return client


def test_r43_reading_a_tech_grades_history_through_the_api_is_logged(world, as_user):
    # given HS1's registrar and student A's grade at the technical school
    tech_grade = world.tech["grading.Grade"]
    # when they read its history
    response = as_user("registrar").get(f"/api/v1/grades/{tech_grade.pk}/history/")
    # then one disclosure row: HS1 read TECH's record of student A
    assert response.status_code == 200
    log = DisclosureLog.objects.get(resource="grade-history")
    assert (log.reader_school, log.source_school) == (world.hs1, world.tech_school)
    assert log.student_ids == [world.student_a.pk]


def test_r43_tech_grades_and_attendance_in_the_admin_are_logged(world):
    # given HS1's school admin in the admin site
    client = _admin_client(world, "school_admin")
    tech_grade = world.tech["grading.Grade"]
    tech_attendance = world.tech["attendance.Attendance"]
    # when they list grades and open the tech attendance record
    listing = client.get("/admin/grading/grade/")
    record = client.get(f"/admin/attendance/attendance/{tech_attendance.pk}/change/")
    # then both reads are in the disclosure log under HS1, source TECH
    assert listing.status_code == record.status_code == 200
    assert tech_grade in listing.context["cl"].result_list
    grades = DisclosureLog.objects.get(resource="admin:grading.Grade")
    attendance = DisclosureLog.objects.get(resource="admin:attendance.Attendance")
    for log in (grades, attendance):
        assert (log.reader_school, log.source_school) == (world.hs1, world.tech_school)
        assert log.student_ids == [world.student_a.pk]


def test_r43_own_school_rows_in_the_admin_are_not_disclosures(world):
    # given HS1's school admin
    client = _admin_client(world, "school_admin")
    # when they open HS1's own grade
    response = client.get(f"/admin/grading/grade/{world.home['grading.Grade'].pk}/change/")
    # then nothing is logged
    assert response.status_code == 200
    assert not DisclosureLog.objects.exists()


def test_r43_district_admin_read_is_logged_under_the_students_own_high_school(world, as_user):
    # given a second HS of D1 ("North", created after HS1) whose student takes the KTS course
    north = SchoolFactory(district=world.d1, kind=SchoolKind.HIGH_SCHOOL, name="North HS")
    quarters(north_cal := CalendarFactory(school=north))
    student = StudentFactory()
    EnrollmentFactory(student=student, calendar=north_cal, service_type="primary")
    EnrollmentFactory(student=student, calendar=world.t1.course.calendar, service_type="secondary")
    RosterFactory(student=student, section=world.t1)
    tech_term = world.tech["grading.Grade"].term
    grade = Grade.objects.create(
        student=student,
        section=world.t1,
        grading_task=cte_task(CTE_TERM),
        term=tech_term,
        percent=Decimal("88.00"),
        score="B",
    )
    # when the district admin reads that student's grades
    response = as_user("district_admin").get("/api/v1/grades/", {"student": student.pk})
    # then the tech grade is disclosed to North HS, not to HS1
    assert response.status_code == 200
    assert grade.pk in {row["id"] for row in response.json()["results"]}
    log = DisclosureLog.objects.get(student_ids=[student.pk])
    assert (log.reader_school, log.source_school) == (north, world.tech_school)
