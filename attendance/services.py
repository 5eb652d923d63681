"""Every write of attendance codes and records (R25, R26's disclosure log, R27's worklist).

Validation that spans rows (the day is inside a term, the student is rostered, the code is the
section's school's) is done here set-based, so one record and a whole section's day give the
same answer with the same few queries.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from attendance.error_codes import AttendanceErrorCode
from attendance.models import (
    Attendance,
    AttendanceCode,
    AttendanceHistory,
    AttendanceSource,
    Excuse,
    Status,
)
from schools.errors import field_error
from schools.models import AuditEntry, DisclosureLog, Roster, School, Section, Student, Term
from schools.services import model_save

# A sensible starting set for a school that has none yet (R25).
DEFAULT_CODES: tuple[tuple[str, str, str, str], ...] = (
    ("P", "Present", Status.PRESENT, ""),
    ("AE", "Absent excused", Status.ABSENT, Excuse.EXCUSED),
    ("AU", "Absent unexcused", Status.ABSENT, Excuse.UNEXCUSED),
    ("AX", "Absent exempt", Status.ABSENT, Excuse.EXEMPT),
    ("UNK", "Absent, reason unknown", Status.ABSENT, Excuse.UNKNOWN),
    ("T", "Tardy", Status.TARDY, Excuse.UNEXCUSED),
    ("ER", "Early release", Status.EARLY_RELEASE, Excuse.EXCUSED),
)


# --- Codes (R25) -------------------------------------------------------------------------
def attendance_code_create(
    *, school: School, code: str, status: str, excuse: str = "", description: str = ""
) -> AttendanceCode:
    """R25: add an attendance code to a school."""
    return model_save(
        instance=AttendanceCode(),
        school=school,
        code=code,
        status=status,
        excuse=excuse,
        description=description,
    )


def attendance_code_update(*, code: AttendanceCode, **changes) -> AttendanceCode:
    """R25: change a code's fields (status and excuse are validated together)."""
    return model_save(instance=code, **changes)


def attendance_codes_ensure_defaults(*, schools: Iterable[School] | None = None) -> int:
    """Give every school (or the given ones) without any code the default set. Set-based.

    Returns the number of codes created.
    """
    qs = School.objects.filter(attendance_codes__isnull=True)
    if schools is not None:
        qs = qs.filter(pk__in=[s.pk for s in schools])
    school_ids = list(qs.values_list("pk", flat=True).distinct())
    rows = [
        AttendanceCode(school_id=sid, code=c, description=d, status=s, excuse=e)
        for sid in school_ids
        for c, d, s, e in DEFAULT_CODES
    ]
    AttendanceCode.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    return len(rows)


# --- Taking attendance (R25) -----------------------------------------------------------
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


def _section_school_id(section: Section) -> int:
    return (
        Section.objects.filter(pk=section.pk)
        .values_list("course__calendar__school_id", flat=True)
        .get()
    )


@dataclass(frozen=True, slots=True)
class Change:
    """One attendance record as it was before a write (``old_code_id`` None: created)."""

    record: Attendance
    action: str  # create, update, resolve
    old_code_id: int | None
    old_comments: str


def _keep_history(
    *,
    changes: list[Change],
    by,
    school_id: int,
    source: str,
    run_id: int | None = None,
) -> None:
    """R43: a history row (like R14 for grades) and an audit entry (R37) for every record
    whose code or comments changed. Two queries whatever the number of records."""
    user = by if by is not None and by.is_authenticated else None
    moved = [
        c
        for c in changes
        if c.action in ("create", "resolve")
        or c.old_code_id != c.record.code_id
        or c.old_comments != c.record.comments
    ]
    if not moved:
        return
    AttendanceHistory.objects.bulk_create(
        AttendanceHistory(
            record=c.record,
            changed_by=user,
            run_id=run_id,
            action=c.action,
            source=source,
            old_code_id=c.old_code_id,
            new_code_id=c.record.code_id,
            old_comments=c.old_comments,
            new_comments=c.record.comments,
        )
        for c in moved
    )
    AuditEntry.objects.bulk_create(
        AuditEntry(
            user=user,
            run_id=run_id,
            action=c.action,
            model=Attendance._meta.label,
            object_id=c.record.pk,
            school_id=school_id,
            changes=[
                name
                for name, moved in (
                    ("code", c.action == "create" or c.old_code_id != c.record.code_id),
                    ("comments", c.action == "create" or c.old_comments != c.record.comments),
                )
                if moved
            ],
        )
        for c in moved
    )


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
    school_id = _section_school_id(section)
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
    by=None,
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
    record = (
        Attendance.objects.select_for_update()
        .filter(student=student, section=section, date=date)
        .first()
    )
    created = record is None
    if created:
        record = Attendance(student=student, section=section, date=date)
    change = Change(
        record=record,
        action="create" if created else "update",
        old_code_id=None if created else record.code_id,
        old_comments="" if created else record.comments,
    )
    record.code = code
    record.comments = comments
    record.source = source
    record.recorded_by = by if by is not None and by.is_authenticated else None
    record.full_clean(validate_unique=False, validate_constraints=False)
    record.save()
    _keep_history(changes=[change], by=by, school_id=_section_school_id(section), source=source)
    return record, created


@transaction.atomic
def attendance_record_bulk(
    *,
    section: Section,
    date: dt.date,
    entries: list[Entry],
    by=None,
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
    user = by if by is not None and by.is_authenticated else None
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
    _keep_history(
        changes=[
            Change(
                record=r,
                action="update" if r.student_id in before else "create",
                old_code_id=before.get(r.student_id, (None, ""))[0],
                old_comments=before.get(r.student_id, (None, ""))[1],
            )
            for r in saved
        ],
        by=by,
        school_id=_section_school_id(section),
        source=source,
    )
    return saved


# --- The clerks' worklist (R27) ---------------------------------------------------------
def _check_resolvable(records: list[Attendance], code: AttendanceCode) -> None:
    if code.excuse == Excuse.UNKNOWN:
        # R27: resolving means choosing what the absence was; "unknown" resolves nothing.
        raise field_error(
            "code",
            f"{code.code} is the unknown-excuse code; choose a code that says whether the "
            "absence is excused, unexcused or exempt.",
            code=AttendanceErrorCode.CODE_UNKNOWN,
        )
    for record in records:
        if record.resolved_at is not None or record.code.excuse != Excuse.UNKNOWN:
            raise ValidationError(
                f"Record {record.pk} is not on the unknown-attendance worklist (already "
                "resolved or not unknown); change it as ordinary attendance instead.",
                code=AttendanceErrorCode.NOT_ON_WORKLIST,
            )
        if record.section.course.calendar.school_id != code.school_id:
            raise field_error(
                "code",
                "This code belongs to another school; choose one of this school's codes.",
                code=AttendanceErrorCode.CODE_WRONG_SCHOOL,
            )


@transaction.atomic
def attendance_resolve(*, record: Attendance, code: AttendanceCode, by) -> Attendance:
    """R27: a clerk resolves a worklist record by choosing one of the HS's codes.

    A resolved record is never overwritten by a later exchange run.
    """
    record = (
        Attendance.objects.select_for_update()
        .select_related("code", "section__course__calendar")
        .get(pk=record.pk)
    )
    _check_resolvable([record], code)
    change = Change(
        record=record, action="resolve", old_code_id=record.code_id, old_comments=record.comments
    )
    record.code = code
    record.resolved_at = timezone.now()
    record.resolved_by = by if by is not None and by.is_authenticated else None
    record.full_clean(validate_unique=False, validate_constraints=False)
    record.save(update_fields=["code", "resolved_at", "resolved_by", "modified_at"])
    _keep_history(
        changes=[change],
        by=by,
        school_id=record.section.course.calendar.school_id,
        source=AttendanceSource.CLERK,
    )
    return record


@transaction.atomic
def attendance_resolve_bulk(
    *, record_ids: list[int], code: AttendanceCode, by, school: School | None = None
) -> int:
    """R27: resolve many worklist records with one code - all or nothing. Returns the count."""
    qs = Attendance.objects.select_for_update().filter(pk__in=record_ids)
    if school is not None:
        qs = qs.filter(section__course__calendar__school=school)
    records = list(qs.select_related("code", "section__course__calendar"))
    if len(records) != len(set(record_ids)):
        raise ValidationError(
            "Some records were not found; reload the worklist.", code=AttendanceErrorCode.NOT_FOUND
        )
    _check_resolvable(records, code)
    now = timezone.now()
    user = by if by is not None and by.is_authenticated else None
    changes = [
        Change(record=r, action="resolve", old_code_id=r.code_id, old_comments=r.comments)
        for r in records
    ]
    for r in records:
        r.code = code
        r.resolved_at = now
        r.resolved_by = user
        r.modified_at = now
    Attendance.objects.bulk_update(records, ["code", "resolved_at", "resolved_by", "modified_at"])
    _keep_history(changes=changes, by=by, school_id=code.school_id, source=AttendanceSource.CLERK)
    return len(records)


# --- R37: disclosure log for R26 reads ---------------------------------------------------
def disclosure_log_tech_attendance(
    *, reader_school: School, rows: Iterable[dict], user=None, purpose: str = ""
) -> list[DisclosureLog]:
    """R37: one log row per tech school whose attendance was disclosed to ``reader_school``.

    ``rows`` are the report rows disclosed (a page of them), or their sums per tech school
    and student (``{tech_school, student, records}``, see
    ``selectors.tech_attendance_disclosed``) for a whole report streamed as CSV.
    Internal keys only (student ids, school ids), never names. One query.
    """
    per_school: dict[int, set[int]] = {}
    counts: dict[int, int] = {}
    for row in rows:
        per_school.setdefault(row["tech_school"], set()).add(row["student"])
        counts[row["tech_school"]] = counts.get(row["tech_school"], 0) + row.get("records", 1)
    logs = [
        DisclosureLog(
            user=user if user is not None and user.is_authenticated else None,
            reader_school=reader_school,
            source_school_id=school_id,
            resource="tech-attendance",
            student_ids=sorted(student_ids),
            record_count=counts[school_id],
            purpose=purpose or "R26 real-time tech attendance report",
        )
        for school_id, student_ids in sorted(per_school.items())
    ]
    return DisclosureLog.objects.bulk_create(logs)
