"""R43: the history row and the audit entry of every attendance change (like R14 for grades)."""

from __future__ import annotations

from dataclasses import dataclass

from attendance.models import Attendance, AttendanceAction, AttendanceHistory
from schools.actors import Actor, user_or_none
from schools.models import AuditEntry, Section


def section_school_id(section: Section) -> int:
    return (
        Section.objects.filter(pk=section.pk)
        .values_list("course__calendar__school_id", flat=True)
        .get()
    )


@dataclass(frozen=True, slots=True)
class Change:
    """One attendance record as it was before a write (``old_code_id`` None: created)."""

    record: Attendance
    action: AttendanceAction
    old_code_id: int | None
    old_comments: str


def keep_history(
    *,
    changes: list[Change],
    by: Actor,
    school_id: int,
    source: str,
    run_id: int | None = None,
) -> None:
    """R43: a history row (like R14 for grades) and an audit entry (R37) for every record
    whose code or comments changed. Two queries whatever the number of records."""
    user = user_or_none(by)
    moved = [
        c
        for c in changes
        if c.action in (AttendanceAction.CREATE, AttendanceAction.RESOLVE)
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
                    (
                        "code",
                        c.action == AttendanceAction.CREATE or c.old_code_id != c.record.code_id,
                    ),
                    (
                        "comments",
                        c.action == AttendanceAction.CREATE or c.old_comments != c.record.comments,
                    ),
                )
                if moved
            ],
        )
        for c in moved
    )
