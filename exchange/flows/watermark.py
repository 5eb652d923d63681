"""R22: an exact watermark for the flows whose result depends only on the rows they read.

A flow's inputs for one tech school are a set of rows. On PostgreSQL each row version has an
``xmin`` (the transaction that wrote it), so the set of (table, id, ``xmin``) names the
inputs' exact contents: any edit, insert or delete changes it. A fingerprint of that set is
stored with what the flow found; a later run that computes the same fingerprint would read
exactly the same rows and decide exactly the same, so it replays the stored outcomes and
counts instead of reading and deciding again. Anything else runs the flow in full.

For this to be exact the flow's reads, its writes and the fingerprint taken after them must
see one snapshot: the part's transaction runs at REPEATABLE READ on PostgreSQL (see
``exchange.services``), so a change committed by someone else meanwhile is not in the
stored fingerprint, and the next run sees it. Other databases have no ``xmin``: there the
flows always run in full.
"""

import datetime as dt
import functools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

from django.conf import settings
from django.db import connection
from django.utils import timezone

from exchange.flows import FlowResult, journal
from exchange.models import FlowWatermark
from schools.access import sql

# Bumped whenever a flow's decision changes, so no fingerprint taken by older code matches.
VERSION = "1"


_single_snapshot: ContextVar[bool] = ContextVar("exchange_single_snapshot", default=False)


@contextmanager
def part_snapshot() -> Iterator[bool]:
    """First thing in a part's transaction: make it REPEATABLE READ, and turn the watermark
    on for the flows run inside. Only on PostgreSQL, with ``EXCHANGE_WATERMARK`` on, and in
    a transaction of its own (a part run inside someone else's transaction cannot choose
    its snapshot: there every flow runs in full)."""
    on = (
        connection.vendor == "postgresql"
        and settings.EXCHANGE_WATERMARK
        and len(connection.atomic_blocks) == 1
    )
    if on:
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    token = _single_snapshot.set(on)
    try:
        yield on
    finally:
        _single_snapshot.reset(token)


def enabled() -> bool:
    """Is the watermark in use for the flow running now (see :func:`part_snapshot`)?"""
    return _single_snapshot.get()


def row_hash(tag: str, id_: str, x: str) -> str:
    """The SQL of one row's hash as a fingerprint sums it: of its table's tag, its id and its
    ``xmin`` (``tag`` an SQL text expression, ``id_`` and ``x`` SQL expressions). A flow
    that reads or writes the rows itself can answer their hashes in the same statement."""
    return f"hashtextextended({tag} || ':' || {id_} || ':' || {x}::text, 0)"


def fingerprint(rows_sql: str, params: dict[str, Any]) -> str:
    """The fingerprint of the rows ``rows_sql`` selects as ``(t, id, x)``: a tag per table,
    the row's id and its ``xmin``. Order-free: a count and a sum of 64-bit hashes."""
    ((count, total),) = sql.fetch_all(
        f"""
        SELECT count(*), coalesce(sum({row_hash("t", "id", "x")}), 0)
        FROM ({rows_sql}) AS inputs
        """,
        params,
        prepare=True,  # a part's planning of its inputs' query cost about 1 ms
    )
    return f"{VERSION}:{count}:{total}"


def load_all(*, school_year: int, schools: list[int]) -> dict[tuple[int, str], FlowWatermark]:
    """Every stored watermark of these schools in the year, by (school, flow), without the
    grade fingerprints' parts by student (only a part of the school's own reads them)."""
    return {
        (mark.tech_school_id, mark.flow): mark
        for mark in FlowWatermark.objects.filter(
            school_year=school_year, tech_school_id__in=schools
        ).defer("by_student")
    }


class Fingerprints(Protocol):
    def __call__(self, *, school_year: int, schools: list[int]) -> dict[int, str]: ...


class FlowMark:
    """A flow's watermark for one tech school, as the flow uses it: replay what the stored
    one found if it holds, or store what the flow found (R22). A flow's subclass names its
    ``flow`` and the ``fingerprints`` of its inputs (:mod:`exchange.flows.inputs`)."""

    flow: str
    fingerprints: Fingerprints

    def __init__(self, *, tech_school_id: int, school_year: int) -> None:
        self.tech_school_id = tech_school_id
        self.school_year = school_year
        self.on = enabled()
        self.print_ = ""  # the fingerprint of the state read, once taken
        self.stored: FlowWatermark | None = None  # the stored watermark, once read

    def replay(self, *, as_of: dt.date) -> FlowResult | None:
        """What the stored watermark found, if it holds now on ``as_of``."""
        mark = self.holding(as_of=as_of)
        if mark is None:
            return None
        return FlowResult(self.flow, mark.outcomes, mark.unchanged)

    def fingerprint(self) -> str:
        school = self.tech_school_id
        return self.fingerprints(school_year=self.school_year, schools=[school])[school]

    def holding(self, *, as_of: dt.date) -> FlowWatermark | None:
        """The stored watermark, if the rows read now are the ones it was stored for and
        what it found holds on ``as_of``. Takes the fingerprint only if there is one and the
        input journal cannot tell that no input changed since it was stored."""
        mark = read(self.tech_school_id, self.flow, self.school_year) if self.on else None
        if mark is None:
            return None
        self.stored = mark
        if (
            journal.unchanged(school_year=self.school_year, schools=[self.tech_school_id]).get(
                (self.tech_school_id, self.flow)
            )
            == mark.fingerprint
        ):
            self.print_ = mark.fingerprint  # the same rows: the same fingerprint
        else:
            self.print_ = self.take_fingerprint()
        return mark if holds(mark, print_=self.print_, as_of=as_of) else None

    def take_fingerprint(self) -> str:
        """The fingerprint of the rows read now (a flow may keep more of it as it goes)."""
        return self.fingerprint()

    def store(
        self,
        *,
        print_: str,
        as_of: dt.date,
        run_id: int,
        unchanged: int,
        outcomes: list[dict[str, Any]],
        by_student: dict[str, Any] | None = None,
    ) -> None:
        # One upsert on (school, flow, year), not a locked read and a write.
        with connection.cursor() as cursor:
            cursor.execute(
                _mark_sql()["store"],
                {
                    "school": self.tech_school_id,
                    "flow": self.flow,
                    "year": self.school_year,
                    "fingerprint": print_,
                    "as_of": as_of,
                    "run": run_id,
                    "unchanged": unchanged,
                    "outcomes": _json(outcomes),
                    "by_student": _json(by_student or {}),
                    "now": timezone.now(),  # as auto_now: the clock grade saves use
                },
            )


# A part reads and stores each flow's watermark once per run: plain SQL built once from the
# model's table and columns (schools.access.sql), instead of the ORM compiling the same
# query every time, and the JSON sent as compact text. PostgreSQL only, as the watermark.
@functools.cache
def _mark_sql() -> dict[str, str]:
    table = sql.quoted_table(FlowWatermark)

    def col(name: str) -> str:
        return sql.quoted_column(FlowWatermark, name)

    key = (col("tech_school"), col("flow"), col("school_year"))
    values = {
        "fingerprint": "%(fingerprint)s",
        "as_of": "%(as_of)s",
        "run": "%(run)s",
        "unchanged": "%(unchanged)s",
        "outcomes": "%(outcomes)s::jsonb",
        "by_student": "%(by_student)s::jsonb",
        "updated_at": "%(now)s",
        # the snapshot the fingerprint was read in (the part's, at REPEATABLE READ) and the
        # transaction storing it: what the input journal checks it against
        "snapshot": "pg_current_snapshot()::text",
        "xact": "pg_current_xact_id()::text::bigint",
    }
    return {
        "read": (
            f"SELECT {sql.columns(FlowWatermark, 'm')} FROM {table} m WHERE m.{key[0]} ="
            f" %(school)s AND m.{key[1]} = %(flow)s AND m.{key[2]} = %(year)s"
        ),
        "store": (
            f"INSERT INTO {table} ({', '.join(key)}, {', '.join(col(n) for n in values)})"
            f" VALUES (%(school)s, %(flow)s, %(year)s, {', '.join(values.values())})"
            f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
            + ", ".join(f"{col(n)} = EXCLUDED.{col(n)}" for n in values)
        ),
    }


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def forget_all() -> int:
    """Delete every stored watermark: the next run reads and decides every record (and
    stores new ones). Answers how many were deleted."""
    deleted, _ = FlowWatermark.objects.all().delete()
    return deleted


def read(tech_school_id: int, flow: str, school_year: int) -> FlowWatermark | None:
    """The stored watermark of one school's flow in the year, if any."""
    with connection.cursor() as cursor:
        cursor.execute(
            _mark_sql()["read"], {"school": tech_school_id, "flow": flow, "year": school_year}
        )
        row = cursor.fetchone()
    return None if row is None else sql.from_row(FlowWatermark, row)


def holds(mark: FlowWatermark, *, print_: str, as_of: dt.date) -> bool:
    """Does the stored ``mark`` say what the flow finds on the rows ``print_`` names, on
    ``as_of``?"""
    return mark.fingerprint == print_ and as_of >= mark.as_of


Parts = dict[int | None, tuple[int, int]]  # a fingerprint's parts: key -> (count, sum)


def fingerprint_parts(rows_sql: str, params: dict[str, Any]) -> Parts:
    """:func:`fingerprint` taken apart by the rows' ``s`` column (a student, or ``None``):
    each part's count and sum of hashes. :func:`total` adds them up to the fingerprint."""
    rows = sql.fetch_all(
        f"""
        SELECT s, count(*), sum({row_hash("t", "id", "x")})
        FROM ({rows_sql}) AS inputs GROUP BY s
        """,
        params,
        prepare=True,
    )
    return {s: (count, int(total)) for s, count, total in rows}


def total(parts: Parts) -> str:
    """The fingerprint whose parts these are (what :func:`fingerprint` answers)."""
    return (
        f"{VERSION}:{sum(count for count, _ in parts.values())}:"
        f"{sum(total for _, total in parts.values())}"
    )
