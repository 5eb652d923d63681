"""R27: the unknown-attendance flow of the nightly exchange (tech -> HS).

Called by the exchange runner inside each technical school's atomic block. Set-based: a
handful of reads for the whole school, then one bulk insert, one bulk update and one delete.

Per tech record and linked HS section in which the student is rostered that day:

* tech excuse ``unknown`` (day before ``as_of``), no HS record -> ``added`` with the HS's
  unknown code (source ``exchange``, ``source_record`` = the tech record, ``run_id``);
* an unresolved HS copy follows the tech record: tech ``present`` -> ``removed``; another
  code -> the HS code with the same status and excuse (``updated``), which takes it off the
  worklist; already equal -> ``unchanged``;
* a HS record a clerk resolved, or one the HS entered itself -> ``skipped`` / ``resolved``
  (never overwritten);
* an unresolved copy whose tech record is gone -> ``removed``.
"""

import datetime as dt
from collections import defaultdict
from typing import Any, NamedTuple

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from attendance.models import Attendance, AttendanceCode, AttendanceSource, Excuse, Status
from exchange.flows import outcome
from exchange.models import KtsLink
from schools.models import Roster, Tombstone

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


def sync_unknown_attendance(
    *, run_id: int, tech_school_id: int, as_of: dt.date, school_year: int, dry_run: bool
) -> list[dict[str, Any]]:
    """R27: copy this tech school's unknown attendance to the HSs that asked for it.

    Returns one outcome dict per considered record (``flow, action, reason, student_id,
    hs_section_id, source_id, target_id, message``). Writes nothing when ``dry_run``.
    Running it twice with no change in between writes nothing the second time.
    """
    # 1. Links from this school's sections (that year) to HS sections.
    links = list(
        KtsLink.objects.filter(
            tech_section__course__calendar__school_id=tech_school_id,
            tech_section__course__calendar__school_year=school_year,
        ).values(
            "hs_section_id",
            "tech_section_id",
            "hs_section__course__calendar__school_id",
            "hs_section__course__calendar__school__unknown_attendance_sync",
        )
    )
    if not links:
        return []
    hs_of_tech: dict[int, list[int]] = defaultdict(list)
    hs_school_of: dict[int, int] = {}
    sync_on: dict[int, bool] = {}
    for link in links:
        hs_of_tech[link["tech_section_id"]].append(link["hs_section_id"])
        hs_school_of[link["hs_section_id"]] = link["hs_section__course__calendar__school_id"]
        sync_on[link["hs_section_id"]] = link[
            "hs_section__course__calendar__school__unknown_attendance_sync"
        ]
    if not any(sync_on.values()):
        return []
    # Plain id lists (a few dozen sections per school) keep the plans simple and index-bound.
    linked_hs = sorted(hs_school_of)
    synced_hs = [h for h in linked_hs if sync_on[h]]

    # 2. Tech records to consider: unknown before as_of on a linked section, or already
    #    copied to a HS (found from the copies, so a quiet year is not scanned row by row).
    #    No ORDER BY anywhere here (the model's default one joins names and sorts): the
    #    records are put in id order below. A tech record carries a code of its section's
    #    school (R25, checked by the attendance services), so the unknown ones are found
    #    through this school's unknown codes - not among every unknown record in the state,
    #    nor once per code in the state. The copies are found through the exchange-copies
    #    index of the linked HS sections, not among every copy in the state.
    values = ("id", "student_id", "section_id", "date", "code__status", "code__excuse")
    hs_schools = {hs_school_of[h] for h, on in sync_on.items() if on}
    codes_of: dict[int, list[Code]] = defaultdict(list)
    unknown_codes = []
    for c in map(
        Code._make,
        AttendanceCode.objects.filter(
            Q(school_id__in=hs_schools) | Q(school_id=tech_school_id, excuse=Excuse.UNKNOWN)
        )
        .order_by("school_id", "code")
        .values_list(*Code._fields),
    ):
        if c.school_id in hs_schools:
            codes_of[c.school_id].append(c)
        if c.school_id == tech_school_id and c.excuse == Excuse.UNKNOWN:
            unknown_codes.append(c.id)
    unknown = (
        Attendance.objects.filter(
            section_id__in=sorted(hs_of_tech), date__lt=as_of, code_id__in=unknown_codes
        )
        .order_by()
        .values(*values)
    )
    copied = (
        Attendance.objects.filter(
            pk__in=Attendance.objects.filter(
                section_id__in=synced_hs,
                source=AttendanceSource.EXCHANGE,
                source_record__isnull=False,
            )
            .order_by()
            .values("source_record_id")
        )
        .order_by()
        .values(*values)
    )
    by_id = {t["id"]: t for t in unknown}
    by_id.update((t["id"], t) for t in copied)
    tech_records = [by_id[i] for i in sorted(by_id)]

    # 3. HS records on synced linked sections that a tech record could map to: exchange
    #    copies, and any HS record on the (student, day) of a tech record we consider (a
    #    superset; the exact key is matched below).
    unknown_days = {t["date"] for t in tech_records}
    unknown_students = {t["student_id"] for t in tech_records}
    same_day = Q(date__in=sorted(unknown_days))
    if len(unknown_students) <= 5000:
        same_day &= Q(student_id__in=sorted(unknown_students))
    hs_records = list(
        Attendance.objects.filter(section_id__in=synced_hs)
        .filter(Q(source=AttendanceSource.EXCHANGE) | same_day)
        .order_by("-date", "section_id", "student_id")  # no joins to sort by names
        .values(
            "id",
            "student_id",
            "section_id",
            "date",
            "code_id",
            "source",
            "source_record_id",
            "resolved_at",
        )
    )
    by_key = {(r["student_id"], r["section_id"], r["date"]): r for r in hs_records}

    # 4. Rosters of the linked HS sections (the HS codes were read with the unknown ones),
    #    only when there is a tech record to place: most nights most schools have none.
    spans: dict[tuple[int, int], list[tuple[dt.date, dt.date | None]]] = defaultdict(list)
    if tech_records:
        for student_id, section_id, start, end in (
            Roster.objects.filter(section_id__in=linked_hs)
            .order_by()
            .values_list("student_id", "section_id", "start_date", "end_date")
        ):
            spans[(student_id, section_id)].append((start, end))

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
        tid, sid = t["id"], t["student_id"]
        hs_sections = [
            h for h in hs_of_tech.get(t["section_id"], []) if rostered(sid, h, t["date"])
        ]
        if not hs_sections:
            if t["code__excuse"] == Excuse.UNKNOWN and any(
                sync_on[h] for h in hs_of_tech.get(t["section_id"], [])
            ):
                outcomes.append(
                    _outcome(
                        "skipped",
                        reason="not_rostered",
                        student_id=sid,
                        hs_section_id=None,
                        source_id=tid,
                        target_id=None,
                        message=f"Student not rostered in a linked HS section on {t['date']}.",
                    )
                )
            continue
        for h in hs_sections:
            if not sync_on[h]:
                continue
            existing = by_key.get((sid, h, t["date"]))
            if existing is not None:
                touched.add(existing["id"])
            common = {"student_id": sid, "hs_section_id": h, "source_id": tid}
            if existing is not None and (
                existing["resolved_at"] is not None
                or existing["source"] != AttendanceSource.EXCHANGE
            ):
                outcomes.append(
                    _outcome(
                        "skipped",
                        reason="resolved",
                        target_id=existing["id"],
                        message="The HS has already decided this day; left as it is.",
                        **common,
                    )
                )
                continue
            codes = codes_of.get(hs_school_of[h], [])
            if t["code__status"] == Status.PRESENT:
                if existing is None:
                    continue  # a present tech record with no HS copy is not our business
                to_remove.append(existing["id"])
                outcomes.append(
                    _outcome(
                        "removed",
                        target_id=existing["id"],
                        message="Tech school corrected the record to present.",
                        **common,
                    )
                )
                continue
            if t["code__excuse"] == Excuse.UNKNOWN:
                wanted = _unknown_code(codes)
                if wanted is None:
                    outcomes.append(
                        _outcome(
                            "skipped",
                            reason="no_unknown_code",
                            target_id=existing["id"] if existing else None,
                            message="Add an attendance code with excuse unknown at the HS.",
                            **common,
                        )
                    )
                    continue
            else:
                if existing is None:
                    continue  # only unknown records create HS records
                wanted = _matching_code(codes, t["code__status"], t["code__excuse"])
                if wanted is None:
                    outcomes.append(
                        _outcome(
                            "skipped",
                            reason="no_matching_code",
                            target_id=existing["id"],
                            message=f"Add a HS code with status {t['code__status']} and "
                            f"excuse {t['code__excuse']}.",
                            **common,
                        )
                    )
                    continue
            if existing is None:
                row = Attendance(
                    student_id=sid,
                    section_id=h,
                    date=t["date"],
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
            elif existing["code_id"] == wanted.id and existing["source_record_id"] == tid:
                outcomes.append(_outcome("unchanged", target_id=existing["id"], **common))
            else:
                to_update.append(
                    Attendance(
                        pk=existing["id"],
                        code_id=wanted.id,
                        source_record_id=tid,
                        run_id=run_id,
                        modified_at=now,
                    )
                )
                outcomes.append(
                    _outcome(
                        "updated",
                        target_id=existing["id"],
                        message=f"Follows the tech record: now {wanted.code}.",
                        **common,
                    )
                )

    # Unresolved exchange copies no tech record accounts for any more (tech record deleted).
    for r in hs_records:
        if (
            r["id"] not in touched
            and r["source"] == AttendanceSource.EXCHANGE
            and r["resolved_at"] is None
        ):
            to_remove.append(r["id"])
            outcomes.append(
                _outcome(
                    "removed",
                    student_id=r["student_id"],
                    hs_section_id=r["section_id"],
                    source_id=r["source_record_id"],
                    target_id=r["id"],
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
        removed = {r["id"]: r for r in hs_records if r["id"] in set(to_remove)}
        Tombstone.objects.bulk_create(
            [
                Tombstone(
                    model=Attendance._meta.label,
                    object_id=rid,
                    school_id=school_of_section.get(removed[rid]["section_id"]),
                )
                for rid in to_remove
            ],
            batch_size=batch,
        )
        for i in range(0, len(to_remove), batch):
            Attendance.objects.filter(pk__in=to_remove[i : i + batch]).delete()
    return outcomes
