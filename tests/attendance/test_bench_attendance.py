"""The attendance part of the exchange benchmark runs on a small data set (R26, R27)."""

import io

from attendance.models import Attendance
from exchange.benchmarks.attendance import bench_attendance, last_instructional_day
from tests.attendance.world import MONDAY, TUESDAY, build_world
from tests.factories import YEAR


def test_r27_r26_bench_attendance_on_a_handful_of_rows(db):
    # given: a world with the unknown sync off and no codes at the HS
    world = build_world(n_students=4, sync=False)
    world.hs.attendance_codes.all().delete()
    out = io.StringIO()
    # when
    figures = bench_attendance(as_of=TUESDAY, stdout=out)
    # then
    assert figures["attendance_rows"] == 4
    assert figures["attendance_unknown"] == 1
    assert figures["attendance_added"] == 1
    assert figures["report_students"] == 4
    assert figures["report_rows"] == 4
    for key in ("attendance_seconds", "attendance_rows_per_s", "tech_attendance_report_ms"):
        assert figures[key] >= 0
    assert Attendance.objects.filter(section=world.tech_section, date=MONDAY).count() == 4
    copy = Attendance.objects.get(section=world.hs_section)
    assert copy.code.excuse == "unknown" and copy.source == "exchange"
    world.hs.refresh_from_db()
    assert world.hs.unknown_attendance_sync
    assert "unknown-attendance sync" in out.getvalue()


def test_bench_last_instructional_day_skips_weekends(world):
    # given: as of a Monday, the last instructional day is the Friday before
    # when
    day = last_instructional_day(before=MONDAY, school_year=YEAR)
    # then
    assert day.weekday() == 4 and (MONDAY - day).days == 3
