"""OneRoster export (R51), the export -> import round trip, and imported rosters feeding the
exchange (R18)."""

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.test import APIClient

from exchange.models import KtsLink, SourcedUser
from exchange.oneroster.exporter import export_zip
from exchange.oneroster.files import set_files, write_folder
from exchange.oneroster.importer import import_set
from exchange.oneroster.reader import read_set
from exchange.oneroster.sample import sample_files
from exchange.services import exchange_run
from grading.models import CTE_TERM, Grade
from schools.models import (
    Calendar,
    Course,
    District,
    Enrollment,
    Roster,
    School,
    SchoolKind,
    Section,
    StaffRole,
    Student,
    Term,
)
from tests.factories import (
    CalendarFactory,
    CourseFactory,
    SchoolFactory,
    SectionFactory,
    UserFactory,
    cte_task,
    semesters,
    setup_cte_tasks,
)

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2026, 9, 15)


def imported(tmp_path, files=None, *, modes=None, name="set"):
    plan = import_set(
        read_set(write_folder(tmp_path / name, set_files(files or sample_files(), modes)))
    )
    assert plan.issues == []
    return plan


def unzip(data: bytes) -> dict[str, list[dict]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {
            name[:-4]: list(csv.DictReader(io.StringIO(archive.read(name).decode())))
            for name in archive.namelist()
            if name != "manifest.csv"
        }


def rosters() -> set[tuple]:
    return set(
        Roster.objects.values_list(
            "student__state_id",
            "student__first_name",
            "section__course__calendar__school__code",
            "section__course__number",
            "section__number",
            "start_date",
            "end_date",
        )
    )


def linked_tech_section(hs_section):
    """A KTS tech school's section linked to ``hs_section`` (R17), both set up as the seed says."""
    tech = SchoolFactory(kind=SchoolKind.TECHNICAL_SCHOOL)
    tech_cal = CalendarFactory(school=tech)
    tech_terms = semesters(tech_cal)
    tech_course = CourseFactory(calendar=tech_cal, is_kts=True)
    setup_cte_tasks(tech_course, active_term=tech_terms[0])
    tech_section = SectionFactory(course=tech_course)
    KtsLink.objects.create(hs_section=hs_section, tech_section=tech_section)
    return tech_section, tech_terms


def test_r18_imported_rosters_in_a_linked_section_feed_the_exchange(tmp_path):
    # given an imported district whose KTS section at PRHS is linked to a tech section
    imported(tmp_path)
    hs_section = Section.objects.get(course__number="AUT1", course__calendar__school__code="PRHS")
    tech_section, _ = linked_tech_section(hs_section)
    # when the exchange runs
    run = exchange_run(as_of=AS_OF, trigger="test", inline=True)
    # then each imported student gets a secondary enrollment and a tech roster (R18)
    assert run.counts["enrollments"]["added"] == 6
    hs = dict(Roster.objects.filter(section=hs_section).values_list("student_id", "start_date"))
    assert (
        dict(Roster.objects.filter(section=tech_section).values_list("student_id", "start_date"))
        == hs
    )
    # when a delta set ends one of the imported rosters
    delta = {
        "enrollments": [
            {
                "sourcedId": "enr-stu-0001-aut1",
                "status": "tobedeleted",
                "dateLastModified": "2026-11-02T10:00:00Z",
                "classSourcedId": "cls-prhs-aut1-1",
                "schoolSourcedId": "org-prhs",
                "userSourcedId": "usr-stu-0001",
                "role": "student",
                "endDate": "2026-11-01",
            }
        ]
    }
    imported(tmp_path, delta, modes={"enrollments": "delta"}, name="delta")
    exchange_run(as_of=AS_OF, trigger="test", inline=True)
    # then the tech roster ends on the same date
    leaver = Student.objects.get(sourced_id="usr-stu-0001")
    assert Roster.objects.get(section=tech_section, student=leaver).end_date == dt.date(2026, 11, 1)


def test_r51_export_has_rostering_and_gradebook_files_with_exchanged_grades(tmp_path):
    # given an imported HS whose KTS course is set up, linked, and a tech grade exchanged
    imported(tmp_path)
    hs_section = Section.objects.get(course__number="AUT1", course__calendar__school__code="PRHS")
    q1 = Term.objects.get(calendar=hs_section.course.calendar, name="Q1")
    setup_cte_tasks(hs_section.course, active_term=q1)
    tech_section, tech_terms = linked_tech_section(hs_section)
    exchange_run(as_of=AS_OF, trigger="test", inline=True)
    student = Student.objects.get(sourced_id="usr-stu-0001")
    Grade.objects.create(
        student=student,
        section=tech_section,
        grading_task=cte_task(CTE_TERM),
        term=tech_terms[0],
        percent=Decimal("91.50"),
        score="A",
    )
    exchange_run(as_of=AS_OF, trigger="test", inline=True)
    hs_grade = Grade.objects.get(section=hs_section, student=student)
    assert hs_grade.source == "exchange"
    # when
    files = unzip(export_zip(School.objects.get(code="PRHS")))
    # then the rostering files describe the school
    assert {o["type"] for o in files["orgs"]} == {"district", "school"}
    assert len(files["enrollments"]) == 12 + 2  # 6 students x 2 classes + the teacher twice
    # one line item per course grading task and term of its mask, in each class
    aut1_items = [li for li in files["lineItems"] if li["classSourcedId"] == "cls-prhs-aut1-1"]
    assert len(aut1_items) == 4 + 1  # CTE Term Grade on Q1-Q4, CTE Final Grade on Q4
    assert {c["title"] for c in files["categories"]} == {"CTE Term Grade", "CTE Final Grade"}
    # and the exchanged grade is a result: score = percent, textScore = score label
    (result,) = files["results"]
    assert (result["studentSourcedId"], result["score"], result["textScore"]) == (
        "usr-stu-0001",
        "91.50",
        "A",
    )
    item = next(li for li in files["lineItems"] if li["sourcedId"] == result["lineItemSourcedId"])
    assert (item["gradingPeriodSourcedId"], item["classSourcedId"]) == (
        "q1-2027",
        "cls-prhs-aut1-1",
    )


def test_r51_export_then_import_into_an_empty_database_reproduces_the_rosters(tmp_path):
    # given an imported district with a hand-entered change (an ended roster)
    imported(tmp_path)
    Roster.objects.filter(sourced_id="enr-stu-0003-eng2").update(end_date=dt.date(2026, 12, 1))
    data = export_zip(School.objects.get(code="PRHS"))
    before = {r for r in rosters() if r[2] == "PRHS"}
    # when the database is emptied and the export imported
    Roster.objects.all().delete()
    Enrollment.objects.all().delete()
    Section.teachers.through.objects.all().delete()
    Section.objects.all().delete()
    Course.objects.all().delete()
    Term.objects.all().delete()
    Calendar.objects.all().delete()
    StaffRole.objects.all().delete()
    SourcedUser.objects.all().delete()
    School.objects.all().delete()
    District.objects.all().delete()
    Student.objects.all().delete()
    get_user_model().objects.filter(is_superuser=False).delete()
    plan = import_set(read_set(data))
    # then
    assert plan.issues == []
    assert rosters() == before and len(before) == 12
    section = Section.objects.get(course__number="AUT1")
    assert list(section.teachers.values_list("username", flat=True)) == ["prhs-teacher"]
    assert Course.objects.get(number="AUT1").is_kts


def test_r51_export_api_is_for_the_schools_registrar_and_admins(tmp_path, api):
    imported(tmp_path)
    school = School.objects.get(code="PRHS")
    url = f"/api/v1/exports/oneroster/?school={school.pk}"
    # state admin
    response = api.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert "users" in unzip(response.content)
    clients = {}
    for role in ("registrar", "teacher"):
        user = UserFactory()
        StaffRole.objects.create(user=user, role=role, school=school)
        clients[role] = APIClient()
        clients[role].force_authenticate(user)
    outsider = UserFactory()
    StaffRole.objects.create(user=outsider, role="registrar", school=SchoolFactory())
    clients["outsider"] = APIClient()
    clients["outsider"].force_authenticate(outsider)
    assert clients["registrar"].get(url).status_code == 200
    assert clients["teacher"].get(url).status_code == 403
    assert clients["outsider"].get(url).status_code == 404
    assert api.get("/api/v1/exports/oneroster/?school=x").status_code == 400


def test_r51_export_command_writes_the_zip(tmp_path):
    imported(tmp_path)
    target = tmp_path / "prhs.zip"
    call_command("export_oneroster", str(target), school="PRHS")
    assert len(unzip(target.read_bytes())["enrollments"]) == 14
