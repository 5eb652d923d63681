"""The attendance part of the exchange benchmark runs on a small data set (R26, R27)."""

import datetime as dt
import io

from attendance.models import Attendance
from exchange.benchmarks.attendance import (
    bench_attendance,
    instructional_days,
    last_instructional_day,
)
from tests.factories import YEAR
from tests.world import MONDAY, TUESDAY, attendance_world


def test_r27_r26_bench_attendance_on_a_handful_of_rows(db):
    # given: a world with the unknown sync off and no codes at the HS
    world = attendance_world(students=4, sync=False)
    world.hs_school.attendance_codes.all().delete()
    out = io.StringIO()
    # when
    figures = bench_attendance(as_of=TUESDAY, stdout=out)
    # then
    assert figures["attendance_rows"] == 4
    assert figures["attendance_unknown"] == 1
    assert figures["attendance_added"] == 1
    assert figures["report_students"] == 4
    # the largest HS's students get 30 school days of tech attendance (Monday's is kept)
    assert figures["report_days"] == 30
    assert figures["report_end"] == MONDAY.isoformat()
    assert figures["report_attendance_created"] == 4 * 30 - 4
    assert figures["report_rows"] == 4 * 30
    assert len(figures["report_runs_ms"]) == 5
    for key in ("attendance_seconds", "attendance_rows_per_s", "tech_attendance_report_ms"):
        assert figures[key] >= 0
    assert Attendance.objects.filter(section=world.tech_section, date=MONDAY).count() == 4
    copy = Attendance.objects.get(section=world.hs_section)
    assert copy.code.excuse == "unknown" and copy.source == "exchange"
    world.hs_school.refresh_from_db()
    assert world.hs_school.unknown_attendance_sync
    assert "unknown-attendance sync" in out.getvalue()
    assert "tech-attendance report detail: 4 students, 30 school days" in out.getvalue()


def test_bench_last_instructional_day_skips_weekends(world):
    # given: as of a Monday, the last instructional day is the Friday before
    # when
    day = last_instructional_day(before=MONDAY, school_year=YEAR)
    # then
    assert day.weekday() == 4 and (MONDAY - day).days == 3


def test_r26_bench_instructional_days_are_weekdays_inside_tech_terms(world):
    # given: a tech school whose first semester starts on Monday 10 August 2026
    # when: 30 days before a Tuesday in November, and before the year has 30 days
    late = instructional_days(before=TUESDAY, school_year=YEAR, count=30)
    early = instructional_days(before=dt.date(2026, 8, 20), school_year=YEAR, count=30)
    # then: the last 30 weekdays before, else the first 30 of the year
    assert len(late) == 30 and late[-1] == MONDAY
    assert all(d.weekday() < 5 for d in late)
    assert len(early) == 30 and early[0] == dt.date(2026, 8, 10)
    assert early[-1] == dt.date(2026, 9, 18)
    assert instructional_days(before=TUESDAY, school_year=YEAR - 5, count=30) == []
