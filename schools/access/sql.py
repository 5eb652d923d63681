"""Plain SQL for the reads every API request makes (issue 13): the query texts are built
from the models' own tables and columns once per process, and the rows are turned into
model instances with the same conversions the ORM applies (e.g. SQLite's dates), so the
objects are those the ORM would give - without its query building on every request."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model

M = TypeVar("M", bound=Model)


def quoted_column(model: type[Model], name: str | None = None) -> str:
    """The quoted column of ``model``'s field ``name`` (its primary key when None)."""
    field = model._meta.pk if name is None else model._meta.get_field(name)
    return connection.ops.quote_name(str(getattr(field, "column", "")))


def quoted_table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def columns(model: type[Model], alias: str) -> str:
    """``alias``'s columns of every concrete field of ``model``, in ``from_row``'s order."""
    return ", ".join(f"{alias}.{quoted_column(model, f.name)}" for f in _fields(model))


def width(model: type[Model]) -> int:
    return len(_fields(model))


def from_row(model: type[M], values: Sequence[Any]) -> M:
    """An instance of ``model`` from its ``columns`` in a row, values converted as the ORM
    converts them."""
    converted = []
    for value, converters in zip(values, _converters(model), strict=True):
        for convert, expression in converters:
            value = convert(value, expression, connection)
        converted.append(value)
    return model.from_db(connection.alias, [f.attname for f in _fields(model)], converted)


def _fields(model: type[Model]) -> list[Any]:
    return list(model._meta.concrete_fields)


@functools.cache
def _converters(model: type[Model]) -> list[list[tuple[Callable[..., Any], Any]]]:
    return [_field_converters(model, field) for field in _fields(model)]


def _field_converters(model: type[Model], field: Any) -> list[tuple[Callable[..., Any], Any]]:
    expression = field.get_col(model._meta.db_table)
    found = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
    return [(convert, expression) for convert in found]


def converter(model: type[Model], name: str) -> Callable[[Any], Any] | None:
    """The ORM's conversion of ``model.name`` as the database returns it in a plain row
    (e.g. SQLite's text dates and decimals), or None where it needs none (PostgreSQL)."""
    found = _field_converters(model, model._meta.get_field(name))
    if not found:
        return None

    def convert(value: Any) -> Any:
        for f, expression in found:
            value = f(value, expression, connection)
        return value

    return convert


def any_of(column: str, kind: str = "bigint", *, vendor: str | None = None) -> str:
    """``column`` is one of a list given as one parameter (:func:`list_param`), whatever
    its length: ``= ANY(array)`` on PostgreSQL, the array's type named (a list of small
    ids would otherwise come as ``smallint[]``, and a long one compared across types is
    searched row by row instead of hashed); a JSON list through ``json_each`` on SQLite."""
    if (vendor or connection.vendor) == "postgresql":
        return f"{column} = ANY(%s::{kind}[])"
    return f"{column} IN (SELECT value FROM json_each(%s))"


def list_param(values: Iterable[Any]) -> Any:
    """A list as one parameter for :func:`any_of`: an array on PostgreSQL, JSON elsewhere
    (dates as ISO text, as SQLite stores them)."""
    if connection.vendor == "postgresql":
        return list(values)
    return json.dumps([v.isoformat() if isinstance(v, dt.date) else v for v in values])


def fetch_all(statement: str, params: Sequence[Any] | dict[str, Any]) -> list[tuple[Any, ...]]:
    """The rows of a plain SQL statement, as the driver returns them."""
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows
