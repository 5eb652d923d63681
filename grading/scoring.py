"""Percent <-> score translation on a score group (R5, R6, R20). Pure functions, no queries."""

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import NamedTuple


class Row(NamedTuple):
    score: str
    min_percent: Decimal
    passing: bool
    gpa_value: Decimal


def rows_of(score_rows: Iterable) -> list[Row]:
    """ScoreRow objects (or dicts) as Rows, highest Min % first."""
    out = []
    for r in score_rows:
        get = r.get if isinstance(r, dict) else lambda k, r=r: getattr(r, k)
        out.append(
            Row(
                get("score"),
                Decimal(get("min_percent")),
                bool(get("passing")),
                Decimal(get("gpa_value")),
            )
        )
    return sorted(out, key=lambda row: row.min_percent, reverse=True)


def row_for_percent(rows: Sequence[Row], percent: Decimal) -> Row | None:
    """R5: the row with the greatest Min % not above ``percent`` (rows sorted high to low)."""
    for row in rows:
        if row.min_percent <= percent:
            return row
    return None


def band_of(rows: Sequence[Row], score: str) -> tuple[Decimal, Decimal] | None:
    """The [low, high) percent band of ``score`` (high = 100 inclusive for the top row)."""
    upper = Decimal("100")
    for i, row in enumerate(rows):
        if row.score == score:
            return row.min_percent, (upper if i == 0 else rows[i - 1].min_percent)
    return None


def percent_in_band(rows: Sequence[Row], score: str, percent: Decimal) -> bool:
    """R5: a percent given with a label must fall in that label's band."""
    row = row_for_percent(rows, percent)
    return row is not None and row.score == score


def thresholds(rows: Sequence[Row]) -> list[Decimal]:
    """R6: the Min % column, in order - two groups match when these are equal."""
    return [row.min_percent for row in rows]
