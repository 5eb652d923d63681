"""R1/R2: districts, schools, calendars and terms."""

from __future__ import annotations

import datetime as dt

from schools.models import Calendar, District, School, Term
from schools.services.writes import model_save


def district_create(*, code: str, name: str) -> District:
    return model_save(instance=District(), code=code, name=name)


def school_create(
    *, district: District, code: str, name: str, kind: str, unknown_attendance_sync: bool = False
) -> School:
    """R1: a school belongs to a district and has a kind."""
    return model_save(
        instance=School(),
        district=district,
        code=code,
        name=name,
        kind=kind,
        unknown_attendance_sync=unknown_attendance_sync,
    )


def calendar_create(
    *, school: School, school_year: int, name: str, start_date: dt.date, end_date: dt.date
) -> Calendar:
    """R2: one calendar per school year; ``school_year`` is the year it ends."""
    return model_save(
        instance=Calendar(),
        school=school,
        school_year=school_year,
        name=name,
        start_date=start_date,
        end_date=end_date,
    )


def term_create(
    *, calendar: Calendar, name: str, seq: int, start_date: dt.date, end_date: dt.date
) -> Term:
    """R2: inside the calendar, no overlap, sequence order = date order."""
    return model_save(
        instance=Term(),
        calendar=calendar,
        name=name,
        seq=seq,
        start_date=start_date,
        end_date=end_date,
    )
