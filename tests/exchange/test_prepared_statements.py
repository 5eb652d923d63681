"""The exchange part's many-joined reads are planned once per database session: prepared
statements (``schools.access.sql.fetch_all(..., prepare=True)``, PostgreSQL)."""

import datetime as dt
import itertools

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from exchange.services import exchange_run
from schools.access import sql
from tests.world import AS_OF, build_kts_world


def postgres(test):
    """A test of what PostgreSQL prepares (elsewhere nothing is)."""
    skip = pytest.mark.skipif(
        connection.vendor != "postgresql", reason="prepared on PostgreSQL only"
    )
    return pytest.mark.postgres(skip(test))


_unique = itertools.count()


def _statement() -> str:
    """A statement no earlier test prepared in this session (its text names it)."""
    return (
        f"SELECT %(n)s::int + %(m)s::int, %(n)s::int * 2, 'a%%b', %(day)s::date,"
        f" cardinality(%(ids)s::bigint[]) /* {next(_unique)} */"
    )


def _sent(queries) -> list[str]:
    return [q["sql"].split("(")[0].split()[0] for q in queries.captured_queries]


def _params(n: int) -> dict:
    return {"n": n, "m": 1, "day": dt.date(2026, 9, 15), "ids": [1, 2, 3]}


def test_placeholders_become_numbered_parameters_each_name_one_number():
    _, named, order = sql._numbered("SELECT %(a)s, %(b)s, %(a)s, '5%%'")
    assert named == "SELECT $1, $2, $1, '5%'" and order == ("a", "b")
    name, listed, order = sql._numbered("SELECT %s + %s")
    assert listed == "SELECT $1 + $2" and len(order) == 2
    assert name.startswith("kts_") and sql._numbered("SELECT %s + %s")[0] == name


@postgres
def test_a_prepared_read_is_planned_once_per_session_and_answers_as_the_plain_one(db):
    statement = _statement()
    plain = sql.fetch_all(statement, _params(4))
    with CaptureQueriesContext(connection) as first:
        assert sql.fetch_all(statement, _params(4), prepare=True) == plain
    with CaptureQueriesContext(connection) as second:
        again = sql.fetch_all(statement, _params(5), prepare=True)
    assert plain == [(5, 8, "a%b", dt.date(2026, 9, 15), 3)]
    assert again == [(6, 10, "a%b", dt.date(2026, 9, 15), 3)]
    assert _sent(first) == ["PREPARE", "EXECUTE"] and _sent(second) == ["EXECUTE"]
    assert sql.executed(second.captured_queries[0]["sql"]) == statement
    assert sql.executed(first.captured_queries[0]["sql"]) == ""  # planned, not run


@postgres
def test_a_statement_prepared_in_a_rolled_back_transaction_stays_prepared(db):
    statement = _statement()
    with pytest.raises(RuntimeError), transaction.atomic():
        sql.fetch_all(statement, _params(1), prepare=True)
        raise RuntimeError("the part fails after its read")
    with CaptureQueriesContext(connection) as queries:
        assert sql.fetch_all(statement, _params(2), prepare=True)[0][0] == 3
    assert _sent(queries) == ["EXECUTE"]


@postgres
def test_a_new_database_session_prepares_again(transactional_db):
    statement = _statement()
    sql.fetch_all(statement, _params(1), prepare=True)
    connection.close()  # e.g. CONN_MAX_AGE passed, or the connection was lost
    with CaptureQueriesContext(connection) as queries:
        assert sql.fetch_all(statement, _params(2), prepare=True)[0][0] == 3
    assert _sent(queries) == ["PREPARE", "EXECUTE"]


@postgres
def test_prepared_statements_can_be_turned_off(db, settings):
    settings.EXCHANGE_PREPARED_STATEMENTS = False
    statement = _statement()
    with CaptureQueriesContext(connection) as queries:
        assert sql.fetch_all(statement, _params(1), prepare=True)[0][0] == 2
    assert _sent(queries) == ["SELECT"]


@postgres
def test_r29_a_later_run_in_the_same_session_plans_none_of_its_parts_prepared_reads(
    transactional_db,
):
    # given: a linked pair whose tech grade was posted, crossed, changed and crossed again
    # (every read of a part, with and without a stored watermark, prepared on the way)
    w = build_kts_world()
    (student,) = w.add_students(1)
    term = w.tech_terms[0]
    for percent in ("80", "85"):
        w.post_tech_grade(student, percent, term=term)
        assert exchange_run(as_of=AS_OF, trigger="test", inline=True).status == "succeeded"
    # when: the grade changes again and the exchange runs on the same connection
    w.post_tech_grade(student, "91", term=term)
    with CaptureQueriesContext(connection) as queries:
        run = exchange_run(as_of=AS_OF, trigger="test", inline=True)
    # then: the change crossed, and the part ran its prepared reads without planning them
    assert run.status == "succeeded" and run.counts["grades"]["updated"] == 1
    sent = _sent(queries)
    assert "EXECUTE" in sent and "PREPARE" not in sent
    ran = [sql.executed(q["sql"]) for q in queries.captured_queries]
    assert any("'tech grade'" in text for text in ran)  # the grade inputs' fingerprint
