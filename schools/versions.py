"""Data versions: exact invalidation of cached reports (issue 13).

A report computed from the database (the honor roll of a school and term, the grading
scales of a report card) may be cached under the *versions* of the data it reads. Every
write of that data changes a version **in the same transaction**, so a reader that takes the
versions first and then the data can only ever store an answer under versions at least as
old as the data it read, and it never finds a cached answer older than what it would read
itself (stale answers are impossible, not merely unlikely to last).

Two kinds of key:

- ``grades:<school id>:<writer>`` - the grades of one school. Every grade write calls
  ``bump_grades(school_ids=..., writer=...)``: the grade services (a post, a bulk post;
  writer ``post``) and the exchange's grade flow (writer ``x<tech school id>``: each part
  of a run has its own key, so parts running side by side never wait for each other's
  lock on a high school's key). A school's grades version is all of its keys together.
- ``setup`` - everything else a report reads (terms, courses, sections, rosters, students,
  score groups, course tasks, tiers...). ``model_save``, ``record_save`` and
  ``record_delete`` bump it for a model registered with ``register_inputs`` (each app
  registers its own models from ``AppConfig.ready()``); set-based writers of such models
  (the OneRoster import, the course-task mask, a score group's rows, a grading window)
  call ``bump_setup()`` themselves. Setup writes are rare; one version for all schools
  keeps them simple and exact.

A version is a random 63-bit number, not a counter: a rolled-back transaction (every test)
or a database restored from a backup cannot bring back a number an older cache entry was
stored under.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Iterable

from django.db import connection, models

SETUP = "setup"

_INPUTS: set[type[models.Model]] = set()


def register_inputs(*input_models: type[models.Model]) -> None:
    """Declare models whose rows cached reports read: saving or deleting one through the
    one write path (``model_save``, ``record_save``, ``record_delete``) bumps ``setup``."""
    _INPUTS.update(input_models)


def is_input(model: type[models.Model]) -> bool:
    return model in _INPUTS


def _write(keys: Iterable[tuple[str, int | None]], *, replace: bool) -> None:
    """Give each (key, school id) a new random version (``replace``) or insert it when
    missing; one statement."""
    from schools.models import DataVersion

    # Sorted: two transactions bumping the same keys lock them in the same order.
    rows = [(key, school, secrets.randbits(63)) for key, school in sorted(set(keys))]
    if not rows:
        return
    table = connection.ops.quote_name(DataVersion._meta.db_table)
    values = ", ".join(["(%s, %s, %s)"] * len(rows))
    conflict = "DO UPDATE SET version = excluded.version" if replace else "DO NOTHING"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (key, school_id, version) VALUES {values} "
            f"ON CONFLICT (key) {conflict}",
            [v for row in rows for v in row],
        )


def bump_setup() -> None:
    """A report input other than grades changed (call inside the writing transaction)."""
    _write([(SETUP, None)], replace=True)


def bump_grades(*, school_ids: Iterable[int], writer: str = "post") -> None:
    """Grades of these schools changed (call inside the writing transaction). ``writer``
    names the kind of writer (``post``; ``x<tech school id>`` for an exchange part)."""
    _write(((f"grades:{int(s)}:{writer}", int(s)) for s in school_ids), replace=True)


def bump_for(model: type[models.Model]) -> None:
    """``bump_setup()`` when ``model`` is a registered report input."""
    if model in _INPUTS:
        bump_setup()


def current(*, school_id: int) -> tuple[tuple[str, int], ...]:
    """The versions a cached report of ``school_id`` is stored under: ``setup`` and every
    grades key of the school, in one query. ``setup`` is given a random version first
    when it was never bumped, so that data written before any bump (a fresh database, a
    rolled-back test) never shares a version with other data."""
    return _with_setup("%s", [int(school_id)])


def current_of_section(*, section_id: int) -> tuple[tuple[str, int], ...]:
    """``current`` of the school of section ``section_id`` (``setup`` alone when there is
    no such section), in one query."""
    return _with_setup(_section_school(), [int(section_id)])


@functools.cache  # a query text; the models and the database do not change
def _section_school() -> str:
    from schools.access.sql import quoted_column as col
    from schools.access.sql import quoted_table as table
    from schools.models import Calendar, Course, Section

    return (
        f"(SELECT c.{col(Calendar, 'school')} FROM {table(Section)} s"
        f" JOIN {table(Course)} co ON co.{col(Course)} = s.{col(Section, 'course')}"
        f" JOIN {table(Calendar)} c ON c.{col(Calendar)} = co.{col(Course, 'calendar')}"
        f" WHERE s.{col(Section)} = %s)"
    )


def _with_setup(school: str, params: list[int]) -> tuple[tuple[str, int], ...]:
    """The versions of ``setup`` and of the school that the SQL expression ``school``
    names. Plain SQL: it runs on every cached request (the ORM's query building cost
    more than the query)."""
    from schools.models import DataVersion

    table = connection.ops.quote_name(DataVersion._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT key, version FROM {table} WHERE key = %s OR school_id = {school} ORDER BY key",
            [SETUP, *params],
        )
        found = tuple((key, version) for key, version in cursor.fetchall())
    if any(key == SETUP for key, _ in found):
        return found
    with connection.cursor() as cursor:
        # Whoever inserts first wins; the statement answers the stored version either way.
        cursor.execute(
            f"INSERT INTO {table} (key, school_id, version) VALUES (%s, NULL, %s) "
            f"ON CONFLICT (key) DO UPDATE SET version = {table}.version RETURNING version",
            [SETUP, secrets.randbits(63)],
        )
        (setup,) = cursor.fetchone()
    return tuple(sorted([*found, (SETUP, setup)]))
