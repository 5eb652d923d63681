"""The three flows of the nightly exchange (R18-R27).

Every flow takes ``(*, run_id, tech_school_id, as_of, school_year, dry_run)`` and returns a
:class:`FlowResult` (or a plain list of outcomes): outcome dicts with the field names of
:class:`exchange.models.ExchangeOutcome` - ``flow, action, reason, student_id,
hs_section_id, source_id, target_id, message`` - and a count of the unchanged records.
"""

from typing import Any, NamedTuple

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


class FlowResult(NamedTuple):
    """What one flow did for one tech school: the outcomes to record (R21), and how many
    records it found as they should be. Unchanged records are counted, not listed: a quiet
    night has tens of thousands of them and nothing to say about any."""

    flow: str
    outcomes: list[dict[str, Any]]
    unchanged: int = 0
