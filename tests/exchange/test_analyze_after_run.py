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


def _count_rows_now() -> None:
    """PostgreSQL's row counts (``reltuples``) as of now, as autovacuum would leave them:
    a run compares what it wrote with them."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE grading_grade, grading_gradehistory, exchange_exchangeoutcome")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="ANALYZE is PostgreSQL's")
def test_r19_run_analyzes_the_tables_it_loaded_once_when_it_finishes(world):
    # given a first run (rosters) and a tech grade for every student
    _run()
    for student in world.students:
        world.post_tech_grade(student, 91)
    _count_rows_now()
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


@pytest.mark.skipif(connection.vendor != "postgresql", reason="ANALYZE is PostgreSQL's")
def test_r19_run_leaves_a_table_it_changed_little_to_autovacuum(world, settings):
    # given the grades carried, counted by PostgreSQL, and one of the three tech grades changed
    settings.EXCHANGE_ANALYZE_SHARE = 0.5
    _run()
    for student in world.students:
        world.post_tech_grade(student, 91)
    _run()
    _count_rows_now()  # grading_grade: 3 tech + 3 HS grades; history: 3 rows
    world.post_tech_grade(world.students[0], 85)
    # when the run that updates that one HS grade finishes
    with CaptureQueriesContext(connection) as queries:
        run = _run()
    # then it refreshed no statistics of the grade tables: 1 row of 6 and 1 of 3 are less
    # than half of either
    assert run.counts["grades"]["updated"] == 1
    analyzes = _analyzes(queries)
    assert all('"grading_grade"' not in a for a in analyzes)
    assert all('"grading_gradehistory"' not in a for a in analyzes)
    # and a run that updates two of three history rows' grades (2 >= half of 3 + 1 new) does
    _count_rows_now()  # history: 4 rows
    world.post_tech_grade(world.students[1], 84)
    world.post_tech_grade(world.students[2], 83)
    with CaptureQueriesContext(connection) as queries:
        run = _run()
    assert run.counts["grades"]["updated"] == 2
    (analyze,) = _analyzes(queries)
    assert '"grading_gradehistory"' in analyze  # 2 rows written >= 0.5 * 4
    assert '"grading_grade"' not in analyze  # 2 rows written < 0.5 * 6
