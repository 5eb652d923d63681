"""R27: the unknown-attendance flow of the nightly exchange (tech -> HS).

Called by the exchange runner inside each technical school's atomic block, and as a dry run
by the run's start for a school it may settle (:mod:`exchange.services.settle`). Set-based:
a handful of reads for the whole school, then one bulk insert, one bulk update and one
delete. A school with nothing to do - no unknown tech record before the run date on a linked
section, no copy at a syncing HS to keep or undo - costs one query.

Per tech record and linked HS section in which the student is rostered that day:

* tech excuse ``unknown`` (day before ``as_of``), no HS record -> ``added`` with the HS's
  unknown code (source ``exchange``, ``source_record`` = the tech record, ``run_id``);
* an unresolved HS copy follows the tech record: tech ``present`` -> ``removed``; another
  code -> the HS code with the same status and excuse (``updated``), which takes it off the
  worklist; already equal -> ``unchanged``;
* a HS record a clerk resolved, or one the HS entered itself -> ``skipped`` / ``resolved``
  (never overwritten);
* an unresolved copy whose tech record is gone -> ``removed``.

The reads are plain SQL written once (the flow runs for every school every night, and the
ORM would compile each query again per school); lists of ids are passed as one parameter
(an array on PostgreSQL, a JSON list on SQLite), so the statement text does not change with
their length.
"""

import datetime as dt
import functools
import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection
from django.utils import timezone

from attendance.models import Attendance, AttendanceCode, AttendanceSource, Excuse, Status
from exchange.flows import outcome
from exchange.models import KtsLink
from schools.access.sql import any_of, converter, fetch_all, list_param
from schools.models import Calendar, Course, Roster, School, Section, Tombstone

FLOW = "attendance"


def _outcome(
    action: str,
    *,
    reason: str = "",
    student_id: int | None,
    hs_section_id: int | None,
    source_id: int | None,
    target_id: int | None,
    message: str = "",
) -> dict[str, Any]:
    """An outcome of this flow; the ids are required (every outcome names its record)."""
    return outcome(
        FLOW,
        action,
        reason=reason,
        student_id=student_id,
        hs_section_id=hs_section_id,
        source_id=source_id,
        target_id=target_id,
        message=message,
    )


class Code(NamedTuple):
    """An attendance code of a school, as the flow reads it."""

    id: int
    school_id: int
    code: str
    status: str
    excuse: str


def _unknown_code(codes: list[Code]) -> Code | None:
    """The HS's unknown code: excuse unknown; the absent one if there are several."""
    unknown = [c for c in codes if c.excuse == Excuse.UNKNOWN]
    if not unknown:
        return None
    absent = [c for c in unknown if c.status == Status.ABSENT]
    return (absent or unknown)[0]


def _matching_code(codes: list[Code], status: str, excuse: str) -> Code | None:
    for c in codes:
        if c.status == status and c.excuse == excuse:
            return c
    return None


class Link(NamedTuple):
    """A KTS link of the school, with what the early exit needs to know about it."""

    tech_section_id: int
    hs_section_id: int
    hs_school_id: int
    sync: bool  # the HS syncs unknown attendance (R27 is per HS, off by default)
    unknown: bool  # an unknown record before the run date on the tech section
    copies: bool  # an exchange copy on the HS section


class TechRecord(NamedTuple):
    id: int
    student_id: int
    section_id: int
    date: dt.date
    status: str
    excuse: str


class HsRecord(NamedTuple):
    id: int
    student_id: int
    section_id: int
    date: dt.date
    code_id: int
    source: str
    source_record_id: int | None
    resolved_at: Any


class _Sql(NamedTuple):
    """The flow's statements for one database vendor, and how its values are passed."""

    links: str
    codes: str
    tech_records: str
    hs_records: str
    rosters: str
    pairs: Callable[[list[tuple[int, dt.date]]], list[Any]]  # (student, day) pairs


def _postgres_pairs(pairs: list[tuple[int, dt.date]]) -> list[Any]:
    return [[student for student, _ in pairs], [day for _, day in pairs]]


def _sqlite_pairs(pairs: list[tuple[int, dt.date]]) -> list[Any]:
    return [json.dumps([[student, day.isoformat()] for student, day in pairs])]


@functools.cache
def _sql(vendor: str) -> _Sql:
    """The statements, written once per vendor. ``IN`` a list is ``= ANY(array)`` on
    PostgreSQL and ``IN (SELECT value FROM json_each(list))`` on SQLite; no ORDER BY but
    the ones the flow needs (the models' default ones join names and sort)."""
    postgres = vendor == "postgresql"

    def inlist(column: str) -> str:
        return any_of(column, vendor=vendor)

    att = Attendance._meta.db_table
    code = AttendanceCode._meta.db_table
    unknown, exchange = Excuse.UNKNOWN.value, AttendanceSource.EXCHANGE.value
    # 1. The school's links that year, each with two probes for the early exit: an unknown
    #    record before the run date on the tech section (one descent of the (section, code,
    #    date) index per unknown code) and an exchange copy on the HS section (the copies
    #    index). Parameters: as_of, tech school, tech school, school year.
    links = f"""
        SELECT l.tech_section_id, l.hs_section_id, hcal.school_id, hs.unknown_attendance_sync,
               EXISTS (SELECT 1 FROM {att} a
                       WHERE a.section_id = l.tech_section_id AND a.date < %s
                         AND a.code_id IN (SELECT c.id FROM {code} c
                                           WHERE c.school_id = %s AND c.excuse = '{unknown}')),
               EXISTS (SELECT 1 FROM {att} a
                       WHERE a.section_id = l.hs_section_id AND a.source = '{exchange}')
        FROM {KtsLink._meta.db_table} l
        JOIN {Section._meta.db_table} tsec ON tsec.id = l.tech_section_id
        JOIN {Course._meta.db_table} tco ON tco.id = tsec.course_id
        JOIN {Calendar._meta.db_table} tcal ON tcal.id = tco.calendar_id
        JOIN {Section._meta.db_table} hsec ON hsec.id = l.hs_section_id
        JOIN {Course._meta.db_table} hco ON hco.id = hsec.course_id
        JOIN {Calendar._meta.db_table} hcal ON hcal.id = hco.calendar_id
        JOIN {School._meta.db_table} hs ON hs.id = hcal.school_id
        WHERE tcal.school_id = %s AND tcal.school_year = %s
    """
    # 2. The syncing HSs' codes and the tech school's unknown ones. Parameters: HS schools,
    #    tech school.
    codes = f"""
        SELECT id, school_id, code, status, excuse FROM {code}
        WHERE {inlist("school_id")} OR (school_id = %s AND excuse = '{unknown}')
        ORDER BY school_id, code
    """
    # 3. The tech records to consider: unknown before the run date on a linked section
    #    (a tech record carries a code of its section's school, R25: found through this
    #    school's unknown codes), or already copied to a syncing HS (found from the copies,
    #    so a quiet year is not scanned row by row). Parameters: tech sections, as_of,
    #    unknown codes, synced HS sections.
    columns = "a.id, a.student_id, a.section_id, a.date, c.status, c.excuse"
    tech_records = f"""
        SELECT {columns} FROM {att} a JOIN {code} c ON c.id = a.code_id
        WHERE {inlist("a.section_id")} AND a.date < %s AND {inlist("a.code_id")}
        UNION
        SELECT {columns} FROM {att} a JOIN {code} c ON c.id = a.code_id
        WHERE a.id IN (SELECT s.source_record_id FROM {att} s
                       WHERE {inlist("s.section_id")} AND s.source = '{exchange}'
                         AND s.source_record_id IS NOT NULL)
        ORDER BY 1
    """
    # 4. HS records on the syncing linked sections a tech record could map to: exchange
    #    copies, and any HS record of a (student, day) of a tech record considered (one
    #    index descent per pair; the section is matched in Python). Parameters: synced HS
    #    sections, the pairs (two arrays on PostgreSQL, one JSON list on SQLite), synced HS
    #    sections again.
    if postgres:
        pairs = "unnest(%s::bigint[], %s::date[]) AS k (student_id, date)"
        on = "a.student_id = k.student_id AND a.date = k.date"
    else:
        pairs = "json_each(%s) AS k"
        on = "a.student_id = json_extract(k.value, '$[0]') AND a.date = json_extract(k.value, '$[1]')"
    hs_columns = (
        "a.id, a.student_id, a.section_id, a.date, a.code_id, a.source, a.source_record_id,"
        " a.resolved_at"
    )
    hs_records = f"""
        SELECT {hs_columns} FROM {att} a
        WHERE {inlist("a.section_id")} AND a.source = '{exchange}'
        UNION
        SELECT {hs_columns} FROM {pairs} JOIN {att} a ON {on}
        WHERE {inlist("a.section_id")}
        ORDER BY 4 DESC, 3, 2
    """
    # 5. The rosters of the considered students in the linked HS sections. Parameters:
    #    linked HS sections, students.
    rosters = f"""
        SELECT student_id, section_id, start_date, end_date FROM {Roster._meta.db_table}
        WHERE {inlist("section_id")} AND {inlist("student_id")}
    """
    return _Sql(
        links=links,
        codes=codes,
        tech_records=tech_records,
        hs_records=hs_records,
        rosters=rosters,
        pairs=_postgres_pairs if postgres else _sqlite_pairs,
    )


def sync_unknown_attendance(
    *, run_id: int, tech_school_id: int, as_of: dt.date, school_year: int, dry_run: bool
) -> list[dict[str, Any]]:
    """R27: copy this tech school's unknown attendance to the HSs that asked for it.

    Returns one outcome dict per considered record (``flow, action, reason, student_id,
    hs_section_id, source_id, target_id, message``). Writes nothing when ``dry_run``.
    Running it twice with no change in between writes nothing the second time.
    """
    sql = _sql(connection.vendor)
    # 1. Links from this school's sections (that year) to HS sections, with the probes that
    #    let a school with nothing to do stop here.
    links = [
        Link._make(row)
        for row in fetch_all(
            sql.links, [as_of, tech_school_id, tech_school_id, school_year], prepare=True
        )
    ]
    if not any(link.sync for link in links):
        return []
    if not any(link.unknown or (link.sync and link.copies) for link in links):
        # No unknown tech record to place and no copy at a syncing HS to keep or undo:
        # every read below would come back empty.
        return []
    hs_of_tech: dict[int, list[int]] = defaultdict(list)
    hs_school_of: dict[int, int] = {}
    sync_on: dict[int, bool] = {}
    for link in links:
        hs_of_tech[link.tech_section_id].append(link.hs_section_id)
        hs_school_of[link.hs_section_id] = link.hs_school_id
        sync_on[link.hs_section_id] = bool(link.sync)
    linked_hs = sorted(hs_school_of)
    synced_hs = [h for h in linked_hs if sync_on[h]]

    # 2. The syncing HSs' codes and this school's unknown ones, then the tech records to
    #    consider, in id order.
    hs_schools = {hs_school_of[h] for h in synced_hs}
    codes_of: dict[int, list[Code]] = defaultdict(list)
    unknown_codes = []
    for c in map(
        Code._make, fetch_all(sql.codes, [list_param(sorted(hs_schools)), tech_school_id])
    ):
        if c.school_id in hs_schools:
            codes_of[c.school_id].append(c)
        if c.school_id == tech_school_id and c.excuse == Excuse.UNKNOWN:
            unknown_codes.append(c.id)
    # A date as the ORM gives it (SQLite returns text).
    as_date = converter(Attendance, "date") or (lambda day: day)
    tech_records = [
        TechRecord(tid, sid, section_id, as_date(date), status, excuse)
        for tid, sid, section_id, date, status, excuse in fetch_all(
            sql.tech_records,
            [
                list_param(sorted(hs_of_tech)),
                as_of,
                list_param(unknown_codes),
                list_param(synced_hs),
            ],
        )
    ]

    # 3. HS records on synced linked sections that a tech record could map to.
    unknown_students = sorted({t.student_id for t in tech_records})
    pairs = sorted({(t.student_id, t.date) for t in tech_records})
    hs_params = [list_param(synced_hs), *sql.pairs(pairs), list_param(synced_hs)]
    hs_records = [
        HsRecord(rid, sid, section_id, as_date(date), *rest)
        for rid, sid, section_id, date, *rest in fetch_all(sql.hs_records, hs_params)
    ]
    by_key = {(r.student_id, r.section_id, r.date): r for r in hs_records}

    # 4. Rosters of the considered students in the linked HS sections, only when there is a
    #    tech record to place: most nights most schools have none.
    spans: dict[tuple[int, int], list[tuple[dt.date, dt.date | None]]] = defaultdict(list)
    if tech_records:
        for student_id, section_id, start, end in fetch_all(
            sql.rosters, [list_param(linked_hs), list_param(unknown_students)]
        ):
            spans[(student_id, section_id)].append(
                (as_date(start), None if end is None else as_date(end))
            )

    def rostered(student_id: int, hs_section_id: int, day: dt.date) -> bool:
        return any(
            s <= day and (e is None or day <= e)
            for s, e in spans.get((student_id, hs_section_id), ())
        )

    outcomes: list[dict[str, Any]] = []
    to_add: list[Attendance] = []
    added_outcomes: list[dict[str, Any]] = []
    to_update: list[Attendance] = []
    to_remove: list[int] = []
    touched: set[int] = set()
    now = timezone.now()

    for t in tech_records:
        tid, sid = t.id, t.student_id
        hs_sections = [h for h in hs_of_tech.get(t.section_id, []) if rostered(sid, h, t.date)]
        if not hs_sections:
            if t.excuse == Excuse.UNKNOWN and any(
                sync_on[h] for h in hs_of_tech.get(t.section_id, [])
            ):
                outcomes.append(
                    _outcome(
                        "skipped",
                        reason="not_rostered",
                        student_id=sid,
                        hs_section_id=None,
                        source_id=tid,
                        target_id=None,
                        message=f"Student not rostered in a linked HS section on {t.date}.",
                    )
                )
            continue
        for h in hs_sections:
            if not sync_on[h]:
                continue
            existing = by_key.get((sid, h, t.date))
            if existing is not None:
                touched.add(existing.id)
            common: dict[str, Any] = {"student_id": sid, "hs_section_id": h, "source_id": tid}
            if existing is not None and (
                existing.resolved_at is not None or existing.source != AttendanceSource.EXCHANGE
            ):
                outcomes.append(
                    _outcome(
                        "skipped",
                        reason="resolved",
                        target_id=existing.id,
                        message="The HS has already decided this day; left as it is.",
                        **common,
                    )
                )
                continue
            codes = codes_of.get(hs_school_of[h], [])
            if t.status == Status.PRESENT:
                if existing is None:
                    continue  # a present tech record with no HS copy is not our business
                to_remove.append(existing.id)
                outcomes.append(
                    _outcome(
                        "removed",
                        target_id=existing.id,
                        message="Tech school corrected the record to present.",
                        **common,
                    )
                )
                continue
            if t.excuse == Excuse.UNKNOWN:
                wanted = _unknown_code(codes)
                if wanted is None:
                    outcomes.append(
                        _outcome(
                            "skipped",
                            reason="no_unknown_code",
                            target_id=existing.id if existing else None,
                            message="Add an attendance code with excuse unknown at the HS.",
                            **common,
                        )
                    )
                    continue
            else:
                if existing is None:
                    continue  # only unknown records create HS records
                wanted = _matching_code(codes, t.status, t.excuse)
                if wanted is None:
                    outcomes.append(
                        _outcome(
                            "skipped",
                            reason="no_matching_code",
                            target_id=existing.id,
                            message=f"Add a HS code with status {t.status} and excuse {t.excuse}.",
                            **common,
                        )
                    )
                    continue
            if existing is None:
                row = Attendance(
                    student_id=sid,
                    section_id=h,
                    date=t.date,
                    code_id=wanted.id,
                    source=AttendanceSource.EXCHANGE,
                    source_record_id=tid,
                    run_id=run_id,
                )
                to_add.append(row)
                outcome = _outcome(
                    "added",
                    target_id=None,
                    message=f"Unknown attendance copied as {wanted.code}.",
                    **common,
                )
                added_outcomes.append(outcome)
                outcomes.append(outcome)
            elif existing.code_id == wanted.id and existing.source_record_id == tid:
                outcomes.append(_outcome("unchanged", target_id=existing.id, **common))
            else:
                to_update.append(
                    Attendance(
                        pk=existing.id,
                        code_id=wanted.id,
                        source_record_id=tid,
                        run_id=run_id,
                        modified_at=now,
                    )
                )
                outcomes.append(
                    _outcome(
                        "updated",
                        target_id=existing.id,
                        message=f"Follows the tech record: now {wanted.code}.",
                        **common,
                    )
                )

    # Unresolved exchange copies no tech record accounts for any more (tech record deleted).
    for r in hs_records:
        if r.id not in touched and r.source == AttendanceSource.EXCHANGE and r.resolved_at is None:
            to_remove.append(r.id)
            outcomes.append(
                _outcome(
                    "removed",
                    student_id=r.student_id,
                    hs_section_id=r.section_id,
                    source_id=r.source_record_id,
                    target_id=r.id,
                    message="No tech record maps to this HS record any more.",
                )
            )

    if dry_run:
        return outcomes

    batch = getattr(settings, "EXCHANGE_BATCH_SIZE", 2000)
    if to_add:
        created = Attendance.objects.bulk_create(to_add, batch_size=batch)
        for outcome, row in zip(added_outcomes, created, strict=True):
            outcome["target_id"] = row.pk
    if to_update:
        Attendance.objects.bulk_update(
            to_update, ["code", "source_record", "run_id", "modified_at"], batch_size=batch
        )
    if to_remove:
        school_of_section = dict(hs_school_of)
        gone = set(to_remove)
        removed = {r.id: r for r in hs_records if r.id in gone}
        Tombstone.objects.bulk_create(
            [
                Tombstone(
                    model=Attendance._meta.label,
                    object_id=rid,
                    school_id=school_of_section.get(removed[rid].section_id),
                )
                for rid in to_remove
            ],
            batch_size=batch,
        )
        for i in range(0, len(to_remove), batch):
            Attendance.objects.filter(pk__in=to_remove[i : i + batch]).delete()
    return outcomes
