"""R14, R19: the grade flow's writes - the HS grades it adds or updates, each with its
history row, in one batched upsert (see :mod:`exchange.flows.grades` for the reads and the
decision)."""

import datetime as dt
import functools
from decimal import Decimal
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import Exists, Model, OuterRef, Subquery
from django.utils import timezone

from exchange import bulk
from exchange.flows import watermark
from grading.models import (
    Grade,
    GradeHistory,
    GradeSource,
)
from grading.services.transcripts import transcript_lines_flag_changed

# The HS grades' table tag in the grade flow's fingerprint (R22, exchange.flows.inputs), as
# SQL: a write answers its rows' hashes under it.
HS_GRADE_TAG = "'hs grade'"
GRADE_FIELDS = ("percent", "score", "source", "run_id", "source_grade", "modified_at")
GRADE_COLUMNS_UPDATED = ("percent", "score", "source", "run_id", "source_grade_id", "modified_at")


class HsGrade(NamedTuple):
    """A HS grade already there (the target of a crossing)."""

    id: int
    percent: Decimal | None
    score: str
    # its row's hash in the watermark's fingerprint, read only when the watermark is on (R22)
    print_: int | None = None


class Write(NamedTuple):
    """A HS grade to add or update: its key, its new value, its source and what it was."""

    outcome: dict[str, Any]
    student_id: int
    section_id: int
    task_id: int
    term_id: int
    percent: Decimal | None
    score: str
    source_grade_id: int
    old: HsGrade | None


def write_grades(writes: list[Write], *, run_id: int) -> list[int]:
    """Upsert the HS grades on (student, section, task, term) with one history row each
    (R14), and set each write's outcome ``target_id`` to its HS grade. Answers the written
    rows' hashes in the watermark's fingerprint (R22; PostgreSQL only, none elsewhere), in
    the order of ``writes``."""
    now = timezone.now()
    # A correction reason matters where the HS grade changes, not where it first arrives:
    # the reason of a tech grade that updates some HS grade travels with each of its writes.
    with_reason = {w.source_grade_id for w in writes if w.old}
    prints: list[int] = []
    if connection.vendor == "postgresql":
        ids, prints, lined = _write_pg(writes, run_id=run_id, now=now, with_reason=with_reason)
    else:
        ids = _write_orm(writes, run_id=run_id, now=now, reasons=_latest_reasons(with_reason))
        lined = [w.old.id for w in writes if w.old]
    for w, grade_id in zip(writes, ids, strict=True):
        w.outcome["target_id"] = grade_id
    # R34: a posted transcript line whose final grade the exchange changed awaits review.
    # (PostgreSQL: only the changed grades the write found an unreviewed line for.)
    transcript_lines_flag_changed(grade_ids=lined)
    return prints


# PostgreSQL: the writes go as one array per column; one statement unnests them, upserts the
# grades, inserts their history (with each tech grade's latest correction reason, R16) and
# answers each row's grade id, its version and whether an unreviewed transcript line copies
# it (R34) - no model instance per row, no history row built in Python, no temporary table
# (whose create and drop per part churned the catalog).
# Values are typed only as plain numeric and text: the grade and history columns they go to
# round a percent and refuse a score too long, as they would the ORM's (a cast to
# varchar(20) would cut it short instead).
_INCOMING = (  # name -> array type, in the order of the unnested columns
    ("student_id", "bigint"),
    ("section_id", "bigint"),
    ("grading_task_id", "bigint"),
    ("term_id", "bigint"),
    ("percent", "numeric"),
    ("score", "text"),
    ("source_grade_id", "bigint"),
    ("had_old", "boolean"),
    ("old_percent", "numeric"),
    ("old_score", "text"),
    ("with_reason", "boolean"),
)
_KEY = "student_id, section_id, grading_task_id, term_id"
_GRADE_VALUES = {  # grading_grade column -> value
    "student_id": "n.student_id",
    "section_id": "n.section_id",
    "grading_task_id": "n.grading_task_id",
    "term_id": "n.term_id",
    "percent": "n.percent",
    "score": "n.score",
    "comments": "''",
    "source": "%(source)s",
    "posted_by_id": "NULL",
    "run_id": "%(run)s",
    "source_grade_id": "n.source_grade_id",
    "created_at": "%(now)s",
    "modified_at": "%(now)s",
}
_HISTORY_VALUES = {  # grading_gradehistory column -> value
    "grade_id": "up.id",
    "changed_at": "%(now)s",
    "changed_by_id": "NULL",
    "source": "%(source)s",
    "run_id": "%(run)s",
    "old_score": "n.old_score",
    "old_percent": "n.old_percent",
    "new_score": "n.score",
    "new_percent": "n.percent",
    "reason": "n.reason",
    "old_comments": "''",
    "new_comments": "''",
}
# R16: the reason of a tech grade's latest change, where it ever had one (the partial index
# on reasons answers the common "never": one probe per written row). A scalar subquery, not
# EXISTS: PostgreSQL may plan an EXISTS as one hashed pass over every history row with a
# reason in the state (and, with stale statistics, over the whole history table, which
# grows every night) instead of a probe per written row.
_REASON = """CASE WHEN u.with_reason AND (
                SELECT true FROM grading_gradehistory r
                WHERE r.grade_id = u.source_grade_id AND NOT r.reason = '' LIMIT 1
            ) THEN coalesce((
                SELECT h.reason FROM grading_gradehistory h WHERE h.grade_id = u.source_grade_id
                ORDER BY h.changed_at DESC, h.id DESC LIMIT 1
            ), '') ELSE '' END"""


def _columns_covered(model: type[Model], values: dict[str, str]) -> None:
    columns = {f.column for f in model._meta.concrete_fields if not f.primary_key}
    if columns != set(values):
        raise RuntimeError(f"{model.__name__}: the exchange's raw insert must name {columns}")


@functools.cache  # a query text; the models do not change
def _upsert_sql() -> str:
    _columns_covered(Grade, _GRADE_VALUES)
    _columns_covered(GradeHistory, _HISTORY_VALUES)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in GRADE_COLUMNS_UPDATED)
    arrays = ", ".join(f"%({name})s::{kind}[]" for name, kind in _INCOMING)
    names = ", ".join(name for name, _ in _INCOMING)
    return f"""
        WITH n AS MATERIALIZED (
            SELECT u.*, {_REASON} AS reason
            FROM unnest({arrays}) WITH ORDINALITY AS u({names}, i)
        ), up AS (
            INSERT INTO grading_grade ({", ".join(_GRADE_VALUES)})
            SELECT {", ".join(_GRADE_VALUES.values())} FROM n
            ON CONFLICT ({_KEY}) DO UPDATE SET {updates}
            RETURNING id, xmin, {_KEY}
        ), history AS (
            INSERT INTO grading_gradehistory ({", ".join(_HISTORY_VALUES)})
            SELECT {", ".join(_HISTORY_VALUES.values())}
            FROM up JOIN n USING ({_KEY})
        )
        SELECT n.i, up.id, {watermark.row_hash(HS_GRADE_TAG, "up.id", "up.xmin")},
            n.had_old AND EXISTS (
            SELECT 1 FROM grading_transcriptline t
            WHERE t.source_grade_id = up.id AND NOT t.needs_review
        )
        FROM up JOIN n USING ({_KEY})
        """


def _write_pg(
    writes: list[Write], *, run_id: int, now: dt.datetime, with_reason: set[int]
) -> tuple[list[int], list[int], list[int]]:
    """The upsert; answers the grade ids and hashes in the order of ``writes``, and the
    updated grades that an unreviewed transcript line copies."""
    sql = _upsert_sql()
    columns: dict[str, list[Any]] = {name: [] for name, _ in _INCOMING}
    for w in writes:
        old = w.old
        columns["student_id"].append(w.student_id)
        columns["section_id"].append(w.section_id)
        columns["grading_task_id"].append(w.task_id)
        columns["term_id"].append(w.term_id)
        columns["percent"].append(w.percent)
        columns["score"].append(w.score)
        columns["source_grade_id"].append(w.source_grade_id)
        columns["had_old"].append(old is not None)
        columns["old_percent"].append(old.percent if old else None)
        columns["old_score"].append(old.score if old else "")
        columns["with_reason"].append(w.source_grade_id in with_reason)
    params = {name: _array_literal(values) for name, values in columns.items()}
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, "source": GradeSource.EXCHANGE, "run": run_id, "now": now})
        written = {
            i: (grade_id, version, lined) for i, grade_id, version, lined in cursor.fetchall()
        }
    rows = [written[i] for i in range(1, len(writes) + 1)]  # ordinality counts from 1
    return (
        [grade_id for grade_id, _, _ in rows],
        [version for _, version, _ in rows],
        [grade_id for grade_id, _, lined in rows if lined],
    )


def _array_literal(values: list[Any]) -> str:
    """A column of ids, percents, flags or scores as PostgreSQL's array text, which the
    statement's ``::type[]`` casts read: a part's thousand values are joined in about a
    millisecond, where the driver quoting each element of a list takes ten times as long
    (for a full part's grades, longer than their upsert). None is NULL; a text element is
    double-quoted, its backslashes and double quotes escaped (PostgreSQL's array syntax)."""
    items = []
    for v in values:
        if v is None:
            items.append("NULL")
        elif isinstance(v, bool):
            items.append("t" if v else "f")
        elif isinstance(v, str):
            items.append('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"')
        else:  # an int or a Decimal prints as PostgreSQL reads it
            items.append(str(v))
    return "{" + ",".join(items) + "}"


def _write_orm(
    writes: list[Write], *, run_id: int, now: dt.datetime, reasons: dict[int, str]
) -> list[int]:
    """Other databases: the same rows through the ORM's bulk upsert."""
    grades = [
        Grade(
            student_id=w.student_id,
            section_id=w.section_id,
            grading_task_id=w.task_id,
            term_id=w.term_id,
            percent=w.percent,
            score=w.score,
            source=GradeSource.EXCHANGE,
            run_id=run_id,
            source_grade_id=w.source_grade_id,
            created_at=now,
            modified_at=now,
        )
        for w in writes
    ]
    Grade.objects.bulk_create(
        grades,
        batch_size=settings.EXCHANGE_BATCH_SIZE,
        update_conflicts=True,
        unique_fields=["student", "section", "grading_task", "term"],
        update_fields=list(GRADE_FIELDS),
    )
    ids = [
        g.pk if g.pk is not None else (w.old.id if w.old else None)
        for g, w in zip(grades, writes, strict=True)
    ]
    bulk.insert(
        [
            GradeHistory(
                grade_id=grade_id,
                changed_at=now,
                source=GradeSource.EXCHANGE,
                run_id=run_id,
                old_score=w.old.score if w.old else "",
                old_percent=w.old.percent if w.old else None,
                new_score=w.score,
                new_percent=w.percent,
                reason=reasons.get(w.source_grade_id, ""),
            )
            for w, grade_id in zip(writes, ids, strict=True)
        ]
    )
    return ids


def _latest_reasons(tech_grade_ids: set[int]) -> dict[int, str]:
    """R16: the correction reason of each tech grade's latest change travels with it to the
    HS history. Reasons are rare: one query reads the latest change of only the grades
    that ever had one (the partial index on reasons finds them)."""
    if not tech_grade_ids:
        return {}
    ever = GradeHistory.objects.filter(grade_id=OuterRef("pk")).exclude(reason="")
    latest = GradeHistory.objects.filter(grade_id=OuterRef("pk")).order_by("-changed_at", "-id")
    return {
        pk: reason
        for pk, reason in Grade.objects.filter(pk__in=tech_grade_ids)
        .filter(Exists(ever))
        .order_by()
        .annotate(reason=Subquery(latest.values("reason")[:1]))
        .values_list("pk", "reason")
        if reason
    }
