"""R22: the input journal - PostgreSQL triggers record which tech schools each statement on
the flows' input tables touched, so that a run replays a quiet school's watermark without
taking its fingerprint. (``test_watermark.py`` changes every input in turn and checks each
run records what deciding afresh finds: a change the journal missed would fail it.)"""

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from exchange.flows import journal
from exchange.models import ExchangeRun, Flow, FlowWatermark, InputChange, KtsLink
from exchange.services import exchange_run
from grading.models import CTE_TERM, Grade, ScoreRow
from schools.access import sql
from schools.models import Roster
from tests.world import AS_OF, build_kts_world

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the journal is PostgreSQL's"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _journaled(change):
    """The (school, grades only) rows the statements of ``change`` journal."""
    InputChange.objects.all().delete()
    change()
    return {(c.tech_school_id, c.grades_only) for c in InputChange.objects.all()}


def _fingerprints(queries) -> dict[str, int]:
    sqls = [sql.executed(q["sql"]) for q in queries.captured_queries]
    return {
        Flow.GRADES: sum("'tech grade'" in q for q in sqls),
        Flow.ENROLLMENTS: sum("'tech roster'" in q for q in sqls),
    }


def _run():
    run = exchange_run(as_of=AS_OF, trigger="test", inline=True)
    assert run.status == "succeeded", run.error
    return run


def test_r22_journal_names_the_tech_schools_a_statement_touched():
    # given: two linked pairs, and a HS section no tech section is linked to
    w = build_kts_world()
    other = build_kts_world()
    (a,) = w.add_students(1)
    tech = w.tech_school.pk
    s1 = w.tech_terms[0]
    # when/then: a tech grade journals its tech school, for the grade flow only
    assert _journaled(lambda: w.post_tech_grade(a, "80", term=s1)) == {(tech, True)}
    # a HS grade and a HS roster journal the tech school linked to their section
    hs_grade = Grade.objects.filter(section=w.hs_section)
    assert _journaled(lambda: _run()) >= {(tech, True)}  # the exchange's own HS grade
    assert _journaled(lambda: hs_grade.update(percent=Decimal("12.00"))) == {(tech, True)}
    hs_roster = Roster.objects.filter(section=w.hs_section, student=a)
    assert _journaled(lambda: hs_roster.update(end_date=AS_OF)) == {(tech, False)}
    # a statement touching nothing journals nothing
    assert _journaled(lambda: Roster.objects.filter(pk=-1).update(end_date=AS_OF)) == set()
    # set-up journals every school (None): a score row for the grade flow only, a link both
    group = w.hs_tasks[CTE_TERM].score_group
    assert _journaled(
        lambda: ScoreRow.objects.filter(group=group, score="C").update(score="C+")
    ) == {(None, True)}
    link = KtsLink.objects.filter(hs_section=other.hs_section)
    assert _journaled(lambda: link.delete()) == {(None, False)}
    # a roster of a HS section no longer linked to any tech section journals no school
    unlinked = Roster.objects.filter(section=other.hs_section)
    assert _journaled(lambda: unlinked.update(end_date=AS_OF)) == set()


def test_r22_a_quiet_school_replays_without_a_fingerprint_while_a_changed_one_is_read():
    # given: two tech schools, each settled by two runs
    w = build_kts_world()
    other = build_kts_world()
    (a,) = w.add_students(1)
    (b,) = other.add_students(1)
    w.post_tech_grade(a, "80", term=w.tech_terms[0])
    other.post_tech_grade(b, "70", term=other.tech_terms[0])
    _run()  # writes (tech rosters, HS grades): keeps the grade flow's watermark
    _run()  # finds nothing to do: keeps the enrollment flow's too
    # when: nothing changed
    with CaptureQueriesContext(connection) as queries:
        run = _run()
    # then: both are settled at the start from the journal alone
    assert _fingerprints(queries) == {Flow.GRADES: 0, Flow.ENROLLMENTS: 0}
    assert not run.parts.filter(attempts__gt=0).exists()
    assert run.counts["grades"]["unchanged"] == 2
    # when: one school's tech grade changes
    w.post_tech_grade(a, "81", term=w.tech_terms[0])
    with CaptureQueriesContext(connection) as queries:
        run = _run()
    # then: only its part runs; its grades are read by fingerprint, its enrollments (no
    # roster changed) replay from the journal; the other school is settled untouched
    assert list(run.parts.filter(attempts__gt=0).values_list("tech_school", flat=True)) == [
        w.tech_school.pk
    ]
    assert _fingerprints(queries) == {Flow.GRADES: 1, Flow.ENROLLMENTS: 0}
    assert run.counts["grades"]["updated"] == 1
    assert w.hs_grades().get(student=a).percent == Decimal("81.00")


def test_r22_a_watermark_stored_without_a_snapshot_is_fingerprinted():
    # given: a settled school whose watermarks were stored by older code (no snapshot)
    w = build_kts_world()
    (a,) = w.add_students(1)
    w.post_tech_grade(a, "80", term=w.tech_terms[0])
    _run()
    _run()
    FlowWatermark.objects.update(snapshot="", xact=None)
    # when
    with CaptureQueriesContext(connection) as queries:
        run = _run()
    # then: the fingerprints decide, as before the journal, and still settle it
    assert _fingerprints(queries) == {Flow.GRADES: 1, Flow.ENROLLMENTS: 1}
    assert not run.parts.filter(attempts__gt=0).exists()
    assert run.counts["grades"]["unchanged"] == 1


def test_r22_journal_prunes_only_old_rows_no_watermark_needs():
    # given: a settled school, then a change no watermark has seen yet
    w = build_kts_world()
    (a,) = w.add_students(1)
    w.post_tech_grade(a, "80", term=w.tech_terms[0])
    _run()
    seen = set(InputChange.objects.values_list("pk", flat=True))
    w.post_tech_grade(a, "81", term=w.tech_terms[0])
    unseen = set(InputChange.objects.values_list("pk", flat=True)) - seen
    assert seen and unseen
    # when: every row is older than two days, and the journal is pruned
    InputChange.objects.update(created_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    with transaction.atomic():
        pruned = journal.prune()
    # then: the rows the watermarks saw go; the one they did not see stays
    assert pruned == len(seen)
    assert set(InputChange.objects.values_list("pk", flat=True)) == unseen
    # and: recent rows stay whatever the watermarks saw
    InputChange.objects.update(created_at=dt.datetime.now(dt.UTC))
    _run()  # the watermarks now see everything
    with transaction.atomic():
        assert journal.prune() == 0
    assert InputChange.objects.exists()


def test_r22_journal_is_pruned_by_a_run_with_the_watermark_off(settings):
    # given: the watermark off (the triggers still journal), and old journal rows
    settings.EXCHANGE_WATERMARK = False
    w = build_kts_world()
    (a,) = w.add_students(1)
    w.post_tech_grade(a, "80", term=w.tech_terms[0])
    old = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    InputChange.objects.update(created_at=old)
    assert InputChange.objects.exists()
    # when
    _run()
    # then: the old rows went (no watermark needs them); the run's own are recent
    assert not InputChange.objects.filter(created_at=old).exists()
    assert not FlowWatermark.objects.exists()


def test_r22_run_exchange_full_forgets_the_watermarks_and_reads_everything():
    # given: a settled school (two watermarks stored, the next run would settle it)
    w = build_kts_world()
    (a,) = w.add_students(1)
    w.post_tech_grade(a, "80", term=w.tech_terms[0])
    _run()
    _run()
    assert FlowWatermark.objects.count() == 2
    # when: --full with --dry-run is refused, and forgets nothing
    with pytest.raises(CommandError, match="dry run writes nothing"):
        call_command("run_exchange", "--as-of", AS_OF.isoformat(), "--full", "--dry-run")
    assert FlowWatermark.objects.count() == 2
    # when: a full run from the command
    out = StringIO()
    with CaptureQueriesContext(connection) as queries:
        call_command("run_exchange", "--as-of", AS_OF.isoformat(), "--full", stdout=out)
    # then: the watermarks were forgotten, the school's part read its grades and decided
    # them afresh, and stored its watermarks again
    assert "Forgot 2 stored watermark(s)." in out.getvalue()
    run = ExchangeRun.objects.latest("pk")
    assert run.status == "succeeded" and run.parts.filter(attempts__gt=0).exists()
    assert run.counts["grades"]["unchanged"] == 1
    assert any(
        "grading_grade" in q["sql"] and "percent" in q["sql"] for q in queries.captured_queries
    )
    assert FlowWatermark.objects.filter(tech_school=w.tech_school).exists()
