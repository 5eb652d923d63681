"""R25: a school's attendance codes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from attendance.models import AttendanceCode, Excuse, Status
from schools.models import School
from schools.services.writes import model_save

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


def attendance_code_update(*, code: AttendanceCode, **changes: Any) -> AttendanceCode:
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
