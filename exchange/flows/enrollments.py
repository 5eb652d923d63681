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
    # Tuples, not values() dicts: tens of thousands of rows a night, most of them unchanged.
    hs_rosters = list(
        Roster.objects.filter(section_id__in=list(links))
        .order_by("start_date", "id")
        .values_list("id", "student_id", "section_id", "start_date", "end_date")
    )
    tech_rosters = {
        (student_id, section_id, start): (roster_id, end)
        for roster_id, student_id, section_id, start, end in Roster.objects.filter(
            section_id__in=set(links.values())
        )
        .order_by()
        .values_list("id", "student_id", "section_id", "start_date", "end_date")
    }
    enrolled = set(
        Enrollment.objects.filter(calendar=calendar).order_by().values_list("student_id", flat=True)
    )

    outcomes: list[dict[str, Any]] = []
    new_enrollments: dict[int, Enrollment] = {}
    new_rosters: list[tuple[dict, Roster]] = []
    changed: list[Roster] = []
    seen: set[tuple] = set()
    flow = Flow.ENROLLMENTS
    for hs_roster_id, student_id, hs_section_id, start, end in hs_rosters:
        tech_section_id = links[hs_section_id]
        key = (student_id, tech_section_id, start)
        if key in seen:  # the same student in two HS sections linked to one tech section
            continue
        seen.add(key)
        existing = tech_rosters.get(key)
        if existing is None:
            if student_id not in enrolled and student_id not in new_enrollments:
                new_enrollments[student_id] = Enrollment(
                    student_id=student_id,
                    calendar=calendar,
                    school_year=school_year,  # bulk_create skips save(), which derives it
                    service_type=ServiceType.SECONDARY,
                    start_date=start,
                )
            roster = Roster(
                student_id=student_id,
                section_id=tech_section_id,
                start_date=start,
                end_date=end,
            )
            o = outcome(
                flow,
                Action.ADDED,
                student_id=student_id,
                hs_section_id=hs_section_id,
                source_id=hs_roster_id,
                message="Tech roster added.",
            )
            new_rosters.append((o, roster))
            outcomes.append(o)
            continue
        tech_roster_id, tech_end = existing
        if tech_end != end:
            changed.append(Roster(id=tech_roster_id, end_date=end))
            outcomes.append(
                outcome(
                    flow,
                    Action.ENDED if end else Action.UPDATED,
                    student_id=student_id,
                    hs_section_id=hs_section_id,
                    source_id=hs_roster_id,
                    target_id=tech_roster_id,
                    message=f"Tech roster end date set to {end or 'open'}.",
                )
            )
        else:  # the common case on a quiet night: the same dict outcome() builds, inline
            outcomes.append(
                {
                    "flow": flow,
                    "action": Action.UNCHANGED,
                    "reason": "",
                    "student_id": student_id,
                    "hs_section_id": hs_section_id,
                    "source_id": hs_roster_id,
                    "target_id": tech_roster_id,
                    "message": "",
                }
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
