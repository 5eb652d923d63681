"""R37: the disclosure log of R26's real-time tech attendance reads."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from schools.actors import Actor, user_or_none
from schools.models import DisclosureLog, School


def disclosure_log_tech_attendance(
    *, reader_school: School, rows: Iterable[dict[str, Any]], user: Actor = None, purpose: str = ""
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
            user=user_or_none(user),
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
