"""OneRoster 1.2 CSV import (R50): bulk, re-import, delta, dry run, refusals."""

import copy

import pytest

from exchange.oneroster.files import set_files, write_folder, zip_bytes
from exchange.oneroster.importer import import_set
from exchange.oneroster.reader import read_set
from exchange.oneroster.sample import sample_files
from schools.models import (
    Calendar,
    Course,
    District,
    Enrollment,
    Roster,
    School,
    Section,
    StaffRole,
    Student,
    Term,
)

pytestmark = pytest.mark.django_db

MODELS = [District, School, Calendar, Term, Course, Section, Student, Enrollment, Roster, StaffRole]


def snapshot():
    return {m.__name__: list(m.objects.order_by("pk").values()) for m in MODELS}


def run(tmp_path, files, *, modes=None, dry_run=False, user=None, name="set"):
    folder = write_folder(tmp_path / name, set_files(files, modes))
    return import_set(read_set(folder), dry_run=dry_run, user=user)


def test_r50_bulk_import_creates_the_district_as_the_mapping_says(tmp_path):
    # given the sample set (two high schools, quarters, an English and a KTS course each)
    files = sample_files()
    # when
    plan = run(tmp_path, files)
    # then
    assert plan.issues == []
    district = District.objects.get(code="PINE")
    assert district.sourced_id == "org-pine"
    assert set(district.schools.values_list("code", "kind")) == {
        ("PRHS", "high_school"),
        ("PEHS", "high_school"),
    }
    calendar = Calendar.objects.get(school__code="PRHS")
    assert (calendar.school_year, str(calendar.start_date)) == (2027, "2026-08-10")
    assert list(calendar.terms.values_list("name", "seq")) == [
        ("Q1", 1),
        ("Q2", 2),
        ("Q3", 3),
        ("Q4", 4),
    ]
    kts = Course.objects.get(calendar=calendar, number="AUT1")
    assert (kts.is_kts, kts.state_code) == (True, "470601")
    student = Student.objects.get(state_id="7100000001")
    assert str(student.birth_date) == "2009-02-15"
    enrollment = Enrollment.objects.get(student=student)
    assert (enrollment.service_type, enrollment.calendar) == ("primary", calendar)
    assert Roster.objects.filter(student=student).count() == 2
    section = Section.objects.get(course=kts)
    assert list(section.teachers.values_list("username", flat=True)) == ["prhs-teacher"]
    teacher = section.teachers.get()
    assert not teacher.has_usable_password()
    assert StaffRole.objects.filter(user=teacher, role="teacher", school=calendar.school).exists()
    assert StaffRole.objects.filter(role="district_admin", district=district).count() == 1
    assert plan.counts["enrollments"]["added"] == 28
    assert plan.counts["users"]["added"] == 15


def test_r50_reimport_updates_in_place_and_writes_nothing_when_unchanged(
    tmp_path, django_assert_max_num_queries
):
    # given an imported set
    files = sample_files()
    run(tmp_path, files, name="first")
    before = snapshot()
    # when the same set comes again
    with django_assert_max_num_queries(40):
        plan = run(tmp_path, files, name="again")
    # then nothing is written and nothing duplicated
    assert plan.issues == [] and plan.rows_written == 0
    assert all(c["added"] == c["updated"] == c["ended"] == 0 for c in plan.counts.values())
    assert snapshot() == before
    # when a name changes, that one row is updated in place
    changed = copy.deepcopy(files)
    changed["users"][3]["familyName"] = "Renamed"
    plan = run(tmp_path, changed, name="renamed")
    assert plan.counts["users"]["updated"] == 1 and plan.rows_written == 1
    assert Student.objects.filter(last_name="Renamed").count() == 1
    assert Student.objects.count() == 12
