"""R18: HS rosters in linked sections become secondary enrollments and tech rosters.

Set-based: three reads (links, HS rosters, existing tech rosters/enrollments) and bulk
writes, whatever the number of students.
"""

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import timezone

from exchange.flows import outcome
from exchange.models import Action, Flow, KtsLink
from schools.models import Calendar, Enrollment, Roster, ServiceType


def sync_enrollments(
    *, run_id: int, tech_school_id: int, as_of: dt.date, school_year: int, dry_run: bool
) -> list[dict[str, Any]]:
    """R18: give every student rostered in a linked HS section a ``secondary`` enrollment at
    the tech school's calendar (if missing) and a tech roster with the same start date; when
    the HS roster ends, end the tech roster on the same date.

    Outcomes per HS roster: ``added`` (tech roster created), ``ended`` (tech roster end date
    set from the HS roster), ``updated`` (end date cleared or changed back), ``unchanged``.
    """
    calendar = (
        Calendar.objects.filter(school_id=tech_school_id, school_year=school_year)
        .order_by("pk")
        .first()
    )
    if calendar is None:
        return []
    links = dict(
        KtsLink.objects.filter(tech_section__course__calendar=calendar)
        .order_by()
        .values_list("hs_section_id", "tech_section_id")
    )
    if not links:
        return []
    hs_rosters = list(
        Roster.objects.filter(section_id__in=list(links))
        .order_by("start_date", "id")
        .values("id", "student_id", "section_id", "start_date", "end_date")
    )
    tech_rosters = {
        (r["student_id"], r["section_id"], r["start_date"]): r
        for r in Roster.objects.filter(section_id__in=set(links.values()))
        .order_by()
        .values("id", "student_id", "section_id", "start_date", "end_date")
    }
    enrolled = set(
        Enrollment.objects.filter(calendar=calendar).order_by().values_list("student_id", flat=True)
    )

    outcomes: list[dict[str, Any]] = []
    new_enrollments: dict[int, Enrollment] = {}
    new_rosters: list[tuple[dict, Roster]] = []
    changed: list[Roster] = []
    seen: set[tuple] = set()
    for hs in hs_rosters:
        tech_section_id = links[hs["section_id"]]
        key = (hs["student_id"], tech_section_id, hs["start_date"])
        if key in seen:  # the same student in two HS sections linked to one tech section
            continue
        seen.add(key)
        common = {
            "student_id": hs["student_id"],
            "hs_section_id": hs["section_id"],
            "source_id": hs["id"],
        }
        existing = tech_rosters.get(key)
        if existing is None:
            if hs["student_id"] not in enrolled and hs["student_id"] not in new_enrollments:
                new_enrollments[hs["student_id"]] = Enrollment(
                    student_id=hs["student_id"],
                    calendar=calendar,
                    school_year=school_year,  # bulk_create skips save(), which derives it
                    service_type=ServiceType.SECONDARY,
                    start_date=hs["start_date"],
                )
            roster = Roster(
                student_id=hs["student_id"],
                section_id=tech_section_id,
                start_date=hs["start_date"],
                end_date=hs["end_date"],
            )
            o = outcome(Flow.ENROLLMENTS, Action.ADDED, **common, message="Tech roster added.")
            new_rosters.append((o, roster))
            outcomes.append(o)
        elif existing["end_date"] != hs["end_date"]:
            action = Action.ENDED if hs["end_date"] else Action.UPDATED
            changed.append(Roster(id=existing["id"], end_date=hs["end_date"]))
            outcomes.append(
                outcome(
                    Flow.ENROLLMENTS,
                    action,
                    **common,
                    target_id=existing["id"],
                    message=f"Tech roster end date set to {hs['end_date'] or 'open'}.",
                )
            )
        else:
            outcomes.append(
                outcome(Flow.ENROLLMENTS, Action.UNCHANGED, **common, target_id=existing["id"])
            )

    if not dry_run:
        batch = settings.EXCHANGE_BATCH_SIZE
        Enrollment.objects.bulk_create(new_enrollments.values(), batch_size=batch)
        Roster.objects.bulk_create([r for _, r in new_rosters], batch_size=batch)
        for o, r in new_rosters:
            o["target_id"] = r.pk
        if changed:
            now = timezone.now()
            for r in changed:
                r.modified_at = now
            Roster.objects.bulk_update(changed, ["end_date", "modified_at"], batch_size=batch)
    return outcomes
