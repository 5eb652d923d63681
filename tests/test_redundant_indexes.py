"""The tables every night writes carry no index that another one already covers: a plain
index whose columns lead another index (or a unique constraint) only costs each insert and
update its upkeep. PostgreSQL only (its catalog says which columns each index holds)."""

import pytest
from django.db import connection

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="reads PostgreSQL's index catalog"
)

WRITTEN_NIGHTLY = (
    "grading_grade",
    "grading_gradehistory",
    "schools_roster",
    "attendance_attendance",
)


def _indexes(table: str) -> list[tuple[str, tuple[int, ...], bool, bool]]:
    """(name, key columns, plain, unique) of each index of ``table``: a partial or an
    expression index is not plain; it covers nothing and is never counted as redundant,
    nor is a unique one (it enforces a constraint)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, i.indkey::int2[]::int[], i.indnkeyatts,
                   i.indpred IS NULL AND i.indexprs IS NULL, i.indisunique
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = %s::regclass
            """,
            [table],
        )
        # indkey lists the INCLUDE columns after the key ones: only the keys order an index.
        return [
            (name, tuple(keys[:n_keys]), plain, unique)
            for name, keys, n_keys, plain, unique in cursor.fetchall()
        ]


@pytest.mark.django_db
@pytest.mark.parametrize("table", WRITTEN_NIGHTLY)
def test_r19_no_index_of_a_nightly_table_is_covered_by_another(table):
    indexes = _indexes(table)
    redundant = [
        (name, other)
        for name, keys, plain, unique in indexes
        if plain and not unique
        for other, other_keys, other_plain, _ in indexes
        if other != name
        and other_plain
        and other_keys[: len(keys)] == keys
        and (len(other_keys) > len(keys) or other < name)
    ]
    assert redundant == []
