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


def test_r50_delta_tobedeleted_ends_the_roster_and_the_enrollment(tmp_path):
    # given an imported set
    run(tmp_path, sample_files(), name="first")
    roster = Roster.objects.get(sourced_id="enr-stu-0001-aut1")
    assert roster.end_date is None
    # when a delta set marks that enrollment and the student's role tobedeleted
    stamp = "2026-11-02T10:00:00Z"
    delta = {
        "enrollments": [
            {
                "sourcedId": "enr-stu-0001-aut1",
                "status": "tobedeleted",
                "dateLastModified": stamp,
                "classSourcedId": "cls-prhs-aut1-1",
                "schoolSourcedId": "org-prhs",
                "userSourcedId": "usr-stu-0001",
                "role": "student",
                "endDate": "2026-11-01",
            }
        ]
    }
    plan = run(tmp_path, delta, modes={"enrollments": "delta"}, name="delta")
    # then the roster ends on that date, every other roster stays open
    assert plan.issues == []
    assert plan.counts["enrollments"] == {"added": 0, "updated": 0, "ended": 1, "unchanged": 0}
    roster.refresh_from_db()
    assert str(roster.end_date) == "2026-11-01"
    assert Roster.objects.filter(end_date__isnull=True).count() == 23
    # and the same delta again changes nothing
    again = run(tmp_path, delta, modes={"enrollments": "delta"}, name="delta2")
    assert again.rows_written == 0


def test_r50_delta_rows_need_status_and_date_last_modified(tmp_path):
    run(tmp_path, sample_files(), name="first")
    delta = {"enrollments": [dict(sample_files()["enrollments"][2])]}
    plan = run(tmp_path, delta, modes={"enrollments": "delta"}, name="delta")
    assert {(i.file, i.line, i.field) for i in plan.issues} == {
        ("enrollments.csv", 2, "status"),
        ("enrollments.csv", 2, "dateLastModified"),
    }


def test_r50_bulk_ends_rosters_absent_from_the_sent_file(tmp_path):
    # given an imported set
    files = sample_files()
    run(tmp_path, files, name="first")
    # when the next bulk set no longer lists one student's two enrollments
    files["enrollments"] = [e for e in files["enrollments"] if e["userSourcedId"] != "usr-stu-0002"]
    plan = run(tmp_path, files, name="second")
    # then both rosters end (today), the others are unchanged
    assert plan.issues == []
    assert plan.counts["enrollments"]["ended"] == 2
    assert plan.counts["enrollments"]["unchanged"] == 26
    assert set(
        Roster.objects.filter(end_date__isnull=False).values_list("student__state_id", flat=True)
    ) == {"7100000002"}


def test_r50_dry_run_reports_counts_and_writes_nothing(tmp_path):
    # given
    before = snapshot()
    # when
    plan = run(tmp_path, sample_files(), dry_run=True)
    # then
    assert plan.issues == []
    assert plan.counts["orgs"]["added"] == 3
    assert plan.counts["enrollments"]["added"] == 28
    assert snapshot() == before


def test_r50_a_set_with_bad_rows_in_several_files_is_refused_whole(tmp_path):
    # given a set with one problem in each of four files
    files = sample_files()
    files["academicSessions"][1]["startDate"] = "2026-13-01"  # bad date (Q1)
    files["classes"][1]["courseSourcedId"] = "crs-missing"  # missing reference
    files["users"][5]["identifier"] = files["users"][4]["identifier"]  # duplicate state id (R3)
    files["enrollments"][3]["classSourcedId"] = "cls-nowhere"  # missing reference
    before = snapshot()
    # when
    plan = run(tmp_path, files)
    # then nothing is written and each problem is named by file, line and sourcedId
    assert snapshot() == before
    named = {(i.file, i.line, i.sourced_id, i.field) for i in plan.issues}
    assert ("academicSessions.csv", 3, "q1-2027", "startDate") in named
    assert ("classes.csv", 3, "cls-prhs-aut1-1", "courseSourcedId") in named
    assert ("users.csv", 7, files["users"][5]["sourcedId"], "identifier") in named
    assert ("enrollments.csv", 5, files["enrollments"][3]["sourcedId"], "classSourcedId") in named
    assert len(plan.issues) == 4


def test_r50_terms_that_overlap_are_refused_with_the_rule_r2(tmp_path):
    files = sample_files()
    files["academicSessions"][2]["startDate"] = "2026-10-01"  # Q2 starts inside Q1
    plan = run(tmp_path, files)
    assert [(i.file, i.sourced_id, i.field) for i in plan.issues] == [
        ("academicSessions.csv", "q2-2027", "startDate")
    ]
    assert not District.objects.exists()


def test_r50_second_primary_enrollment_in_a_year_is_refused_r3(tmp_path):
    files = sample_files()
    files["roles"].append(dict(files["roles"][-1], sourcedId="rol-extra", orgSourcedId="org-prhs"))
    files["roles"][-1]["userSourcedId"] = "usr-stu-0012"  # a PEHS student, primary at PRHS too
    plan = run(tmp_path, files)
    assert [(i.sourced_id, i.field) for i in plan.issues] == [("rol-extra", "orgSourcedId")]
    assert not Student.objects.exists()


def test_r50_a_byte_order_mark_is_accepted(tmp_path):
    # given files saved with a UTF-8 byte-order mark (as Excel does)
    raw = set_files(sample_files())
    folder = write_folder(tmp_path / "bom", {n: b"\xef\xbb\xbf" + d for n, d in raw.items()})
    # when
    plan = import_set(read_set(folder))
    # then
    assert plan.issues == []
    assert Student.objects.count() == 12


def test_r50_a_missing_required_column_is_named(tmp_path):
    # given users.csv without its identifier column, and a header in the wrong case
    raw = set_files(sample_files())
    users = raw["users.csv"].decode().splitlines()
    header = users[0].split(",")
    col = header.index("identifier")
    users = [",".join(c for i, c in enumerate(line.split(",")) if i != col) for line in users]
    raw["users.csv"] = "\r\n".join(users).encode()
    raw["orgs.csv"] = raw["orgs.csv"].replace(b"parentSourcedId", b"ParentSourcedId", 1)
    folder = write_folder(tmp_path / "cols", raw)
    # when
    plan = import_set(read_set(folder))
    # then
    assert {(i.file, i.line, i.field) for i in plan.issues} == {
        ("users.csv", 1, "identifier"),
        ("orgs.csv", 1, "parentSourcedId"),
    }
    assert not District.objects.exists()


def test_r50_a_zip_is_read_like_a_folder(tmp_path):
    data = zip_bytes(set_files(sample_files()))
    plan = import_set(read_set(data))
    assert plan.issues == []
    assert Roster.objects.count() == 24


def test_r50_other_extension_columns_are_ignored(tmp_path):
    raw = set_files(sample_files())
    lines = raw["courses.csv"].decode().split("\r\n")
    lines = [
        line + (",metadata.other.x" if i == 0 else ",whatever")
        for i, line in enumerate(lines)
        if line
    ]
    raw["courses.csv"] = "\r\n".join(lines).encode()
    plan = import_set(read_set(write_folder(tmp_path / "ext", raw)))
    assert plan.issues == []


class _Rollback(Exception):
    pass


def _queries_to_import(tmp_path, students_per_school: int) -> int:
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    files = sample_files(students_per_school=students_per_school)
    with CaptureQueriesContext(connection) as ctx:
        try:
            with transaction.atomic():
                assert run(tmp_path, files, name=f"n{students_per_school}").issues == []
                assert Student.objects.count() == 2 * students_per_school
                raise _Rollback
        except _Rollback:
            pass
    return len(ctx.captured_queries)


def test_r50_import_is_set_based_queries_do_not_grow_with_the_rows(tmp_path):
    # given / when: the same district with 3 and with 30 students per school
    small = _queries_to_import(tmp_path, 3)
    large = _queries_to_import(tmp_path, 30)
    # then the import runs the same number of queries (the two count queries included)
    assert small == large


def test_r3_a_primary_enrollment_at_a_school_outside_the_set_refuses_the_role(tmp_path):
    # given a student already enrolled (primary) at another district's HS this year
    from tests.factories import CalendarFactory, EnrollmentFactory, StudentFactory

    student = StudentFactory(state_id="7100000001")
    EnrollmentFactory(student=student, calendar=CalendarFactory(), service_type="primary")
    # when the Pine set enrolls the same state id as primary at PRHS
    plan = run(tmp_path, sample_files())
    # then the role is refused, naming the other school
    assert [(i.file, i.sourced_id, i.field) for i in plan.issues] == [
        ("roles.csv", "rol-stu-0001", "orgSourcedId")
    ]
    assert "primary enrollment at School" in plan.issues[0].message
    assert not District.objects.filter(code="PINE").exists()


def test_r41_only_a_state_admin_changes_a_schools_kind(tmp_path):
    # given an imported district and its admin
    from tests.factories import UserFactory

    run(tmp_path, sample_files(), name="first")
    admin = UserFactory()
    StaffRole.objects.create(
        user=admin, role="district_admin", district=District.objects.get(code="PINE")
    )
    files = sample_files()
    files["orgs"][1]["metadata.kts.schoolKind"] = "technical_school"
    # when the district admin sends PRHS as a technical school
    plan = run(tmp_path, files, user=admin, name="kind")
    # then it is refused; a state admin (the command line) may
    assert [(i.sourced_id, i.field) for i in plan.issues] == [
        ("org-prhs", "metadata.kts.schoolKind")
    ]
    assert School.objects.get(code="PRHS").kind == "high_school"


def test_r41_a_section_teacher_needs_a_teacher_role_at_the_school(tmp_path):
    files = sample_files()
    files["roles"] = [r for r in files["roles"] if r["sourcedId"] != "rol-prhs-t1"]
    files["roles"].append(
        {
            "sourcedId": "rol-prhs-t1-elsewhere",
            "userSourcedId": "usr-prhs-t1",
            "roleType": "primary",
            "role": "teacher",
            "orgSourcedId": "org-pehs",
        }
    )
    plan = run(tmp_path, files)
    assert {(i.file, i.sourced_id, i.field) for i in plan.issues} == {
        ("enrollments.csv", "enr-prhs-eng2-t1", "userSourcedId"),
        ("enrollments.csv", "enr-prhs-aut1-t1", "userSourcedId"),
    }


def test_r50_bulk_removes_an_imported_teacher_absent_from_the_file(tmp_path):
    # given an imported set, and a teacher added by hand to one class
    from tests.factories import UserFactory

    run(tmp_path, sample_files(), name="first")
    section = Section.objects.get(sourced_id="cls-prhs-eng2-1")
    by_hand = UserFactory()
    section.teachers.add(by_hand)
    # when the next bulk set no longer sends the imported teacher for that class
    files = sample_files()
    files["enrollments"] = [e for e in files["enrollments"] if e["sourcedId"] != "enr-prhs-eng2-t1"]
    plan = run(tmp_path, files, name="second")
    # then the imported teacher leaves the class, the one added by hand stays
    assert plan.counts["enrollments"]["ended"] == 1
    assert list(section.teachers.all()) == [by_hand]


def test_r41_a_district_admins_delta_cannot_reach_another_districts_class(tmp_path):
    # given Pine imported, and the admin of another district
    from tests.factories import DistrictFactory, UserFactory

    run(tmp_path, sample_files(), name="first")
    outsider = UserFactory()
    StaffRole.objects.create(user=outsider, role="district_admin", district=DistrictFactory())
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
            }
        ]
    }
    # when the outsider sends a delta ending a Pine roster
    plan = run(tmp_path, delta, modes={"enrollments": "delta"}, user=outsider, name="delta")
    # then the class is not found in their scope and nothing ends
    assert [(i.file, i.field) for i in plan.issues] == [("enrollments.csv", "classSourcedId")]
    assert not Roster.objects.filter(end_date__isnull=False).exists()


def test_r50_delta_enrolls_and_rosters_a_new_student_in_existing_classes(tmp_path):
    # given an imported set
    run(tmp_path, sample_files(), name="first")
    stamp = "2026-11-02T10:00:00Z"
    new = {"sourcedId": "usr-stu-new", "status": "active", "dateLastModified": stamp}
    delta = {
        "users": [
            {
                **new,
                "enabledUser": "true",
                "givenName": "Nova",
                "familyName": "Newman",
                "identifier": "7199999999",
            }
        ],
        "roles": [
            {
                **new,
                "sourcedId": "rol-stu-new",
                "userSourcedId": "usr-stu-new",
                "roleType": "primary",
                "role": "student",
                "orgSourcedId": "org-prhs",
                "beginDate": "2026-11-02",
            }
        ],
        "enrollments": [
            {
                **new,
                "sourcedId": "enr-stu-new-aut1",
                "classSourcedId": "cls-prhs-aut1-1",
                "schoolSourcedId": "org-prhs",
                "userSourcedId": "usr-stu-new",
                "role": "student",
                "beginDate": "2026-11-02",
            }
        ],
        "demographics": [{**new, "birthDate": "2010-01-02"}],
    }
    modes = dict.fromkeys(delta, "delta")
    # when only the new student's rows come, as a delta
    plan = run(tmp_path, delta, modes=modes, name="delta")
    # then the student is enrolled at PRHS and rostered in the existing class
    assert plan.issues == []
    student = Student.objects.get(state_id="7199999999")
    assert str(student.birth_date) == "2010-01-02"
    assert Enrollment.objects.get(student=student).calendar.school.code == "PRHS"
    roster = Roster.objects.get(student=student)
    assert (roster.section.sourced_id, str(roster.start_date)) == ("cls-prhs-aut1-1", "2026-11-02")
    assert Roster.objects.count() == 25 and Student.objects.count() == 13
