"""Planner statistics after the exchange's bulk loads: one ANALYZE when a run finishes,
naming only the tables the run wrote (PostgreSQL only)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exchange.services import exchange_run
from tests.world import AS_OF


def _analyzes(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].startswith("ANALYZE")]


def _run(**kw):
    return exchange_run(as_of=AS_OF, trigger="test", inline=True, **kw)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="ANALYZE is PostgreSQL's")
def test_r19_run_analyzes_the_tables_it_loaded_once_when_it_finishes(world):
    # given a first run (rosters) and a tech grade for every student
    _run()
    for student in world.students:
        world.post_tech_grade(student, 91)
    # when the run that carries the grades finishes
    with CaptureQueriesContext(connection) as queries:
        run = _run()
    # then one ANALYZE ran, after the parts, on the grade tables and the outcomes only
    assert run.status == "succeeded"
    assert run.counts["grades"]["added"] == 3
    (analyze,) = _analyzes(queries)
    assert '"grading_grade"' in analyze
    assert '"grading_gradehistory"' in analyze
    assert '"exchange_exchangeoutcome"' in analyze
    assert '"schools_roster"' not in analyze  # the enrollment flow changed nothing
    assert '"attendance_attendance"' not in analyze


@pytest.mark.skipif(connection.vendor != "postgresql", reason="ANALYZE is PostgreSQL's")
def test_r19_dry_run_analyzes_nothing(world):
    # given a tech grade to carry
    _run()
    world.post_tech_grade(world.students[0], 91)
    # when a dry run finishes
    with CaptureQueriesContext(connection) as queries:
        run = _run(dry_run=True)
    # then it wrote no grade and refreshed no statistics
    assert run.status == "succeeded"
    assert not world.hs_grades().exists()
    assert _analyzes(queries) == []


def test_r19_no_analyze_off_postgresql(world, settings):
    # given any database but PostgreSQL (SQLite keeps no planner statistics to refresh)
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL analyzes")
    # when a run loads rosters
    with CaptureQueriesContext(connection) as queries:
        run = _run()
    # then it finished without an ANALYZE
    assert run.status == "succeeded"
    assert run.counts["enrollments"]["added"] == 3
    assert _analyzes(queries) == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="ANALYZE is PostgreSQL's")
def test_r19_quiet_run_analyzes_nothing(world):
    # given everything already carried
    _run()
    # when a run finds nothing to do
    with CaptureQueriesContext(connection) as queries:
        run = _run()
    # then it wrote nothing, outcomes included, and refreshed no statistics
    assert run.status == "succeeded"
    assert run.counts["enrollments"] == {**run.counts["enrollments"], "unchanged": 3, "added": 0}
    assert not run.outcomes.exists()
    assert _analyzes(queries) == []
