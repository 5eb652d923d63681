"""R25: taking attendance, one record or a whole section's day.

Validation that spans rows (the day is inside a term, the student is rostered, the code is the
section's school's) is done here set-based, so one record and a whole section's day give the
same answer with the same few queries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from attendance.error_codes import AttendanceErrorCode
from attendance.models import Attendance, AttendanceAction, AttendanceCode, AttendanceSource
from attendance.services.history import Change, keep_history, section_school_id
from schools.actors import Actor, user_or_none
from schools.errors import field_error
from schools.models import Roster, Section, Student, Term


@dataclass
class Entry:
    """One student's mark in a bulk save: ``student`` and ``code`` are ids or objects."""

    student: int | Student
    code: int | AttendanceCode
    comments: str = ""

    @property
    def student_id(self) -> int:
        return self.student.pk if isinstance(self.student, Student) else int(self.student)

    @property
    def code_id(self) -> int:
        return self.code.pk if isinstance(self.code, AttendanceCode) else int(self.code)


def validate_attendance_day(*, section: Section, date: dt.date) -> None:
    """R25: refuse future days, weekends and days outside every term of the section's
    calendar. Decision: with no per-day calendar, Saturdays and Sundays are the
    non-instructional days inside a term."""
    today = timezone.localdate()
    if date > today:
        raise field_error(
            "date",
            f"Attendance cannot be taken for a future day; choose {today} or earlier.",
            code=AttendanceErrorCode.FUTURE_DATE,
        )
    if date.weekday() >= 5:
        raise field_error(
            "date",
            f"{date} is a {date:%A}; choose a school day (Monday to Friday).",
            code=AttendanceErrorCode.NON_INSTRUCTIONAL_DAY,
        )
    calendar_id = (
        Section.objects.filter(pk=section.pk).values_list("course__calendar_id", flat=True).get()
    )
    if not Term.objects.filter(
        calendar_id=calendar_id, start_date__lte=date, end_date__gte=date
    ).exists():
        raise field_error(
            "date",
            f"{date} is not inside any term of this section's calendar; choose an "
            "instructional day.",
            code=AttendanceErrorCode.NON_INSTRUCTIONAL_DAY,
        )


def validate_attendance_entries(
    *, section: Section, date: dt.date, entries: list[Entry]
) -> dict[int, tuple[str, str, str]]:
    """R25: the codes belong to the section's school and every student is rostered that day.

    Returns ``{student_id: (field, error code, message)}`` for refused students (empty when
    all is well). Three queries whatever the number of students.
    """
    school_id = section_school_id(section)
    code_ids = {e.code_id for e in entries}
    codes = dict(AttendanceCode.objects.filter(pk__in=code_ids).values_list("pk", "school_id"))
    errors: dict[int, tuple[str, str, str]] = {}
    for e in entries:
        if e.code_id not in codes:
            errors[e.student_id] = (
                "code",
                AttendanceErrorCode.UNKNOWN_CODE,
                "Choose one of the school's attendance codes.",
            )
        elif codes[e.code_id] != school_id:
            errors[e.student_id] = (
                "code",
                AttendanceErrorCode.CODE_WRONG_SCHOOL,
                "This code belongs to another school; choose one of this school's codes.",
            )
    rostered = set(
        Roster.objects.filter(
            section=section,
            student_id__in=[e.student_id for e in entries],
            start_date__lte=date,
        )
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=date))
        .values_list("student_id", flat=True)
    )
    for e in entries:
        if e.student_id not in rostered and e.student_id not in errors:
            errors[e.student_id] = (
                "student",
                AttendanceErrorCode.NOT_ROSTERED,
                f"The student is not rostered in this section on {date}; roster them first or "
                "choose another day.",
            )
    return errors


@transaction.atomic
def attendance_record(
    *,
    student: Student,
    section: Section,
    date: dt.date,
    code: AttendanceCode,
    comments: str = "",
    by: Actor = None,
    source: str = AttendanceSource.TEACHER,
) -> tuple[Attendance, bool]:
    """R25: record (or change) one student's attendance in a section on a day.

    Upserts on (student, section, date). Returns ``(record, created)``.
    """
    validate_attendance_day(section=section, date=date)
    entry = Entry(student=student, code=code, comments=comments)
    errors = validate_attendance_entries(section=section, date=date, entries=[entry])
    if errors:
        field, error_code, message = errors[entry.student_id]
        raise ValidationError({field: ValidationError(message, code=error_code)})
    existing = (
        Attendance.objects.select_for_update()
        .filter(student=student, section=section, date=date)
        .first()
    )
    created = existing is None
    record = existing or Attendance(student=student, section=section, date=date)
    change = Change(
        record=record,
        action=AttendanceAction.CREATE if created else AttendanceAction.UPDATE,
        old_code_id=None if created else record.code_id,
        old_comments="" if created else record.comments,
    )
    record.code = code
    record.comments = comments
    record.source = source
    record.recorded_by = user_or_none(by)
    record.full_clean(validate_unique=False, validate_constraints=False)
    record.save()
    keep_history(changes=[change], by=by, school_id=section_school_id(section), source=source)
    return record, created


@transaction.atomic
def attendance_record_bulk(
    *,
    section: Section,
    date: dt.date,
    entries: list[Entry],
    by: Actor = None,
    source: str = AttendanceSource.TEACHER,
) -> list[Attendance]:
    """R25: record a whole section's day at once - all or nothing.

    Refused students raise one ValidationError on ``entries`` listing every refused student
    (each message starts with ``Student <id>:``) and nothing is saved. The per-student
    problems are also available as ``exc.error_dict["entries"][i].params``.
    """
    validate_attendance_day(section=section, date=date)
    if not entries:
        return []
    seen: set[int] = set()
    for e in entries:
        if e.student_id in seen:
            raise field_error(
                "entries",
                f"Student {e.student_id} is listed twice; mark each student once.",
                code=AttendanceErrorCode.DUPLICATE_STUDENT,
            )
        seen.add(e.student_id)
    errors = validate_attendance_entries(section=section, date=date, entries=entries)
    if errors:
        raise ValidationError(
            {
                "entries": [
                    ValidationError(
                        f"Student {sid}: {message}",
                        code=error_code,
                        params={"student": sid, "field": field},
                    )
                    for sid, (field, error_code, message) in sorted(errors.items())
                ]
            }
        )
    user = user_or_none(by)
    before = {
        sid: (code_id, comments)
        for sid, code_id, comments in Attendance.objects.select_for_update()
        .filter(section=section, date=date, student_id__in=seen)
        .values_list("student_id", "code_id", "comments")
    }
    rows = []
    for e in entries:
        row = Attendance(
            student_id=e.student_id,
            section=section,
            date=date,
            code_id=e.code_id,
            comments=e.comments or "",
            source=source,
            recorded_by=user,
        )
        row.full_clean(
            exclude=["student", "section", "code", "source_record", "recorded_by", "resolved_by"],
            validate_unique=False,
            validate_constraints=False,
        )
        rows.append(row)
    Attendance.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["student", "section", "date"],
        update_fields=["code", "comments", "source", "recorded_by", "modified_at"],
    )
    saved = list(
        Attendance.objects.filter(section=section, date=date, student_id__in=seen).order_by(
            "student__last_name", "student__first_name", "student_id"
        )
    )
    keep_history(
        changes=[
            Change(
                record=r,
                action=AttendanceAction.UPDATE
                if r.student_id in before
                else AttendanceAction.CREATE,
                old_code_id=before.get(r.student_id, (None, ""))[0],
                old_comments=before.get(r.student_id, (None, ""))[1],
            )
            for r in saved
        ],
        by=by,
        school_id=section_school_id(section),
        source=source,
    )
    return saved
