"""R4/R5: what a posted grade's value may be: a percent, a score, or both in one band."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from grading import scoring
from grading.error_codes import GradingErrorCode
from schools.errors import field_error

HUNDRED = Decimal("100")
TWO_PLACES = Decimal("0.01")


def parse_percent(value: object) -> Decimal | None:
    """R4: a percent from 0 to 100 with at most two decimals, or None when empty."""
    if value is None or value == "":
        return None
    try:
        percent = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise field_error(
            "percent",
            "Enter the percent as a number, for example 92.5.",
            code=GradingErrorCode.INVALID_PERCENT,
        ) from exc
    if not percent.is_finite():
        raise field_error(
            "percent",
            "Enter the percent as a number, for example 92.5.",
            code=GradingErrorCode.INVALID_PERCENT,
        )
    if percent < 0 or percent > HUNDRED:
        raise field_error(
            "percent", "Enter a percent from 0 to 100.", code=GradingErrorCode.PERCENT_OUT_OF_RANGE
        )
    if percent != percent.quantize(TWO_PLACES):
        raise field_error(
            "percent",
            "Enter the percent with at most two decimals.",
            code=GradingErrorCode.TOO_MANY_DECIMALS,
        )
    return percent.quantize(TWO_PLACES)


def resolve_value(
    *,
    rows: Sequence[scoring.Row],
    group: str,
    is_cte_numeric: bool,
    percent: object,
    score: str | None,
) -> tuple[Decimal | None, str]:
    """R5: the (percent, score) to store on score group ``group`` (its ``rows``), or a
    ValidationError saying what to fix. On CTE Numeric only a percent is posted (R4)."""
    percent = parse_percent(percent)
    score = (score or "").strip()
    if is_cte_numeric and percent is None:
        raise field_error(
            "percent",
            "CTE Numeric grades are posted as a percent; enter the percent and "
            "the score is filled in.",
            code=GradingErrorCode.PERCENT_REQUIRED,
        )
    if percent is None and not score:
        raise field_error(
            "percent",
            "Enter a percent (or a score on a letter score group).",
            code=GradingErrorCode.VALUE_REQUIRED,
        )
    if percent is not None:
        row = scoring.row_for_percent(rows, percent)
        if row is None:
            raise field_error(
                "percent",
                f"Score group {group} has no row for {percent}%; ask the district "
                "to add a row with Min % 0.",
                code=GradingErrorCode.SCORE_UNTRANSLATABLE,
            )
        if score and score != row.score:
            if is_cte_numeric:
                raise field_error(
                    "score",
                    "On CTE Numeric only the percent is posted; leave the score "
                    f"empty ({percent}% is {row.score}).",
                    code=GradingErrorCode.SCORE_ON_CTE_NUMERIC,
                )
            if scoring.band_of(rows, score) is None:
                raise field_error(
                    "score",
                    f"{score} is not a score of {group}; choose one of "
                    f"{', '.join(r.score for r in rows)}.",
                    code=GradingErrorCode.SCORE_NOT_IN_GROUP,
                )
            raise field_error(
                "percent",
                f"{percent}% is {row.score} on {group}, not {score}; change the "
                "percent or the score.",
                code=GradingErrorCode.PERCENT_OUTSIDE_BAND,
            )
        return percent, row.score
    if scoring.band_of(rows, score) is None:
        raise field_error(
            "score",
            f"{score} is not a score of {group}; choose one of {', '.join(r.score for r in rows)}.",
            code=GradingErrorCode.SCORE_NOT_IN_GROUP,
        )
    return None, score
