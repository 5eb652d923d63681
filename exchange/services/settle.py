"""R22: settling, at a run's start, the schools whose inputs did not change since their
watermarks (see :mod:`exchange.flows.watermark`)."""

from collections import Counter

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from exchange.flows import attendance as attendance_flow
from exchange.flows import inputs, journal, watermark
from exchange.models import (
    Action,
    ExchangeRun,
    Flow,
    FlowWatermark,
    RunPart,
    RunStatus,
)
from exchange.services.base import count_outcomes, school_year_of
from exchange.services.parts import save_outcomes, set_timeouts


def settle_unchanged_schools(run: ExchangeRun, schools: list[int]) -> dict[int, RunPart]:
    """R22: the schools whose grade and enrollment inputs are exactly as their stored
    watermarks found them, and whose attendance has nothing to write, are settled here in
    one transaction: their parts are recorded as succeeded with the replayed outcomes and
    counts, without a part of their own. The input journal tells which watermarks nothing
    has touched; the others are fingerprinted, one query per school and flow; the other
    schools run as parts (which check their own watermarks again, in their own snapshot).
    Answers the settled parts by school. Every run first prunes the journal (the triggers
    keep it with the watermark off too)."""
    journal.prune()
    if not schools or not settings.EXCHANGE_WATERMARK or connection.vendor != "postgresql":
        return {}
    school_year = school_year_of(run.as_of)
    marks = watermark.load_all(school_year=school_year, schools=schools)
    candidates = [
        s
        for s in schools
        if (s, Flow.GRADES) in marks
        and (s, Flow.ENROLLMENTS) in marks
        and marks[(s, Flow.ENROLLMENTS)].as_of <= run.as_of
    ]
    if not candidates:
        return {}
    settled: dict[int, RunPart] = {}
    with transaction.atomic(), watermark.part_snapshot() as snapshot:
        if not snapshot:
            return {}  # inside someone else's transaction: the parts decide for themselves
        set_timeouts()
        # The watermarks whose inputs no statement touched since (the input journal): their
        # fingerprints would be the stored ones, so none is taken.
        # (Only for the fingerprint read above: a watermark stored since is not vouched for.)
        quiet = {
            key
            for key, print_ in journal.unchanged(
                school_year=school_year, schools=candidates
            ).items()
            if key in marks and marks[key].fingerprint == print_
        }
        # A school whose teachers saved a grade since its mark was stored has changed: it
        # goes to its part without the fingerprint that would only confirm it.
        saved = inputs.grades_saved_since(
            school_year=school_year,
            since={
                s: marks[(s, Flow.GRADES)].updated_at
                for s in candidates
                if (s, Flow.GRADES) not in quiet
            },
        )
        candidates = [s for s in candidates if s not in saved]
        grades_prints = _prints(
            inputs.grade_fingerprints, Flow.GRADES, candidates, marks, quiet, school_year
        )
        # A school whose grades changed runs as a part whatever its enrollments: only the
        # others' enrollment inputs are fingerprinted.
        candidates = [
            s for s in candidates if marks[(s, Flow.GRADES)].fingerprint == grades_prints[s]
        ]
        enrollments_prints = _prints(
            inputs.enrollment_fingerprints, Flow.ENROLLMENTS, candidates, marks, quiet, school_year
        )
        now = timezone.now()
        for school_id in candidates:
            grades, enrollments = (
                marks[(school_id, Flow.GRADES)],
                marks[(school_id, Flow.ENROLLMENTS)],
            )
            if grades.fingerprint != grades_prints.get(school_id) or (
                enrollments.fingerprint != enrollments_prints.get(school_id)
            ):
                continue
            # Attendance depends on the day: decided now, as a dry run; the school is
            # settled only if it has nothing to write.
            attendance = attendance_flow.sync_unknown_attendance(
                run_id=run.pk,
                tech_school_id=school_id,
                as_of=run.as_of,
                school_year=school_year,
                dry_run=True,
            )
            if any(o["action"] not in (Action.UNCHANGED, Action.SKIPPED) for o in attendance):
                continue
            outcomes = [*grades.outcomes, *attendance]
            unchanged: Counter[str] = Counter(
                {Flow.GRADES: grades.unchanged, Flow.ENROLLMENTS: enrollments.unchanged}
            )
            settled[school_id] = RunPart(
                run=run,
                tech_school_id=school_id,
                status=RunStatus.SUCCEEDED,
                counts=count_outcomes(outcomes, unchanged),
                started_at=now,
                finished_at=now,
            )
            save_outcomes(run_id=run.pk, tech_school_id=school_id, outcomes=outcomes)
        RunPart.objects.bulk_create(settled.values())
    return settled


def _prints(
    fingerprints: watermark.Fingerprints,
    flow: str,
    schools: list[int],
    marks: dict[tuple[int, str], FlowWatermark],
    quiet: set[tuple[int, str]],
    school_year: int,
) -> dict[int, str]:
    """Each school's fingerprint of ``flow``: the stored one where the journal says no input
    changed since, taken (one query a school) for the others."""
    taken = fingerprints(
        school_year=school_year, schools=[s for s in schools if (s, flow) not in quiet]
    )
    return {s: taken[s] if s in taken else marks[(s, flow)].fingerprint for s in schools}
