"""R43: attendance keeps its change history like grades (R14) - every create, change and
resolution through the attendance services, single or bulk - and each change is audited and
attributable; R44: comments have a length limit enforced on the server."""

import pytest
from django.core.exceptions import ValidationError

from attendance.models import ATTENDANCE_COMMENTS_MAX, Attendance, AttendanceHistory
from attendance.services.records import Entry, attendance_record, attendance_record_bulk
from attendance.services.worklist import attendance_resolve
from schools.models import AuditEntry
from tests.world import MONDAY


def test_r43_single_record_changes_keep_history(world):
    # given a student marked absent
    student = world.students[0]
    absent, present = world.code(world.tech_school, "AU"), world.code(world.tech_school, "P")
    record, _ = attendance_record(
        student=student, section=world.tech_section, date=MONDAY, code=absent, by=world.teacher
    )
    # when the mark changes, then only the comment, then the same values again
    for code, comments in ((present, ""), (present, "Bus late"), (present, "Bus late")):
        attendance_record(
            student=student,
            section=world.tech_section,
            date=MONDAY,
            code=code,
            comments=comments,
            by=world.teacher,
        )
    # then three history rows (an unchanged save writes none), oldest first, attributed
    rows = list(AttendanceHistory.objects.filter(record=record).order_by("id"))
    assert [(r.action, r.old_code_id, r.new_code_id) for r in rows] == [
        ("create", None, absent.pk),
        ("update", absent.pk, present.pk),
        ("update", present.pk, present.pk),
    ]
    assert (rows[2].old_comments, rows[2].new_comments) == ("", "Bus late")
    assert {r.changed_by for r in rows} == {world.teacher}
    audits = AuditEntry.objects.filter(model="attendance.Attendance", object_id=record.pk)
    assert sorted(audits.values_list("action", flat=True)) == ["create", "update", "update"]
    assert audits.filter(changes=["comments"]).count() == 1


def test_r43_bulk_save_keeps_history_for_every_changed_record(world):
    # given a section's day saved once
    present, absent = world.code(world.tech_school, "P"), world.code(world.tech_school, "AU")
    entries = [Entry(student=s.pk, code=present.pk) for s in world.students]
    attendance_record_bulk(
        section=world.tech_section, date=MONDAY, entries=entries, by=world.teacher
    )
    assert AttendanceHistory.objects.filter(action="create").count() == len(entries)
    # when it is saved again with one student changed
    entries[0] = Entry(student=world.students[0].pk, code=absent.pk)
    attendance_record_bulk(
        section=world.tech_section, date=MONDAY, entries=entries, by=world.teacher
    )
    # then exactly one update row, for that student
    updates = AttendanceHistory.objects.filter(action="update")
    assert [(h.record.student_id, h.old_code_id, h.new_code_id) for h in updates] == [
        (world.students[0].pk, present.pk, absent.pk)
    ]


def test_r43_resolving_unknown_attendance_keeps_history(world, django_user_model):
    # given an unknown absence at the high school
    unknown, excused = world.code(world.hs_school, "UNK"), world.code(world.hs_school, "AE")
    record = Attendance.objects.create(
        student=world.students[0], section=world.hs_section, date=MONDAY, code=unknown
    )
    clerk = django_user_model.objects.create_user("clerk-h")
    # when a clerk resolves it
    attendance_resolve(record=record, code=excused, by=clerk)
    # then the resolution is a history row and an audit entry, attributed to the clerk
    row = AttendanceHistory.objects.get(record=record)
    assert (row.action, row.old_code_id, row.new_code_id, row.changed_by) == (
        "resolve",
        unknown.pk,
        excused.pk,
        clerk,
    )
    assert AuditEntry.objects.get(object_id=record.pk, model="attendance.Attendance").user == clerk


def test_r44_attendance_comments_over_the_limit_are_refused(world):
    # given a comment one character too long
    long = "x" * (ATTENDANCE_COMMENTS_MAX + 1)
    # when it is recorded, then refused with a code, nothing written
    with pytest.raises(ValidationError) as exc:
        attendance_record(
            student=world.students[0],
            section=world.tech_section,
            date=MONDAY,
            code=world.code(world.tech_school, "P"),
            comments=long,
            by=world.teacher,
        )
    assert exc.value.error_dict["comments"][0].code == "comments_too_long"
    with pytest.raises(ValidationError):
        attendance_record_bulk(
            section=world.tech_section,
            date=MONDAY,
            entries=[
                Entry(
                    student=world.students[0].pk,
                    code=world.code(world.tech_school, "P").pk,
                    comments=long,
                )
            ],
            by=world.teacher,
        )
    assert not Attendance.objects.exists()
    assert not AttendanceHistory.objects.exists()


def test_r43_admin_shows_an_attendance_records_history(world, client, django_user_model):
    # given a record changed once
    student = world.students[0]
    record, _ = attendance_record(
        student=student,
        section=world.tech_section,
        date=MONDAY,
        code=world.code(world.tech_school, "AU"),
        by=world.teacher,
    )
    attendance_record(
        student=student,
        section=world.tech_section,
        date=MONDAY,
        code=world.code(world.tech_school, "P"),
        comments="Came in late",
        by=world.teacher,
    )
    admin = django_user_model.objects.create_superuser("state-h", password="x")
    client.force_login(admin)
    # when the state admin opens the record in the admin
    response = client.get(f"/admin/attendance/attendance/{record.pk}/change/")
    # then both changes are listed
    assert response.status_code == 200
    assert response.content.count(b"Came in late") >= 1
    assert len(response.context["inline_admin_formsets"][0].formset.forms) == 2
