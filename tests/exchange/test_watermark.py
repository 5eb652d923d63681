"""R22: the exchange's watermark only makes a run faster, never changes its result.

On PostgreSQL a part whose grade or enrollment inputs did not change since the last run
replays what that run found (an exact fingerprint of the rows the flow reads). Each step of
a scenario changes one input; after it, a real run must record exactly what deciding every
record afresh finds (a dry run with the watermark off), and a second run on the unchanged
state must replay - without reading the grades - and still record exactly that.
"""

import datetime as dt
import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection, connections

from exchange.flows import OUTCOME_KEYS
from exchange.flows import enrollments as enrollments_flow
from exchange.flows import grades as grades_flow
from exchange.models import ExchangeOutcome, Flow, FlowWatermark, KtsLink
from exchange.services import exchange_run, runs, school_year_of
from grading.models import CTE_FINAL, CTE_TERM, Grade, ScoreRow
from schools.access import sql
from schools.models import Roster, Term
from tests.factories import RosterFactory
from tests.world import AS_OF, build_kts_world

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the watermark is PostgreSQL's"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

COMPARED = [k for k in OUTCOME_KEYS if k != "target_id"]  # a dry run adds no HS grade


def _shape(outcomes):
    return Counter(tuple(str(o[k] or "") for k in COMPARED) for o in outcomes)


def _afresh(w, as_of):
    """What deciding every record finds now: the flows called directly (outside a part, so
    without the watermark), as a dry run."""
    kwargs = {
        "run_id": 0,
        "tech_school_id": w.tech_school.pk,
        "as_of": as_of,
        "school_year": school_year_of(as_of),
        "dry_run": True,
    }
    return {
        result.flow: (result.unchanged, _shape(result.outcomes))
        for result in (
            grades_flow.sync_grades(**kwargs),
            enrollments_flow.sync_enrollments(**kwargs),
        )
    }


def _recorded(run):
    rows = list(ExchangeOutcome.objects.filter(run=run).values(*OUTCOME_KEYS))
    return {
        flow: (run.counts[flow]["unchanged"], _shape(r for r in rows if r["flow"] == flow))
        for flow in (Flow.GRADES, Flow.ENROLLMENTS)
    }


class _Reads:
    """Counts the flows' full reads (the grades and the enrollment pre-filter)."""

    def __init__(self, monkeypatch, *, settle_at_start=True):
        self.settle_at_start = settle_at_start
        self.n = Counter()
        for module, name in ((grades_flow, "read_tech_grades"), (enrollments_flow, "_dirty_keys")):
            real = getattr(module, name)

            def counted(*args, _real=real, _name=name, **kwargs):
                self.n[_name] += 1
                return _real(*args, **kwargs)

            monkeypatch.setattr(module, name, counted)


def _step(w, reads, *, as_of=AS_OF):
    expected = _afresh(w, as_of)
    run = exchange_run(as_of=as_of, trigger="test", inline=True)
    assert run.status == "succeeded", run.error
    assert _recorded(run) == expected
    # the same state again: the grades replayed, not read, and recorded the same; the
    # enrollments too once a run found nothing to do (a run that wrote keeps none)
    settled = _afresh(w, as_of)
    for _ in range(2):
        before = Counter(reads.n)
        again = exchange_run(as_of=as_of, trigger="test", inline=True)
        assert again.status == "succeeded", again.error
        assert _recorded(again) == settled
        assert reads.n["read_tech_grades"] == before["read_tech_grades"], "grades read again"
    assert reads.n == before, "the unchanged school was decided again instead of replayed"
    # settled at the run's start (no part task claimed it), or replayed by its part
    claimed = again.parts.filter(attempts__gt=0).exists()
    assert claimed != reads.settle_at_start
    # a settled state has nothing left to write: only skips are said again
    assert all(action == "skipped" for _, action, *_ in settled[Flow.GRADES][1])
    assert not settled[Flow.ENROLLMENTS][1]
    return settled


@pytest.mark.parametrize("settle_at_start", [True, False], ids=["run settles", "parts replay"])
def test_r22_watermark_replays_exactly_what_deciding_afresh_finds(monkeypatch, settle_at_start):
    # the run settles unchanged schools at its start; without that, each part replays
    if not settle_at_start:
        monkeypatch.setattr(runs, "settle_unchanged_schools", lambda run, schools: {})
    w = build_kts_world()
    a, b, c, d, e = w.add_students(5)
    q1, q2, _, _ = w.hs_terms
    s1, s2 = w.tech_terms
    term_task = w.hs_tasks[CTE_TERM]
    reads = _Reads(monkeypatch, settle_at_start=settle_at_start)

    _step(w, reads)  # enrollments only
    for student, percent in ((a, "88"), (b, "91.5"), (c, "59.99"), (d, "70")):
        w.post_tech_grade(student, percent, term=s1)
    w.post_tech_grade(a, "90", term=s1, code=CTE_FINAL)  # skipped: no active final term
    settled = _step(w, reads)
    assert settled[Flow.GRADES][0] == 4
    assert FlowWatermark.objects.filter(tech_school=w.tech_school).count() == 2

    # each input of the grade flow, changed in turn
    w.post_tech_grade(a, "77", term=s1)  # a tech percent
    _step(w, reads)
    Grade.objects.filter(section=w.tech_section, student=b, grading_task__code=CTE_TERM).update(
        percent=None
    )
    _step(w, reads)
    ScoreRow.objects.filter(group=term_task.score_group, score="C").update(score="C+")
    _step(w, reads)  # a HS score row's label
    w.activate(term_task, q2)  # the HS active term moves
    _step(w, reads)
    w.post_tech_grade(d, "85", term=s2)
    _step(w, reads)
    Term.objects.filter(pk=s1.pk).update(end_date=q2.end_date - dt.timedelta(days=1))
    _step(w, reads)  # a tech term's dates: out of range
    w.activate(term_task, None)  # no active term at all
    _step(w, reads)
    w.activate(term_task, q2)
    _step(w, reads)
    Grade.objects.filter(section=w.hs_section, student=a, grading_task__code=CTE_TERM).update(
        percent=Decimal("12.00")
    )
    _step(w, reads)  # a HS grade edited by hand is set back
    Grade.objects.filter(section=w.hs_section, student=a, grading_task__code=CTE_TERM).delete()
    _step(w, reads)  # and a deleted one comes back

    # the enrollment flow's inputs (and the grade flow's rosters)
    Roster.objects.filter(section=w.hs_section, student=c).update(end_date=q1.end_date)
    _step(w, reads)
    Roster.objects.filter(section=w.hs_section, student=d).delete()
    _step(w, reads)
    Roster.objects.filter(section=w.hs_section, student=e).update(
        start_date=w.hs_section.course.calendar.start_date + dt.timedelta(days=7)
    )
    _step(w, reads)
    second = build_kts_world(tech_section=w.tech_section)  # a second linked HS section
    RosterFactory(student=a, section=second.hs_section)
    _step(w, reads)
    KtsLink.objects.filter(hs_section=second.hs_section).delete()  # a link removed
    _step(w, reads)
    # a later day: the enrollment result still holds, the grades too
    _step(w, reads, as_of=AS_OF + dt.timedelta(days=1))


def test_r22_watermark_never_replays_over_a_change_made_during_the_run(monkeypatch):
    # given: a settled school, then a tech grade changed by someone else while a run reads
    w = build_kts_world()
    (a,) = w.add_students(1)
    s1 = w.tech_terms[0]
    tech = w.post_tech_grade(a, "80", term=s1)
    assert exchange_run(as_of=AS_OF, trigger="test", inline=True).status == "succeeded"
    w.post_tech_grade(a, "81", term=s1)  # so the next run decides (and writes) afresh
    real = grades_flow.decide

    def teacher_edits_meanwhile(**kwargs):
        out = real(**kwargs)

        def teacher():
            try:
                Grade.objects.filter(pk=tech.pk).update(percent=Decimal("95.00"))
            finally:
                connections.close_all()

        thread = threading.Thread(target=teacher)
        thread.start()
        thread.join(30)
        return out

    monkeypatch.setattr(grades_flow, "decide", teacher_edits_meanwhile)
    run = exchange_run(as_of=AS_OF, trigger="test", inline=True)
    assert run.status == "succeeded", run.error
    assert w.hs_grades().get(student=a).percent == Decimal("81.00")  # what it read
    monkeypatch.setattr(grades_flow, "decide", real)
    # when: the next run
    run = exchange_run(as_of=AS_OF, trigger="test", inline=True)
    # then: the edit was not hidden by the watermark stored meanwhile
    assert run.status == "succeeded", run.error
    assert run.counts["grades"]["updated"] == 1
    assert w.hs_grades().get(student=a).percent == Decimal("95.00")


def test_r22_watermark_off_decides_every_run_afresh(settings, monkeypatch):
    # given: EXCHANGE_WATERMARK off
    settings.EXCHANGE_WATERMARK = False
    w = build_kts_world()
    (a,) = w.add_students(1)
    w.post_tech_grade(a, "80", term=w.tech_terms[0])
    reads = _Reads(monkeypatch)
    # when: two runs on the same state
    for _ in range(2):
        assert exchange_run(as_of=AS_OF, trigger="test", inline=True).status == "succeeded"
    # then: both read everything, and no watermark is kept
    assert reads.n == {"read_tech_grades": 2, "_dirty_keys": 2}
    assert not FlowWatermark.objects.exists()


def _grade_fingerprints(queries) -> int:
    return sum("'tech grade'" in sql.executed(q["sql"]) for q in queries.captured_queries)


def test_r22_run_start_skips_the_fingerprint_of_a_school_whose_grades_were_saved_since():
    from django.test.utils import CaptureQueriesContext

    # given: a settled school
    w = build_kts_world()
    a, b = w.add_students(2)
    s1 = w.tech_terms[0]
    w.post_tech_grade(a, "80", term=s1)
    w.post_tech_grade(b, "70", term=s1)
    for _ in range(2):
        assert exchange_run(as_of=AS_OF, trigger="test", inline=True).status == "succeeded"
    # when: a teacher saves a grade (modified_at set), and the next run starts
    w.post_tech_grade(a, "81", term=s1)
    with CaptureQueriesContext(connection) as queries:
        run = exchange_run(as_of=AS_OF, trigger="test", inline=True)
    # then: the school went to its part without a fingerprint at the run's start (the part
    # takes its own), and the grade was carried
    assert run.status == "succeeded", run.error
    assert run.counts["grades"]["updated"] == 1
    assert _grade_fingerprints(queries) == 1
    assert w.hs_grades().get(student=a).percent == Decimal("81.00")
    # and: a change that left modified_at alone is still found by the fingerprint at the
    # run's start (and again by the part)
    Grade.objects.filter(section=w.tech_section, student=b).update(percent=Decimal("71.00"))
    with CaptureQueriesContext(connection) as queries:
        run = exchange_run(as_of=AS_OF, trigger="test", inline=True)
    assert run.counts["grades"]["updated"] == 1
    assert _grade_fingerprints(queries) == 2
    assert w.hs_grades().get(student=b).percent == Decimal("71.00")
    # and: the next night, with nothing new, is settled at the start without a fingerprint
    # (the input journal holds no change since the part stored its watermark)
    with CaptureQueriesContext(connection) as queries:
        run = exchange_run(as_of=AS_OF, trigger="test", inline=True)
    assert not run.parts.filter(attempts__gt=0).exists()
    assert _grade_fingerprints(queries) == 0
    assert run.counts["grades"]["unchanged"] == 2


def test_r22_a_change_to_some_students_decides_only_them(monkeypatch):
    # given: a settled school of six students, one skipped (no active final term)
    w = build_kts_world()
    students = w.add_students(6)
    a, b, c, d, e, f = students
    (g,) = w.add_students(1)  # rostered, with no tech grade
    q2 = w.hs_terms[1]
    s1 = w.tech_terms[0]
    for student, percent in zip(students, ("88", "91.5", "59.99", "70", "81", "65"), strict=True):
        w.post_tech_grade(student, percent, term=s1)
    w.post_tech_grade(a, "90", term=s1, code=CTE_FINAL)
    decided = []  # the students each part's grade flow decides (None: all)
    real = grades_flow._Mark.changed_students

    def spy(mark):
        students = real(mark)
        if mark.on:  # a part's run, not the dry runs deciding afresh
            decided.append(students)
        return students

    monkeypatch.setattr(grades_flow._Mark, "changed_students", spy)
    reads = _Reads(monkeypatch, settle_at_start=True)
    _step(w, reads)
    assert decided == [None]  # the first run decides everyone

    def decides_only(change, *expected):
        decided.clear()
        change()
        settled = _step(w, reads)  # exactly what deciding everyone afresh finds
        assert decided == [sorted(s.pk for s in expected)]
        return settled

    # when/then: each change to one student's rows decides that student alone
    decides_only(lambda: w.post_tech_grade(b, "72", term=s1), b)  # a tech percent
    decides_only(  # a tech grade removed
        lambda: Grade.objects.filter(section=w.tech_section, student=c).delete(), c
    )
    decides_only(  # a HS grade edited by hand is set back
        lambda: w.hs_grades().filter(student=d).update(percent=Decimal("12.00")), d
    )
    decides_only(  # a HS roster removed: not rostered from now on
        lambda: Roster.objects.filter(section=w.hs_section, student=e).delete(), e
    )
    settled = decides_only(  # the skipped grade's student changes too: its skip is kept
        lambda: (w.post_tech_grade(a, "91", term=s1), w.post_tech_grade(f, "66", term=s1)),
        a,
        f,
    )
    assert Counter(o[3] for o in settled[Flow.GRADES][1].elements()) == {
        str(a.pk): 1,  # the final grade: no active final term
        str(e.pk): 1,  # not rostered
    }
    # and: the rosters of a student with no tech grade decide nothing: no student is decided
    decides_only(
        lambda: Roster.objects.filter(section=w.hs_section, student=g).update(
            start_date=w.hs_section.course.calendar.start_date + dt.timedelta(days=3)
        )
    )
    # and: a change every student depends on (the HS active term) decides everyone
    decided.clear()
    w.activate(w.hs_tasks[CTE_TERM], q2)
    _step(w, reads)
    assert decided == [None]
