"""R18, R48: HS rosters in linked sections become secondary enrollments and tech rosters,
and every tech roster stays reconciled with the HS roster it came from.

Set-based: a few reads (links, the KTS tech sections, HS rosters, tech rosters, enrollments)
and bulk writes, whatever the number of students.
"""

import datetime as dt
import functools
from collections import defaultdict
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection
from django.utils import timezone

from exchange.flows import FlowResult, inputs, outcome, watermark
from exchange.models import Action, Flow, KtsLink
from schools import versions
from schools.access import sql
from schools.models import Calendar, Enrollment, Roster, Section, ServiceType, Tombstone


class HsRoster(NamedTuple):
    id: int
    student_id: int
    section_id: int
    start_date: dt.date
    end_date: dt.date | None


class TechRoster(NamedTuple):
    id: int
    start_date: dt.date
    end_date: dt.date | None


def sync_enrollments(
    *, run_id: int, tech_school_id: int, as_of: dt.date, school_year: int, dry_run: bool
) -> FlowResult:
    """R18/R48: reconcile the tech rosters of every KTS tech section of the school with the
    HS rosters of the sections linked to it.

    Identity is (student, link) - the student and the tech section the link points to - not
    the start date: the tech rosters of a student in a tech section pair, in start order,
    with the student's HS rosters in the sections linked to it. A paired tech roster takes
    the HS roster's start and end dates (``unchanged``, ``updated``, or ``ended`` when an end
    date is set); an HS roster without a tech roster gets one, and a secondary enrollment
    when missing (``added``); an open tech roster left without an HS roster (the HS roster
    was deleted, the link removed or moved to another tech section) is ended on ``as_of``
    (``ended``), or deleted when it had not begun (``removed``, with a tombstone for R40).
    """
    calendar_id = _calendar_of(tech_school_id=tech_school_id, school_year=school_year)
    if calendar_id is None:
        return FlowResult(Flow.ENROLLMENTS, [])
    mark = _Mark(tech_school_id=tech_school_id, school_year=school_year)
    if (replay := mark.replay(as_of=as_of)) is not None:
        return replay
    # Only the (student, tech section) keys where something differs are read into Python;
    # the database counts the others (a quiet night: all of them).
    dirty, unchanged = _dirty_keys(calendar_id=calendar_id, as_of=as_of)
    if not dirty:
        if not dry_run:
            mark.store_quiet(as_of=as_of, run_id=run_id, unchanged=unchanged)
        return FlowResult(Flow.ENROLLMENTS, [], unchanged)
    links = dict(
        KtsLink.objects.filter(tech_section__course__calendar_id=calendar_id)
        .order_by()
        .values_list("hs_section_id", "tech_section_id")
    )
    kts_sections = set(
        Section.objects.filter(course__calendar_id=calendar_id, course__is_kts=True).values_list(
            "id", flat=True
        )
    )
    hs_rosters = Roster.objects.filter(section_id__in=list(links))
    tech_rosters = Roster.objects.filter(section_id__in=kts_sections)
    students = {student_id for student_id, _ in dirty}
    if len(students) <= NARROW_READ_MAX:
        hs_rosters = hs_rosters.filter(student_id__in=students)
        tech_rosters = tech_rosters.filter(student_id__in=students)
    # Wanted: per (student, tech section), the HS rosters it comes from, in start order.
    wanted: dict[tuple[int, int], list[HsRoster]] = defaultdict(list)
    for row in hs_rosters.order_by("start_date", "id").values_list(
        "id", "student_id", "section_id", "start_date", "end_date"
    ):
        hs = HsRoster._make(row)
        key = (hs.student_id, links[hs.section_id])
        if key not in dirty:
            continue
        rows = wanted[key]
        if not rows or rows[-1].start_date != hs.start_date:  # two HS sections, one start
            rows.append(hs)
    have: dict[tuple[int, int], list[TechRoster]] = defaultdict(list)
    for roster_id, student_id, section_id, start, end in tech_rosters.order_by(
        "start_date", "id"
    ).values_list("id", "student_id", "section_id", "start_date", "end_date"):
        if (student_id, section_id) in dirty:
            have[(student_id, section_id)].append(TechRoster(roster_id, start, end))
    enrolled = set(
        Enrollment.objects.filter(calendar_id=calendar_id)
        .order_by()
        .values_list("student_id", flat=True)
    )

    outcomes: list[dict[str, Any]] = []
    new_enrollments: dict[int, Enrollment] = {}
    new_rosters: list[tuple[dict[str, Any], Roster]] = []
    changed: list[Roster] = []
    ended: list[Roster] = []
    removed: list[int] = []
    flow = Flow.ENROLLMENTS
    for key, hs_rows in wanted.items():
        student_id, tech_section_id = key
        tech_rows = have.pop(key, [])
        for i, hs in enumerate(hs_rows):
            if i >= len(tech_rows):
                if student_id not in enrolled and student_id not in new_enrollments:
                    new_enrollments[student_id] = Enrollment(
                        student_id=student_id,
                        calendar_id=calendar_id,
                        school_year=school_year,  # bulk_create skips save(), which derives it
                        service_type=ServiceType.SECONDARY,
                        start_date=hs.start_date,
                    )
                roster = Roster(
                    student_id=student_id,
                    section_id=tech_section_id,
                    start_date=hs.start_date,
                    end_date=hs.end_date,
                )
                o = outcome(
                    flow,
                    Action.ADDED,
                    student_id=student_id,
                    hs_section_id=hs.section_id,
                    source_id=hs.id,
                    message="Tech roster added.",
                )
                new_rosters.append((o, roster))
                outcomes.append(o)
                continue
            tech = tech_rows[i]
            if (tech.start_date, tech.end_date) == (hs.start_date, hs.end_date):
                unchanged += 1  # the common case on a quiet night: counted, not listed
                continue
            changed.append(Roster(id=tech.id, start_date=hs.start_date, end_date=hs.end_date))
            ending = hs.end_date is not None and tech.end_date != hs.end_date
            outcomes.append(
                outcome(
                    flow,
                    Action.ENDED if ending and tech.start_date == hs.start_date else Action.UPDATED,
                    student_id=student_id,
                    hs_section_id=hs.section_id,
                    source_id=hs.id,
                    target_id=tech.id,
                    message=f"Tech roster dates set to {hs.start_date} - {hs.end_date or 'open'}.",
                )
            )
        # Tech rosters beyond the HS ones of this (student, link): see below.
        for tech in tech_rows[len(hs_rows) :]:
            _end_or_remove((student_id, tech_section_id), tech, as_of, ended, removed, outcomes)
    for key, tech_rows in have.items():  # no HS roster at all: deleted, unlinked or moved
        for tech in tech_rows:
            _end_or_remove(key, tech, as_of, ended, removed, outcomes)

    if not dry_run:
        batch = settings.EXCHANGE_BATCH_SIZE
        now = timezone.now()
        if removed:
            Roster.objects.filter(pk__in=removed).delete()
            Tombstone.objects.bulk_create(
                [
                    Tombstone(model="schools.Roster", object_id=pk, school_id=tech_school_id)
                    for pk in removed
                ],
                batch_size=batch,
            )
        for r in ended:
            r.modified_at = now
        Roster.objects.bulk_update(ended, ["end_date", "modified_at"], batch_size=batch)
        for r in changed:
            r.modified_at = now
        Roster.objects.bulk_update(
            changed, ["start_date", "end_date", "modified_at"], batch_size=batch
        )
        Enrollment.objects.bulk_create(new_enrollments.values(), batch_size=batch)
        Roster.objects.bulk_create([r for _, r in new_rosters], batch_size=batch)
        for o, r in new_rosters:
            o["target_id"] = r.pk
        if removed or ended or changed or new_enrollments or new_rosters:
            # Cached reports read rosters and enrollments: stale from this transaction on.
            versions.bump_setup()
    return FlowResult(flow, outcomes, unchanged)


# Pairs each HS roster of a linked section (one per student, tech section and start date,
# the lowest id first) with the tech roster of the same rank in start order, as the Python
# reconciliation above does, and answers the (student, tech section) keys where a pair
# differs, lacks its tech roster or leaves an open tech roster unpaired - plus, as a last
# row with NULL keys, the number of equal pairs in the other keys. Portable SQL (window
# functions, FULL JOIN): PostgreSQL, and SQLite 3.39 or later.
_DIRTY_KEYS_SQL = """
WITH link AS (
    SELECT l.hs_section_id, l.tech_section_id
    FROM exchange_ktslink l
    JOIN schools_section s ON s.id = l.tech_section_id
    JOIN schools_course c ON c.id = s.course_id
    WHERE c.calendar_id = %(calendar)s
), hs AS (
    SELECT r.student_id, k.tech_section_id, r.start_date, r.end_date,
           ROW_NUMBER() OVER (
               PARTITION BY r.student_id, k.tech_section_id, r.start_date ORDER BY r.id
           ) AS same_start
    FROM schools_roster r JOIN link k ON k.hs_section_id = r.section_id
), wanted AS (
    SELECT student_id, tech_section_id, start_date, end_date,
           ROW_NUMBER() OVER (PARTITION BY student_id, tech_section_id ORDER BY start_date) AS n
    FROM hs WHERE same_start = 1
), have AS (
    SELECT r.student_id, r.section_id AS tech_section_id, r.start_date, r.end_date,
           ROW_NUMBER() OVER (
               PARTITION BY r.student_id, r.section_id ORDER BY r.start_date, r.id
           ) AS n
    FROM schools_roster r
    JOIN schools_section s ON s.id = r.section_id
    JOIN schools_course c ON c.id = s.course_id
    WHERE c.calendar_id = %(calendar)s AND c.is_kts
), pairs AS (
    SELECT COALESCE(w.student_id, h.student_id) AS student_id,
           COALESCE(w.tech_section_id, h.tech_section_id) AS tech_section_id,
           CASE
               WHEN w.student_id IS NULL THEN
                   CASE WHEN h.end_date IS NULL OR h.end_date > %(as_of)s THEN 1 ELSE 0 END
               WHEN h.student_id IS NULL THEN 1
               WHEN w.start_date = h.start_date AND w.end_date IS NOT DISTINCT FROM h.end_date
                   THEN 0
               ELSE 1
           END AS differs,
           CASE WHEN w.student_id IS NOT NULL AND h.student_id IS NOT NULL THEN 1 ELSE 0 END
               AS paired
    FROM wanted w FULL JOIN have h
         ON h.student_id = w.student_id AND h.tech_section_id = w.tech_section_id AND h.n = w.n
), keyed AS (
    SELECT student_id, tech_section_id, MAX(differs) AS differs, SUM(paired) AS paired
    FROM pairs GROUP BY student_id, tech_section_id
)
SELECT student_id, tech_section_id, paired FROM keyed WHERE differs = 1
UNION ALL
SELECT NULL, NULL, COALESCE(SUM(paired), 0) FROM keyed WHERE differs = 0
"""
NARROW_READ_MAX = 2_000  # up to this many students to reconcile, read only their rosters


class _Mark(watermark.FlowMark):
    """The enrollment flow's watermark for one tech school (R22, R48).

    Stored only when the flow found nothing to do: then the same rows find nothing to do on
    any later day too (an unpaired tech roster is work only while it is open after
    ``as_of``, and a quiet run found none), so a later run with the same fingerprint
    replays the count of unchanged rosters. Any change to those rows runs the flow."""

    flow = Flow.ENROLLMENTS
    fingerprints = staticmethod(inputs.enrollment_fingerprints)

    def store_quiet(self, *, as_of: dt.date, run_id: int, unchanged: int) -> None:
        if self.on:  # nothing was written: the state read is the state left
            self.store(
                print_=self.print_ or self.fingerprint(),
                as_of=as_of,
                run_id=run_id,
                unchanged=unchanged,
                outcomes=[],
            )


@functools.cache  # a query text; the models do not change
def _calendar_sql() -> str:
    table, col = sql.quoted_table(Calendar), functools.partial(sql.quoted_column, Calendar)
    return (
        f"SELECT {col()} FROM {table} WHERE {col('school')} = %s AND {col('school_year')} = %s"
        f" ORDER BY {col()} LIMIT 1"
    )


def _calendar_of(*, tech_school_id: int, school_year: int) -> int | None:
    """The tech school's calendar of the year (the first one); plain SQL: every part asks."""
    with connection.cursor() as cursor:
        cursor.execute(_calendar_sql(), [tech_school_id, school_year])
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def _dirty_keys(*, calendar_id: int, as_of: dt.date) -> tuple[set[tuple[int, int]], int]:
    """The (student, tech section) keys to reconcile, and the count of unchanged tech
    rosters in all the others - one query, whatever the number of students."""
    dirty: set[tuple[int, int]] = set()
    unchanged = 0
    for student_id, tech_section_id, paired in sql.fetch_all(
        _DIRTY_KEYS_SQL, {"calendar": calendar_id, "as_of": as_of.isoformat()}, prepare=True
    ):
        if student_id is None:
            unchanged = int(paired)
        else:
            dirty.add((student_id, tech_section_id))
    return dirty, unchanged


def _end_or_remove(
    key: tuple[int, int],
    tech: TechRoster,
    as_of: dt.date,
    ended: list[Roster],
    removed: list[int],
    outcomes: list[dict[str, Any]],
) -> None:
    """R48: an open tech roster without its HS roster ends on ``as_of``, or goes when it has
    not begun; an already ended one is history and stays."""
    if tech.end_date is not None and tech.end_date <= as_of:
        return
    student_id, _ = key
    if tech.start_date > as_of:
        removed.append(tech.id)
        action, message = Action.REMOVED, "Tech roster removed: it had not begun"
    else:
        ended.append(Roster(id=tech.id, end_date=as_of))
        action, message = Action.ENDED, f"Tech roster ended on {as_of}"
    outcomes.append(
        outcome(
            Flow.ENROLLMENTS,
            action,
            student_id=student_id,
            target_id=tech.id,
            message=f"{message}: its HS roster was deleted or the link removed or moved.",
        )
    )
