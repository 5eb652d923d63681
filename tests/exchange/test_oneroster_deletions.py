"""OneRoster deletions (R50): a district deleting staff or a student at the source takes
their access and their open rosters away at the next import, and nothing else."""

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from exchange.oneroster.files import set_files, write_folder, zip_bytes
from exchange.oneroster.importer import import_set
from exchange.oneroster.reader import read_set
from exchange.oneroster.sample import sample_files
from schools.models import (
    AuditEntry,
    Enrollment,
    Roster,
    School,
    Section,
    StaffRole,
    Student,
    Tombstone,
)

pytestmark = pytest.mark.django_db

STAMP = "2026-11-02T10:00:00Z"
PASSWORD = "a-long-enough-password-1"
TEACHER_SID, TEACHER = "usr-prhs-t1", "prhs-teacher"


def run(tmp_path, files, *, modes=None, dry_run=False, name="set"):
    folder = write_folder(tmp_path / name, set_files(files, modes))
    return import_set(read_set(folder), dry_run=dry_run)


def delta(tmp_path, files, *, dry_run=False, name="delta"):
    return run(tmp_path, files, modes=dict.fromkeys(files, "delta"), dry_run=dry_run, name=name)


def deleted(row):
    return {**row, "status": "tobedeleted", "dateLastModified": STAMP}


def rows(name, **match):
    return [r for r in sample_files()[name] if all(r[k] == v for k, v in match.items())]


def snapshot():
    """Every row a deletion could touch, with the accounts' flags."""
    models = [Roster, Enrollment, StaffRole, Student, AuditEntry, Tombstone]
    out = {m.__name__: list(m.objects.order_by("pk").values()) for m in models}
    out["users"] = list(User.objects.order_by("pk").values("pk", "is_active"))
    out["teachers"] = sorted(Section.teachers.through.objects.values_list("section_id", "user_id"))
    return out


@pytest.fixture
def imported(tmp_path):
    """The sample district, imported; its PRHS teacher has a password and an API token."""
    assert run(tmp_path, sample_files(), name="first").issues == []
    teacher = User.objects.get(username=TEACHER)
    teacher.set_password(PASSWORD)
    teacher.save()
    return teacher


def test_r50_a_deleted_teacher_can_no_longer_log_in_or_use_their_token(tmp_path, imported):
    # given the imported teacher signs in and calls the API with their token
    token = APIClient()
    token.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=imported).key}")
    signed_in = Client()
    assert signed_in.login(username=TEACHER, password=PASSWORD)
    assert token.get("/api/v1/sections/").status_code == 200
    assert signed_in.get("/api/v1/sections/").status_code == 200
    # when the district deletes the teacher at the source (a delta users.csv)
    plan = delta(tmp_path, {"users": [deleted(r) for r in rows("users", sourcedId=TEACHER_SID)]})
    # then the token, the session and the password are all refused
    assert plan.issues == []
    assert token.get("/api/v1/sections/").status_code == 401
    assert signed_in.get("/api/v1/sections/").status_code in (401, 403)
    assert not Client().login(username=TEACHER, password=PASSWORD)
    # and the account is deactivated, its role and its classes gone, as the counts say
    imported.refresh_from_db()
    assert not imported.is_active
    assert not StaffRole.objects.filter(user=imported).exists()
    assert not Section.objects.filter(teachers=imported).exists()
    assert plan.counts["users"]["deactivated"] == 1
    assert plan.counts["roles"]["removed"] == 1
    assert plan.counts["enrollments"]["ended"] == 2
    # and the revocation is on record: an audit entry and a deletion record for the role,
    # an audit entry for the account
    role_audit = AuditEntry.objects.filter(model="schools.StaffRole", action="delete")
    assert role_audit.count() == 1
    assert Tombstone.objects.filter(model="schools.StaffRole").count() == 1
    assert AuditEntry.objects.filter(
        model="auth.User", object_id=imported.pk, action="update", changes=["is_active"]
    ).exists()
    # and the other teacher keeps everything
    other = User.objects.get(username="pehs-teacher")
    assert other.is_active and StaffRole.objects.filter(user=other).count() == 1


def test_r50_a_deleted_role_row_removes_exactly_that_role(tmp_path, imported):
    # given the imported teacher also holds, granted by hand, a teacher role at the other
    # school and a registrar role at their own
    prhs, pehs = School.objects.get(code="PRHS"), School.objects.get(code="PEHS")
    StaffRole.objects.create(user=imported, role="teacher", school=pehs)
    StaffRole.objects.create(user=imported, role="registrar", school=prhs)
    # when a delta roles.csv marks the PRHS teacher role tobedeleted
    plan = delta(tmp_path, {"roles": [deleted(r) for r in rows("roles", sourcedId="rol-prhs-t1")]})
    # then that one role goes (with the classes it taught there); the account stays active
    assert plan.issues == []
    assert set(StaffRole.objects.filter(user=imported).values_list("role", "school__code")) == {
        ("teacher", "PEHS"),
        ("registrar", "PRHS"),
    }
    assert plan.counts["roles"]["removed"] == 1
    assert plan.counts["enrollments"]["ended"] == 2
    imported.refresh_from_db()
    assert imported.is_active
    assert not Section.objects.filter(teachers=imported).exists()
    assert StaffRole.objects.filter(role="teacher", school=prhs).count() == 0
    assert StaffRole.objects.filter(user__username="pehs-teacher", school=pehs).exists()


def test_r50_the_dry_run_of_deletions_writes_nothing_and_reports_the_same_counts(
    tmp_path, imported
):
    # given a delta deleting the teacher, a student and the other teacher's role
    files = {
        "users": [deleted(r) for r in rows("users", sourcedId=TEACHER_SID)]
        + [deleted(r) for r in rows("users", sourcedId="usr-stu-0001")],
        "roles": [deleted(r) for r in rows("roles", sourcedId="rol-pehs-t1")],
    }
    before = snapshot()
    # when it runs dry
    dry = delta(tmp_path, files, dry_run=True, name="dry")
    # then nothing is written
    assert dry.issues == []
    assert snapshot() == before
    assert (dry.counts["users"]["deactivated"], dry.counts["roles"]["removed"]) == (1, 2)
    # and the real run does what the dry run said
    real = delta(tmp_path, files, name="real")
    assert real.counts == dry.counts
    assert User.objects.filter(is_active=False).count() == 1
    assert StaffRole.objects.filter(role="teacher").count() == 0


def test_r50_reimporting_the_same_deletion_delta_changes_nothing(tmp_path, imported):
    # given a delta deleting a teacher, a role and a student, imported once
    files = {
        "users": [deleted(r) for r in rows("users", sourcedId=TEACHER_SID)]
        + [deleted(r) for r in rows("users", sourcedId="usr-stu-0001")],
        "roles": [deleted(r) for r in rows("roles", sourcedId="rol-pehs-t1")],
    }
    first = delta(tmp_path, files, name="once")
    assert first.rows_written > 0
    before = snapshot()
    # when the same delta comes again
    again = delta(tmp_path, files, name="twice")
    # then nothing is written and nothing counted as taken away
    assert again.issues == [] and again.rows_written == 0
    assert snapshot() == before
    assert again.counts["users"] == {
        "added": 0,
        "updated": 0,
        "ended": 0,
        "unchanged": 2,
        "deactivated": 0,
    }
    assert again.counts["roles"]["removed"] == 0


def test_r50_a_deleted_student_keeps_the_record_and_their_open_rosters_end(tmp_path, imported):
    # when the district deletes a student at the source
    plan = delta(tmp_path, {"users": [deleted(r) for r in rows("users", sourcedId="usr-stu-0001")]})
    # then the student's rosters and enrollment end today; the record stays
    assert plan.issues == []
    assert plan.counts["enrollments"]["ended"] == 2 and plan.counts["roles"]["ended"] == 1
    student = Student.objects.get(sourced_id="usr-stu-0001")
    assert not Roster.objects.filter(student=student, end_date__isnull=True).exists()
    assert not Enrollment.objects.filter(student=student, end_date__isnull=True).exists()
    assert Roster.objects.filter(end_date__isnull=True).count() == 22


def _same_sourced_id_in_another_district(sourced_id: str) -> Roster:
    """Another district's student whose own system gave them ``sourced_id`` too, with an
    open imported roster there."""
    from tests.factories import RosterFactory, SectionFactory, StudentFactory

    section = SectionFactory()
    student = StudentFactory(sourced_id=sourced_id)
    return RosterFactory(student=student, section=section, sourced_id="enr-other-district-1")


def test_r50_a_set_naming_no_district_cannot_end_another_districts_student(tmp_path, imported):
    # given a student of another district with the same sourcedId and an open imported roster
    other = _same_sourced_id_in_another_district("usr-stu-0001")
    assert other.section.course.calendar.school.district.code != "PINE"
    before = snapshot()
    # when a set with no orgs.csv (imported by no district's admin) deletes that sourcedId
    plan = delta(tmp_path, {"users": [deleted(r) for r in rows("users", sourcedId="usr-stu-0001")]})
    # then the row is refused, as a staff user's would be, and nothing ends in either district
    assert [(i.file, i.sourced_id, i.field) for i in plan.issues] == [
        ("users.csv", "usr-stu-0001", "sourcedId")
    ]
    assert "send orgs.csv with the student's district" in plan.issues[0].message
    assert snapshot() == before


def test_r50_a_set_naming_its_district_ends_only_that_districts_student(tmp_path, imported):
    # given the same two students
    other = _same_sourced_id_in_another_district("usr-stu-0001")
    # when the delta names its district (orgs.csv)
    files = {
        "orgs": [
            {**r, "status": "active", "dateLastModified": STAMP}
            for r in rows("orgs", type="district")
        ],
        "users": [deleted(r) for r in rows("users", sourcedId="usr-stu-0001")],
    }
    plan = delta(tmp_path, files)
    # then the sample district's student's rosters end; the other district's stays open
    assert plan.issues == []
    assert plan.counts["enrollments"]["ended"] == 2
    mine = Student.objects.exclude(pk=other.student_id).get(sourced_id="usr-stu-0001")
    assert not Roster.objects.filter(student=mine, end_date__isnull=True).exists()
    other.refresh_from_db()
    assert other.end_date is None


def test_r50_a_deleted_teacher_enrollment_takes_them_off_that_class(tmp_path, imported):
    # when a delta enrollments.csv marks one of the teacher's classes tobedeleted
    files = {"enrollments": [deleted(r) for r in rows("enrollments", sourcedId="enr-prhs-aut1-t1")]}
    plan = delta(tmp_path, files)
    # then they leave that class and keep the other and their role
    assert plan.issues == [] and plan.counts["enrollments"]["ended"] == 1
    assert list(Section.objects.filter(teachers=imported).values_list("sourced_id", flat=True)) == [
        "cls-prhs-eng2-1"
    ]
    assert StaffRole.objects.filter(user=imported, role="teacher").exists()


def test_r50_bulk_removes_an_imported_staff_role_absent_from_the_roles_file(tmp_path, imported):
    # given a registrar role granted by hand to the imported teacher
    prhs = School.objects.get(code="PRHS")
    StaffRole.objects.create(user=imported, role="registrar", school=prhs)
    # when the next bulk set no longer sends that teacher at all
    files = sample_files()
    files["users"] = [u for u in files["users"] if u["sourcedId"] != TEACHER_SID]
    files["roles"] = [r for r in files["roles"] if r["userSourcedId"] != TEACHER_SID]
    files["enrollments"] = [e for e in files["enrollments"] if e["userSourcedId"] != TEACHER_SID]
    plan = run(tmp_path, files, name="second")
    # then their imported teacher role goes; the registrar role (never imported) and the
    # account stay (a bulk set may cover part of a district: absence does not deactivate)
    assert plan.issues == []
    assert list(StaffRole.objects.filter(user=imported).values_list("role", flat=True)) == [
        "registrar"
    ]
    imported.refresh_from_db()
    assert imported.is_active
    assert plan.counts["roles"]["removed"] == 1
    assert plan.counts["users"]["deactivated"] == 0


def _queries_to_delete(tmp_path, students: int) -> int:
    files = sample_files(students_per_school=10)
    assert run(tmp_path, files, name=f"base{students}").issues == []
    gone = [deleted(u) for u in files["users"] if u["sourcedId"].startswith("usr-stu-")]
    staff = [deleted(u) for u in files["users"] if u["sourcedId"].endswith("-t1")]
    roles = [deleted(r) for r in files["roles"] if r["sourcedId"] == "rol-pine-admin"]
    with CaptureQueriesContext(connection) as ctx:
        with transaction.atomic():
            plan = delta(
                tmp_path, {"users": staff + gone[:students], "roles": roles}, name=f"d{students}"
            )
            transaction.set_rollback(True)
    assert plan.issues == [] and plan.counts["enrollments"]["ended"] >= 2 * students
    assert plan.counts["roles"]["removed"] == 3  # both teachers' roles and the admin's
    return len(ctx.captured_queries)


def test_r50_deletions_are_set_based_queries_do_not_grow_with_the_rows(tmp_path):
    # given / when: a delta deleting both teachers, the admin's role and 2 or 12 students
    # then the same number of queries
    assert _queries_to_delete(tmp_path, 2) == _queries_to_delete(tmp_path, 12)


def test_r50_a_set_deleting_a_teacher_it_also_puts_in_a_class_is_refused(tmp_path, imported):
    # given a delta deleting the teacher and, in the same set, adding them to a class
    files = {
        "users": [deleted(r) for r in rows("users", sourcedId=TEACHER_SID)],
        "enrollments": [
            {
                **r,
                "sourcedId": "enr-prhs-aut1-t1-again",
                "status": "active",
                "dateLastModified": STAMP,
            }
            for r in rows("enrollments", sourcedId="enr-prhs-aut1-t1")
        ],
    }
    Section.teachers.through.objects.filter(user=imported).delete()
    before = snapshot()
    # when it is imported
    plan = delta(tmp_path, files)
    # then it is refused on the users row, and nothing is written
    assert {(i.file, i.sourced_id, i.field) for i in plan.issues} == {
        ("users.csv", TEACHER_SID, "status")
    }
    assert snapshot() == before


def test_r50_a_bulk_set_dropping_a_teachers_role_but_not_their_classes_is_refused(
    tmp_path, imported
):
    # given the next bulk set moves the teacher's role to the other school but still puts
    # them in their classes at the first
    files = sample_files()
    for role in files["roles"]:
        if role["sourcedId"] == "rol-prhs-t1":
            role["orgSourcedId"] = "org-pehs"
    before = snapshot()
    # when it is imported
    plan = run(tmp_path, files, name="second")
    # then the classes are refused for want of the role (R41), and nothing is written
    assert {(i.file, i.sourced_id, i.field) for i in plan.issues} == {
        ("enrollments.csv", "enr-prhs-eng2-t1", "userSourcedId"),
        ("enrollments.csv", "enr-prhs-aut1-t1", "userSourcedId"),
    }
    assert snapshot() == before


def test_r50_the_api_the_page_and_the_command_report_what_deletions_take_away(
    tmp_path, imported, api, client, superuser, sync_q, capsys
):
    # given a delta deleting the teacher, as a folder and as a zip
    files = {"users": [deleted(r) for r in rows("users", sourcedId=TEACHER_SID)]}
    modes = dict.fromkeys(files, "delta")
    folder = write_folder(tmp_path / "cmd", set_files(files, modes))
    upload = SimpleUploadedFile("delta.zip", zip_bytes(set_files(files, modes)))
    before = snapshot()
    # when the command runs it dry
    call_command("import_oneroster", str(folder), "--dry-run")
    # then its table has the two columns, with the counts
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith("file"))
    assert header.split() == [
        "file",
        "added",
        "updated",
        "ended",
        "deactivated",
        "removed",
        "unchanged",
    ]
    assert next(line for line in lines if line.startswith("users.csv")).split() == [
        "users.csv",
        "0",
        "0",
        "0",
        "1",
        "0",
        "0",
    ]
    assert next(line for line in lines if line.startswith("roles.csv")).split()[5] == "1"
    # when the API runs it dry
    response = api.post(
        "/api/v1/imports/oneroster/", {"file": upload, "dry_run": "true"}, format="multipart"
    )
    body = api.get(f"/api/v1/imports/{response.json()['id']}/").json()
    # then the counts carry them, and nothing was written by either
    assert body["status"] == "succeeded"
    assert body["counts"]["users"]["deactivated"] == 1
    assert body["counts"]["roles"]["removed"] == 1
    assert body["counts"]["users"]["added"] == 0  # the fields already there stay
    after = snapshot()
    assert after["users"] == before["users"] and after["StaffRole"] == before["StaffRole"]
    # and the page shows them
    client.force_login(superuser)
    html = client.get(f"/exchange/imports/{body['id']}/").content.decode()
    assert "<th>deactivated</th>" in html and "<th>removed</th>" in html
