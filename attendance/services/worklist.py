"""R27: the clerks' worklist: resolving unknown tech attendance with one of the HS's codes."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from attendance.error_codes import AttendanceErrorCode
from attendance.models import Attendance, AttendanceAction, AttendanceCode, AttendanceSource, Excuse
from attendance.services.history import Change, keep_history
from schools.actors import Actor, user_or_none
from schools.errors import field_error
from schools.models import School


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
def attendance_resolve(*, record: Attendance, code: AttendanceCode, by: Actor) -> Attendance:
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
        record=record,
        action=AttendanceAction.RESOLVE,
        old_code_id=record.code_id,
        old_comments=record.comments,
    )
    record.code = code
    record.resolved_at = timezone.now()
    record.resolved_by = user_or_none(by)
    record.full_clean(validate_unique=False, validate_constraints=False)
    record.save(update_fields=["code", "resolved_at", "resolved_by", "modified_at"])
    keep_history(
        changes=[change],
        by=by,
        school_id=record.section.course.calendar.school_id,
        source=AttendanceSource.CLERK,
    )
    return record


@transaction.atomic
def attendance_resolve_bulk(
    *, record_ids: list[int], code: AttendanceCode, by: Actor, school: School | None = None
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
    user = user_or_none(by)
    changes = [
        Change(
            record=r,
            action=AttendanceAction.RESOLVE,
            old_code_id=r.code_id,
            old_comments=r.comments,
        )
        for r in records
    ]
    for r in records:
        r.code = code
        r.resolved_at = now
        r.resolved_by = user
        r.modified_at = now
    Attendance.objects.bulk_update(records, ["code", "resolved_at", "resolved_by", "modified_at"])
    keep_history(changes=changes, by=by, school_id=code.school_id, source=AttendanceSource.CLERK)
    return len(records)
