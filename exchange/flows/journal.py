"""R22: the input journal (``InputChange``, kept by PostgreSQL triggers) asked whether a
stored watermark still holds, without taking its fingerprint.

A watermark's fingerprint names the exact rows its flow read in one snapshot. Every
statement that writes one of those tables journals the tech schools it touched, with its
transaction. So a watermark is still exact if every journal row of its school (or of every
school) since is covered: written by a transaction its snapshot saw, or by the transaction
that stored it (whose writes the fingerprint already counts). Then nothing it read can have
changed: the run replays it and reads nothing more. Anything else - an uncovered row, a
watermark stored without a snapshot - falls back to the fingerprint, which decides as
before; the journal only spares the reads of a quiet school.

Only the rows no watermark needs are pruned, and only once they are two days old, so that a
part whose watermark is not stored yet never loses a row it needs (its transaction would
have to have waited on a writer for two days).
"""

import functools

from django.conf import settings
from django.db import connection

from exchange.models import Flow, FlowWatermark, InputChange
from schools.access import sql

KEEP = "2 days"


# A journal row ``j`` that a watermark ``m`` has not seen: not written by the transaction
# that stored it, nor visible in its snapshot, and read by its flow. The one definition both
# the clean check and the prune rely on (a prune that disagreed could drop a needed row).
_UNSEEN = f"""
    j.xact <> m.xact
    AND (m.flow = '{Flow.GRADES}' OR NOT j.grades_only)
    AND NOT pg_visible_in_snapshot(j.xact::text::xid8, m.snapshot::pg_snapshot)
"""
_HAS_SNAPSHOT = "m.snapshot <> '' AND m.xact IS NOT NULL"


@functools.cache
def _sql() -> dict[str, str]:
    marks, changes = sql.quoted_table(FlowWatermark), sql.quoted_table(InputChange)
    # the rows older than a watermark's snapshot xmin are seen by it: the index skips them
    unseen_since = (
        f"SELECT FROM {changes} j WHERE {{school}}"
        f" AND j.xact >= pg_snapshot_xmin(m.snapshot::pg_snapshot)::text::bigint AND {_UNSEEN}"
    )
    for_school = unseen_since.format(school="j.tech_school_id = m.tech_school_id")
    for_all = unseen_since.format(school="j.tech_school_id IS NULL")
    return {
        "clean": f"""
            SELECT m.tech_school_id, m.flow, m.fingerprint FROM {marks} m
            WHERE m.school_year = %(year)s AND m.tech_school_id = ANY(%(schools)s)
              AND {_HAS_SNAPSHOT}
              AND NOT EXISTS ({for_school}) AND NOT EXISTS ({for_all})
        """,
        "prune": f"""
            DELETE FROM {changes} j
            WHERE j.created_at < now() - interval '{KEEP}'
              AND NOT EXISTS (
                SELECT FROM {marks} m
                WHERE {_HAS_SNAPSHOT}
                  AND (j.tech_school_id IS NULL OR j.tech_school_id = m.tech_school_id)
                  AND {_UNSEEN}
              )
        """,
    }


def on() -> bool:
    return connection.vendor == "postgresql" and settings.EXCHANGE_WATERMARK


def unchanged(*, school_year: int, schools: list[int]) -> dict[tuple[int, str], str]:
    """The (school, flow) watermarks of these schools in the year whose inputs no statement
    has touched since their snapshot, with their fingerprints (a caller holding a watermark
    read earlier trusts the journal only for that same fingerprint). None on other
    databases."""
    if not schools or not on():
        return {}
    rows = sql.fetch_all(
        _sql()["clean"], {"year": school_year, "schools": list(schools)}, prepare=True
    )
    return {(school, flow): print_ for school, flow, print_ in rows}


def prune() -> int:
    """Delete the journal rows older than two days that no stored watermark needs; answers
    how many. (PostgreSQL, whether the watermark is on or not: its triggers always write.)"""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(_sql()["prune"])
        return cursor.rowcount
