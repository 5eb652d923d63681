"""Plain SQL for the reads every API request makes (issue 13): the query texts are built
from the models' own tables and columns once per process, and the rows are turned into
model instances with the same conversions the ORM applies (e.g. SQLite's dates), so the
objects are those the ORM would give - without its query building on every request."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
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
    out = []
    for field in _fields(model):
        expression = field.get_col(model._meta.db_table)
        found = connection.ops.get_db_converters(expression) + expression.get_db_converters(
            connection
        )
        out.append([(convert, expression) for convert in found])
    return out
