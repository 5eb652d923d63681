"""Attendance's block on the student page (R52): teachers their own sections, attendance
clerks and admins their school and the student's tech attendance (disclosure-logged, R37);
registrars none (R42)."""

from __future__ import annotations

from attendance.models import Attendance
from schools import access
from schools.models import SchoolKind
from schools.student_page import Block, reads, register_block

SHOWN = 60
# R42: attendance is for the attendance clerks, the admins and the section's teachers.
ATTENDANCE_ROLES = {
    access.ATTENDANCE_CLERK,
    access.SCHOOL_ADMIN,
    access.DISTRICT_ADMIN,
    access.TEACHER,
}


@register_block(60)
def attendance_block(*, user, student) -> Block | None:
    if not reads(user, ATTENDANCE_ROLES):
        return None
    qs = access.scope_queryset(user, Attendance.objects.filter(student=student))
    records = list(
        qs.select_related("code", "section__course__calendar__school").order_by(
            "-date", "section_id"
        )[:SHOWN]
    )
    access.log_cross_school_reads(user, records, resource="student-page-attendance")
    rows = [
        {
            "record": a,
            "tech": a.section.course.calendar.school.kind == SchoolKind.TECHNICAL_SCHOOL,
        }
        for a in records
    ]
    return Block(
        "attendance",
        "Attendance",
        "attendance/student_attendance.html",
        {"rows": rows, "shown": SHOWN, "more": len(records) == SHOWN},
    )
