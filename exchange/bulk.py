"""Bulk writes of the exchange and the imports, fast on PostgreSQL.

On PostgreSQL rows go through ``COPY`` (psycopg 3), the fastest path the server has; other
databases use Django's ``bulk_create`` in batches of ``settings.EXCHANGE_BATCH_SIZE``. Both
paths write the same rows. Callers give model instances (:func:`insert`) or - where tens of
thousands of rows make building instances the bigger cost - plain tuples (:func:`copy_rows`).
The grade flow's upsert with its history is one statement of its own
(``exchange.flows.grades``).
"""

from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Model


def _use_copy() -> bool:
    return connection.vendor == "postgresql"


def _columns(model: type[Model]) -> dict[str, str]:
    """Attribute name -> column of the concrete local fields except the auto primary key (a
    concrete field is one with a column)."""
    return {
        f.attname: f.column for f in model._meta.concrete_fields if not f.primary_key and f.column
    }


def _row(obj: Model, attnames: Iterable[str]) -> tuple[Any, ...]:
    # Callers set timestamps themselves: COPY runs no pre_save().
    return tuple(getattr(obj, name) for name in attnames)


def insert(objs: Sequence[Model]) -> None:
    """Insert ``objs`` (all of one model); primary keys are not read back."""
    if not objs:
        return
    model = type(objs[0])
    if not _use_copy():
        model._default_manager.bulk_create(objs, batch_size=settings.EXCHANGE_BATCH_SIZE)
        return
    fields = _columns(model)
    cols = ", ".join(connection.ops.quote_name(column) for column in fields.values())
    with connection.cursor() as cursor:
        with cursor.cursor.copy(
            f"COPY {connection.ops.quote_name(model._meta.db_table)} ({cols}) FROM STDIN"
        ) as copy:
            for obj in objs:
                copy.write_row(_row(obj, fields))


def copy_rows(model: type[Model], fields: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
    """Insert ``rows`` - tuples in the order of ``fields`` (attribute names, e.g. ``run_id``)
    - into ``model``'s table without building a model instance per row. The fields must
    cover every column that has no database default; primary keys are not read back."""
    meta = model._meta
    column_of = {f.attname: str(f.column) for f in meta.concrete_fields}  # (never None here)
    columns = [column_of[f] for f in fields]
    if not _use_copy():
        rows = list(rows)
        if rows:
            model._default_manager.bulk_create(
                [model(**dict(zip(fields, row, strict=True))) for row in rows],
                batch_size=settings.EXCHANGE_BATCH_SIZE,
            )
        return
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        with cursor.cursor.copy(
            f"COPY {q(meta.db_table)} ({', '.join(q(c) for c in columns)}) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)


def analyze_written(written: dict[type[Model], int], *, share: float) -> None:
    """:func:`analyze` the tables of ``written`` (model -> rows written) that took at least
    ``share`` of the rows PostgreSQL last counted in them (``pg_class.reltuples``; a table
    never counted is always analyzed). A night that changed a few percent of a large table
    leaves it to autovacuum, which analyzes once the changes add up."""
    if not _use_copy():
        return
    written = {m: n for m, n in written.items() if n}
    if not written or share <= 0:
        analyze(written)
        return
    tables = {m._meta.db_table: m for m in written}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples FROM pg_class WHERE relkind = 'r' AND relname = ANY(%s)"
            " AND relnamespace = to_regnamespace(current_schema())::oid",
            [list(tables)],
        )
        counted = dict(cursor.fetchall())
    analyze(
        m
        for table, m in tables.items()
        if counted.get(table, -1) < 0 or written[m] >= share * counted[table]
    )


def analyze(models: Iterable[type[Model]]) -> None:
    """Refresh PostgreSQL's planner statistics of ``models``' tables after a bulk load, so
    the next reads are not planned on the tables' old shape while autovacuum has not come
    round yet (stale statistics made the reports several times slower). One ``ANALYZE``
    statement; nothing on other databases or when no table is given."""
    if not _use_copy():
        return
    tables = sorted({connection.ops.quote_name(m._meta.db_table) for m in models})
    if tables:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {', '.join(tables)}")
