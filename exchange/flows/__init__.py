"""The three flows of the nightly exchange (R18-R27).

Every flow takes ``(*, run_id, tech_school_id, as_of, school_year, dry_run)`` and returns a
list of outcome dicts with the field names of :class:`exchange.models.ExchangeOutcome`:
``flow, action, reason, student_id, hs_section_id, source_id, target_id, message``.
"""

from typing import Any

OUTCOME_KEYS = (
    "flow",
    "action",
    "reason",
    "student_id",
    "hs_section_id",
    "source_id",
    "target_id",
    "message",
)


def outcome(
    flow: str,
    action: str,
    *,
    reason: str = "",
    student_id: int | None = None,
    hs_section_id: int | None = None,
    source_id: int | None = None,
    target_id: int | None = None,
    message: str = "",
) -> dict[str, Any]:
    """One record's outcome in the uniform dict shape every flow returns (R21)."""
    return {
        "flow": flow,
        "action": action,
        "reason": reason,
        "student_id": student_id,
        "hs_section_id": hs_section_id,
        "source_id": source_id,
        "target_id": target_id,
        "message": message,
    }
