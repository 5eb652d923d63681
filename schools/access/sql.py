"""Plain SQL for the reads every API request makes (issue 13): the query texts are built
from the models' own tables and columns once per process, and the rows are turned into
model instances with the same conversions the ORM applies (e.g. SQLite's dates), so the
objects are those the ORM would give - without its query building on every request."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from django.conf import settings
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


def fetch_all(
    statement: str, params: Sequence[Any] | dict[str, Any], *, prepare: bool = False
) -> list[tuple[Any, ...]]:
    """The rows of a plain SQL statement, as the driver returns them.

    ``prepare``: on PostgreSQL the statement is planned once per database session - a named
    prepared statement (``PREPARE``), then ``EXECUTE``d with each call's parameters - for the
    many-joined reads an exchange part makes once per tech school, whose planning cost up to
    0.9 ms each, about as much as running them. PostgreSQL goes on planning each call with
    its own values while it estimates that a plan for any values (its generic plan) would
    cost more. Not for a statement whose best plan depends on the length of an array it is
    given (e.g. the grade write): a generic plan assumes a short one.
    ``EXCHANGE_PREPARED_STATEMENTS=0`` turns this off (e.g. behind a pooler that hands each
    transaction a different session)."""
    if prepare and connection.vendor == "postgresql" and settings.EXCHANGE_PREPARED_STATEMENTS:
        statement, params = _prepared(statement, params)
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows


# The statements prepared in each database session: by the driver's connection object, which
# lives exactly as long as its session (a reconnect makes a new one, with none prepared).
# PREPARE is not undone by a rollback: a statement prepared in a transaction that failed
# later stays prepared.
_prepared_in: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def _prepared(statement: str, params: Sequence[Any] | dict[str, Any]) -> tuple[str, list[Any]]:
    """The ``EXECUTE`` of ``statement`` with ``params``, prepared first if this session has
    not prepared it yet."""
    name, numbered, order = _numbered(statement)
    connection.ensure_connection()
    done = _prepared_in.setdefault(connection.connection, set())
    if name not in done:
        with connection.cursor() as cursor:
            cursor.execute(f"PREPARE {name} AS {numbered}")  # no parameters: sent as is
        done.add(name)
    if isinstance(params, dict):
        values = [params[key] for key in order]
    else:
        values = list(params)
        if len(values) != len(order):
            raise ValueError(f"{len(order)} parameters expected, {len(values)} given")
    if not values:
        return f"EXECUTE {name}", values
    return f"EXECUTE {name}({', '.join(['%s'] * len(values))})", values


# Each statement prepared here by its name (see :func:`executed`).
_statements: dict[str, str] = {}


def executed(text: str) -> str:
    """The statement a text sent to the database runs: for an ``EXECUTE`` of a statement
    prepared by :func:`fetch_all`, that statement's own text; for its ``PREPARE``, which only
    plans it, none (""); any other text as it is (for the tests and logs that look for a
    statement by its text)."""
    match = re.match(r"(EXECUTE|PREPARE) (kts_[0-9a-f]{16})\b", text)
    if match is None:
        return text
    return _statements.get(match.group(2), text) if match.group(1) == "EXECUTE" else ""


_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")


@functools.lru_cache(maxsize=64)
def _numbered(statement: str) -> tuple[str, str, tuple[str, ...]]:
    """A name for ``statement`` (from its text), its text with PostgreSQL's numbered
    parameters in place of the driver's placeholders (``%s`` or ``%(name)s``; ``%%`` is a
    percent sign), and the parameter names in number order (one per ``%s``, unnamed)."""
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        placeholder, key = match.group(0), match.group(1)
        if placeholder == "%%":
            return "%"
        if key is None:  # %s: the next parameter of a list
            order.append(f"#{len(order)}")
            return f"${len(order)}"
        if key not in order:  # %(key)s: the same number each time it is used
            order.append(key)
        return f"${order.index(key) + 1}"

    numbered = _PLACEHOLDER.sub(number, statement)
    name = "kts_" + hashlib.sha1(statement.encode()).hexdigest()[:16]
    _statements[name] = statement
    return name, numbered, tuple(order)
