"""Transcript reads: cumulative GPA and credits (R35)."""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from grading.models import TranscriptLine
from grading.selectors.gpa import weighted_gpa
from schools.models import Student


def cumulative_gpa_of_lines(lines: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """R35: Σ(GPA value × credits attempted) / Σ(credits attempted), half up to 2 places.

    Pure: ``lines`` are dicts with ``gpa_value``, ``credits_attempted``, ``credits_earned``.
    A line with no GPA value adds credits but not to the GPA. A line awaiting the
    registrar's review counts with its posted values (R34).
    """
    gpa = weighted_gpa(
        (line["gpa_value"], line["credits_attempted"])
        for line in lines
        if line["gpa_value"] is not None
    )
    return {
        "gpa": gpa,
        "credits_attempted": sum((Decimal(x["credits_attempted"]) for x in lines), Decimal("0")),
        "credits_earned": sum((Decimal(x["credits_earned"]) for x in lines), Decimal("0")),
    }


def cumulative_gpa(*, student: Student) -> dict[str, Any]:
    """R35: ``{gpa, credits_attempted, credits_earned}`` over all of a student's lines."""
    lines = list(
        TranscriptLine.objects.filter(student_id=student.pk).values(
            "gpa_value", "credits_attempted", "credits_earned"
        )
    )
    return cumulative_gpa_of_lines(lines)


def transcript(*, student: Student) -> dict[str, Any]:
    """A student's transcript: lines by school year, cumulative GPA, credits by type."""
    lines = list(
        TranscriptLine.objects.filter(student_id=student.pk)
        .select_related("school")
        .order_by("school_year", "course_number")
    )
    by_year: dict[int, list[TranscriptLine]] = defaultdict(list)
    by_type: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: {"credits_attempted": Decimal("0"), "credits_earned": Decimal("0")}
    )
    for line in lines:
        by_year[line.school_year].append(line)
        t = by_type[line.credit_type or "(none)"]
        t["credits_attempted"] += line.credits_attempted
        t["credits_earned"] += line.credits_earned
    summary = cumulative_gpa_of_lines(
        [
            {
                "gpa_value": x.gpa_value,
                "credits_attempted": x.credits_attempted,
                "credits_earned": x.credits_earned,
            }
            for x in lines
        ]
    )
    return {
        "student": student,
        "years": sorted(by_year.items()),
        "credits_by_type": sorted(by_type.items()),
        **summary,
    }
