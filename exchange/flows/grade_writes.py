"""R14, R19: the grade flow's writes - the HS grades it adds or updates, each with its
history row, in one batched upsert (see :mod:`exchange.flows.grades` for the reads and the
decision)."""

import datetime as dt
from decimal import Decimal
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import Model, OuterRef, Subquery
from django.utils import timezone

from exchange import bulk
from grading.models import (
    Grade,
    GradeHistory,
    GradeSource,
)
from grading.services.transcripts import transcript_lines_flag_changed

GRADE_FIELDS = ("percent", "score", "source", "run_id", "source_grade", "modified_at")
GRADE_COLUMNS_UPDATED = ("percent", "score", "source", "run_id", "source_grade_id", "modified_at")


class HsGrade(NamedTuple):
    """A HS grade already there (the target of a crossing)."""

    id: int
    percent: Decimal | None
    score: str
    xmin: str | None = None  # its row version, read only for the watermark (R22)


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


def write_grades(writes: list[Write], *, run_id: int) -> list[str]:
    """Upsert the HS grades on (student, section, task, term) with one history row each
    (R14), and set each write's outcome ``target_id`` to its HS grade. Answers the written
    rows' versions (PostgreSQL's ``xmin``; none elsewhere), in the order of ``writes``."""
    now = timezone.now()
    # A correction reason matters where the HS grade changes, not where it first arrives.
    reasons = _latest_reasons({w.source_grade_id for w in writes if w.old})
    versions: list[str] = []
    if connection.vendor == "postgresql":
        ids, versions = _write_pg(writes, run_id=run_id, now=now, reasons=reasons)
    else:
        ids = _write_orm(writes, run_id=run_id, now=now, reasons=reasons)
    for w, grade_id in zip(writes, ids, strict=True):
        w.outcome["target_id"] = grade_id
    # R34: a posted transcript line whose final grade the exchange changed awaits review.
    transcript_lines_flag_changed(grade_ids=[w.old.id for w in writes if w.old])
    return versions


# PostgreSQL: the writes are copied as plain rows into a temporary table, then one statement
# upserts the grades, inserts their history and answers each row's grade id - no model
# instance per row, no history row built in Python.
_INCOMING = (
    "i integer, student_id bigint, section_id bigint, grading_task_id bigint, term_id bigint, "
    "percent numeric(5,2), score varchar(20), source_grade_id bigint, "
    "old_percent numeric(5,2), old_score varchar(20), reason text"
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


def _columns_covered(model: type[Model], values: dict[str, str]) -> None:
    columns = {f.column for f in model._meta.concrete_fields if not f.primary_key}
    if columns != set(values):
        raise RuntimeError(f"{model.__name__}: the exchange's raw insert must name {columns}")


def _write_pg(
    writes: list[Write], *, run_id: int, now: dt.datetime, reasons: dict[int, str]
) -> tuple[list[int], list[str]]:
    _columns_covered(Grade, _GRADE_VALUES)
    _columns_covered(GradeHistory, _HISTORY_VALUES)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in GRADE_COLUMNS_UPDATED)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE exchange_grade_in ({_INCOMING})")
        with cursor.cursor.copy("COPY exchange_grade_in FROM STDIN") as copy:
            for i, w in enumerate(writes):
                old = w.old
                copy.write_row(
                    (
                        i,
                        w.student_id,
                        w.section_id,
                        w.task_id,
                        w.term_id,
                        w.percent,
                        w.score,
                        w.source_grade_id,
                        old.percent if old else None,
                        old.score if old else "",
                        reasons.get(w.source_grade_id, ""),
                    )
                )
        cursor.execute(
            f"""
            WITH up AS (
                INSERT INTO grading_grade ({", ".join(_GRADE_VALUES)})
                SELECT {", ".join(_GRADE_VALUES.values())} FROM exchange_grade_in n
                ON CONFLICT ({_KEY}) DO UPDATE SET {updates}
                RETURNING id, xmin, {_KEY}
            ), history AS (
                INSERT INTO grading_gradehistory ({", ".join(_HISTORY_VALUES)})
                SELECT {", ".join(_HISTORY_VALUES.values())}
                FROM up JOIN exchange_grade_in n USING ({_KEY})
            )
            SELECT n.i, up.id, up.xmin::text FROM up JOIN exchange_grade_in n USING ({_KEY})
            """,
            {"source": GradeSource.EXCHANGE, "run": run_id, "now": now},
        )
        written = {i: (grade_id, version) for i, grade_id, version in cursor.fetchall()}
        # Dropped here, not in a ``finally``: on an error the part's transaction rolls back
        # and takes the table with it, and a DROP on the aborted transaction would hide the
        # error (a lock timeout must reach the retry as itself).
        cursor.execute("DROP TABLE exchange_grade_in")
    rows = [written[i] for i in range(len(writes))]
    return [grade_id for grade_id, _ in rows], [version for _, version in rows]


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
    HS history. Reasons are rare: one query finds the grades that ever had one, a second
    (only when there are some) reads their latest change."""
    with_reason = set(
        GradeHistory.objects.filter(grade_id__in=tech_grade_ids)
        .exclude(reason="")
        .order_by()
        .values_list("grade_id", flat=True)
        .distinct()
    )
    if not with_reason:
        return {}
    latest = GradeHistory.objects.filter(grade_id=OuterRef("pk")).order_by("-changed_at", "-id")
    return {
        pk: reason
        for pk, reason in Grade.objects.filter(pk__in=with_reason)
        .order_by()
        .annotate(reason=Subquery(latest.values("reason")[:1]))
        .values_list("pk", "reason")
        if reason
    }
