"""R26 real-time tech attendance report and its R37 disclosure log."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from attendance.selectors import tech_attendance_report
from attendance.services.codes import attendance_codes_ensure_defaults
from attendance.services.records import attendance_record
from exchange.models import KtsLink
from schools.models import DisclosureLog, SchoolKind, StaffRole, Student
from tests.factories import (
    YEAR,
    CalendarFactory,
    CourseFactory,
    EnrollmentFactory,
    RosterFactory,
    SchoolFactory,
    SectionFactory,
    UserFactory,
    semesters,
)
from tests.world import MONDAY, TUESDAY, attendance_world

URL = "/api/v1/reports/tech-attendance/"


def mark(world, student, code, day=MONDAY, section=None, school=None):
    return attendance_record(
        student=student,
        section=section or world.tech_section,
        date=day,
        code=world.code(school or world.tech_school, code),
    )[0]


def second_tech_school(world):
    """Another technical school where the first student also attends a linked section."""
    tech2 = SchoolFactory(kind=SchoolKind.TECHNICAL_SCHOOL, district=world.tech_school.district)
    cal = CalendarFactory(school=tech2, school_year=YEAR)
    semesters(cal)
    section = SectionFactory(course=CourseFactory(calendar=cal, is_kts=True))
    hs_section = SectionFactory(course=CourseFactory(calendar=world.hs_calendar, is_kts=True))
    KtsLink.objects.create(hs_section=hs_section, tech_section=section)
    attendance_codes_ensure_defaults(schools=[tech2])
    student = world.students[0]
    EnrollmentFactory(student=student, calendar=cal, service_type="secondary")
    RosterFactory(student=student, section=section)
    return tech2, section


def test_r26_hs_sees_its_students_tech_attendance_as_it_stands_now(world):
    # given
    s0, s1 = world.students[0], world.students[1]
    mark(world, s0, "UNK")
    mark(world, s1, "P")
    mark(world, s0, "AE")  # corrected since: the report shows it now, not last night
    # when
    rows = list(tech_attendance_report(school=world.hs_school, start=MONDAY, end=TUESDAY))
    # then
    by_student = {r["student"]: r for r in rows}
    assert set(by_student) == {s0.pk, s1.pk}
    row = by_student[s0.pk]
    assert (row["state_id"], row["tech_school"], row["section"], row["date"]) == (
        s0.state_id,
        world.tech_school.pk,
        world.tech_section.pk,
        MONDAY,
    )
    assert (row["status"], row["excuse"]) == ("absent", "excused")


def test_r26_only_own_students_and_only_tech_schools(world):
    # given: a student of another HS at the same tech section, and a HS record of our own
    other = attendance_world(students=1)
    mark(other, other.students[0], "UNK")
    mine = world.students[0]
    mark(world, mine, "P", section=world.hs_section, school=world.hs_school)
    mark(world, mine, "UNK")
    # when
    rows = list(tech_attendance_report(school=world.hs_school, start=MONDAY, end=MONDAY))
    # then
    assert [(r["student"], r["tech_school"]) for r in rows] == [(mine.pk, world.tech_school.pk)]


def test_r26_filters_by_status_excuse_and_student(world):
    # given
    s0, s1 = world.students[0], world.students[1]
    mark(world, s0, "UNK")
    mark(world, s1, "AU")
    # when
    unknown = list(
        tech_attendance_report(school=world.hs_school, start=MONDAY, end=MONDAY, excuse="unknown")
    )
    absent = list(
        tech_attendance_report(school=world.hs_school, start=MONDAY, end=MONDAY, status="absent")
    )
    one = list(
        tech_attendance_report(school=world.hs_school, start=MONDAY, end=MONDAY, student=s1.pk)
    )
    # then
    assert [r["student"] for r in unknown] == [s0.pk]
    assert len(absent) == 2
    assert [r["student"] for r in one] == [s1.pk]


def test_r26_constant_query_count_at_two_sizes(world, django_assert_max_num_queries):
    # given
    for s in world.students:
        mark(world, s, "P")
    with django_assert_max_num_queries(2):
        small = list(tech_attendance_report(school=world.hs_school, start=MONDAY, end=TUESDAY))
    for _ in range(12):
        mark(world, world.add_student(), "UNK", day=TUESDAY)
    # when
    with django_assert_max_num_queries(2):
        large = list(tech_attendance_report(school=world.hs_school, start=MONDAY, end=TUESDAY))
    # then
    assert len(small) == 3 and len(large) == 15


def test_r26_api_answers_rows_and_r37_logs_one_row_per_tech_school(api, world, superuser):
    # given
    tech2, section2 = second_tech_school(world)
    s0, s1 = world.students[0], world.students[1]
    mark(world, s0, "UNK")
    mark(world, s1, "P")
    mark(world, s0, "AU", section=section2, school=tech2)
    # when
    response = api.get(URL, {"school": world.hs_school.pk, "start": MONDAY, "end": TUESDAY})
    # then
    assert response.status_code == 200, response.json()
    rows = response.json()["results"]
    assert len(rows) == 3 and response.json()["count"] == 3
    assert set(rows[0]) >= {
        "student",
        "state_id",
        "tech_school",
        "section",
        "date",
        "code",
        "status",
        "excuse",
    }
    assert not any("name" in key and "school" not in key for key in rows[0])
    logs = {log.source_school_id: log for log in DisclosureLog.objects.all()}
    assert set(logs) == {world.tech_school.pk, tech2.pk}
    assert logs[world.tech_school.pk].student_ids == sorted([s0.pk, s1.pk])
    assert logs[world.tech_school.pk].record_count == 2
    assert logs[tech2.pk].student_ids == [s0.pk] and logs[tech2.pk].record_count == 1
    assert all(log.reader_school_id == world.hs_school.pk for log in logs.values())
    assert all(log.user == superuser for log in logs.values())


def test_r37_disclosure_log_holds_no_names(api, world):
    # given
    student = world.students[0]
    Student.objects.filter(pk=student.pk).update(first_name="Wilhelmina", last_name="Quarrington")
    student.refresh_from_db()
    mark(world, student, "UNK")
    # when
    api.get(URL, {"school": world.hs_school.pk, "start": MONDAY, "end": MONDAY})
    # then
    log = DisclosureLog.objects.get()
    stored = str(log.student_ids) + log.purpose + log.resource
    assert student.last_name not in stored and student.first_name not in stored
    assert log.student_ids == [student.pk]


@pytest.mark.parametrize(
    "params,field",
    [
        ({"start": "2026-11-16"}, "end"),
        ({"start": "16/11/2026", "end": "2026-11-17"}, "start"),
        ({"start": "2026-11-17", "end": "2026-11-16"}, "end"),
        ({"start": "2026-11-16", "end": "2026-11-17", "status": "asleep"}, "status"),
    ],
)
def test_r26_api_refuses_bad_query_with_400_and_logs_nothing(api, world, params, field):
    # when
    response = api.get(URL, {"school": world.hs_school.pk, **params})
    # then
    assert response.status_code == 400
    assert field in response.json()
    assert not DisclosureLog.objects.exists()


def test_r36_hs_clerk_reads_own_school_and_404_for_another(world):
    # given
    clerk = UserFactory()
    StaffRole.objects.create(user=clerk, role="attendance_clerk", school=world.hs_school)
    other_hs = SchoolFactory(kind=SchoolKind.HIGH_SCHOOL)
    mark(world, world.students[0], "UNK")
    client = APIClient()
    client.force_authenticate(clerk)
    # when
    own = client.get(URL, {"school": world.hs_school.pk, "start": MONDAY, "end": MONDAY})
    other = client.get(URL, {"school": other_hs.pk, "start": MONDAY, "end": MONDAY})
    # then
    assert own.status_code == 200 and len(own.json()["results"]) == 1
    assert other.status_code == 404
    assert DisclosureLog.objects.get().user == clerk


@pytest.mark.parametrize("role", ["teacher", "registrar", "attendance_clerk"])
def test_r42_tech_attendance_api_checks_role_and_scope_before_the_query(world, role):
    # given a teacher or registrar of the HS (not a reader of the report), and a clerk of
    # the HS asking about another school
    user = UserFactory()
    StaffRole.objects.create(user=user, role=role, school=world.hs_school)
    other_hs = SchoolFactory(kind=SchoolKind.HIGH_SCHOOL)
    school = other_hs if role == "attendance_clerk" else world.hs_school
    client = APIClient()
    client.force_authenticate(user)
    # when they ask with good dates and with bad ones
    good = client.get(URL, {"school": school.pk, "start": MONDAY, "end": MONDAY})
    bad = [
        client.get(URL, {"school": school.pk, "start": "nope", "end": MONDAY}),
        client.get(URL, {"school": school.pk, "start": TUESDAY, "end": MONDAY}),
        client.get(URL, {"school": school.pk}),
    ]
    # then every answer is the same 404 and nothing is logged
    assert good.status_code == 404
    for r in bad:
        assert (r.status_code, r.json()) == (404, good.json())
    assert not DisclosureLog.objects.exists()


def test_r26_page_shows_names_offers_csv_and_logs_each_read(client, world, superuser):
    # given
    client.force_login(superuser)
    student = world.students[0]
    mark(world, student, "UNK")
    url = f"/school/{world.hs_school.pk}/tech-attendance/"
    # when
    page = client.get(url, {"start": MONDAY, "end": TUESDAY})
    csv = client.get(url, {"start": MONDAY, "end": TUESDAY, "format": "csv"})
    # then
    assert page.status_code == 200
    assert student.last_name in page.content.decode()
    assert "format=csv" in page.content.decode()
    assert csv["Content-Type"] == "text/csv"
    lines = b"".join(csv.streaming_content).decode().strip().splitlines()
    assert lines[0].startswith("state_id") and student.state_id in lines[1]
    assert DisclosureLog.objects.count() == 2


def test_r26_page_bad_dates_answer_400(client, world, superuser):
    # given
    client.force_login(superuser)
    # when
    page = client.get(f"/school/{world.hs_school.pk}/tech-attendance/", {"start": "nope"})
    # then
    assert page.status_code == 400
    assert not DisclosureLog.objects.exists()


def test_r26_api_query_count_is_constant_at_two_sizes(api, world, django_assert_max_num_queries):
    # given
    tech2, section2 = second_tech_school(world)
    for s in world.students:
        mark(world, s, "P")
    params = {"school": world.hs_school.pk, "start": MONDAY, "end": TUESDAY}
    with django_assert_max_num_queries(9):
        small = api.get(URL, params)
    for _ in range(10):
        mark(world, world.add_student(), "UNK", day=TUESDAY)
    mark(world, world.students[0], "AU", section=section2, school=tech2)
    # when
    with django_assert_max_num_queries(9):
        large = api.get(URL, params)
    # then
    assert small.json()["count"] == 3 and large.json()["count"] == 14


def test_r26_student_who_moved_to_another_hs_next_year_is_not_shown_for_that_year(world):
    # given: next school year the student's primary enrollment is at another HS
    import datetime as dt

    from attendance.models import Attendance

    student = world.students[0]
    next_year = YEAR + 1
    start, end = dt.date(2027, 8, 9), dt.date(2028, 5, 26)
    CalendarFactory(school=world.hs_school, school_year=next_year, start_date=start, end_date=end)
    other_hs = SchoolFactory(kind=SchoolKind.HIGH_SCHOOL)
    other_cal = CalendarFactory(
        school=other_hs, school_year=next_year, start_date=start, end_date=end
    )
    EnrollmentFactory(student=student, calendar=other_cal, service_type="primary")
    tech_cal = CalendarFactory(
        school=world.tech_school, school_year=next_year, start_date=start, end_date=end
    )
    EnrollmentFactory(student=student, calendar=tech_cal, service_type="secondary")
    section = SectionFactory(course=CourseFactory(calendar=tech_cal, is_kts=True))
    Attendance.objects.create(
        student=student,
        section=section,
        date=dt.date(2027, 8, 16),
        code=world.code(world.tech_school, "UNK"),
    )
    Attendance.objects.create(
        student=student,
        section=world.tech_section,
        date=dt.date(2027, 5, 24),
        code=world.code(world.tech_school, "P"),
    )
    # when
    mine = list(tech_attendance_report(school=world.hs_school, start=dt.date(2027, 5, 1), end=end))
    theirs = list(tech_attendance_report(school=other_hs, start=dt.date(2027, 5, 1), end=end))
    # then
    assert [r["date"] for r in mine] == [dt.date(2027, 5, 24)]
    assert [r["date"] for r in theirs] == [dt.date(2027, 8, 16)]


def _days(n: int) -> list:
    """``n`` weekdays ending on MONDAY (all inside the first semester)."""
    import datetime as dt

    days, day = [], MONDAY
    while len(days) < n:
        if day.weekday() < 5:
            days.append(day)
        day -= dt.timedelta(days=1)
    return sorted(days)


def _fill(world, days) -> None:
    for s in world.students:
        for d in days:
            mark(world, s, "UNK" if d == days[0] else "P", day=d)


def test_r26_report_query_count_does_not_grow_with_students_or_days(
    api, client, superuser, world, django_assert_max_num_queries
):
    # given: the report read four ways (selector, API page, HTML page, CSV download)
    client.force_login(superuser)
    page_url = f"/school/{world.hs_school.pk}/tech-attendance/"

    def read_all_four(days) -> tuple:
        params = {"school": world.hs_school.pk, "start": days[0], "end": days[-1]}
        counts = []
        with CaptureQueriesContext(connection) as selector:
            rows = list(tech_attendance_report(school=world.hs_school, start=days[0], end=days[-1]))
        with CaptureQueriesContext(connection) as api_read:
            assert api.get(URL, {**params, "page_size": 5}).status_code == 200
        with CaptureQueriesContext(connection) as page_read:
            assert client.get(page_url, {"start": days[0], "end": days[-1]}).status_code == 200
        with CaptureQueriesContext(connection) as csv_read:
            response = client.get(page_url, {"start": days[0], "end": days[-1], "format": "csv"})
            b"".join(response.streaming_content)
        for captured in (selector, api_read, page_read, csv_read):
            counts.append(len(captured.captured_queries))
        return len(rows), counts

    small_days = _days(2)
    _fill(world, small_days)
    small_rows, small = read_all_four(small_days)
    # when: five times the students and ten times the days
    for _ in range(12):
        world.add_student()
    large_days = _days(20)
    _fill(world, large_days)
    large_rows, large = read_all_four(large_days)
    # then: the same number of queries, and the report reads the selector in one
    assert (small_rows, large_rows) == (3 * 2, 15 * 20)
    assert large == small, (small, large)
    assert small[0] == 2  # the school's own students, then their rows


def test_r26_api_pages_the_report_in_the_house_way(api, world):
    # given: 3 students over 4 school days = 12 rows
    days = _days(4)
    _fill(world, days)
    params = {"school": world.hs_school.pk, "start": days[0], "end": days[-1], "page_size": 5}
    # when
    first = api.get(URL, params).json()
    last = api.get(URL, {**params, "page": 3}).json()
    # then: pages of 5 that add up to the whole report in its order, no row twice
    assert first["count"] == 12 and first["previous"] is None and "page=2" in first["next"]
    assert len(first["results"]) == 5 and len(last["results"]) == 2 and last["next"] is None
    every = [
        row for n in (1, 2, 3) for row in api.get(URL, {**params, "page": n}).json()["results"]
    ]
    keys = [(r["date"], r["student"], r["section"]) for r in every]
    assert len(set(keys)) == 12
    assert [r["date"] for r in every] == sorted(r["date"] for r in every)
    # R37: each page logs what it disclosed, and only that
    logs = DisclosureLog.objects.filter(reader_school=world.hs_school).order_by("id")
    assert [log.record_count for log in logs][:2] == [5, 2]


def test_r26_page_is_paginated_and_the_csv_streams_every_row(client, world, superuser):
    # given: more rows than one page holds
    from attendance import views

    client.force_login(superuser)
    days = _days(3)
    _fill(world, days)
    url = f"/school/{world.hs_school.pk}/tech-attendance/"
    params = {"start": days[0], "end": days[-1]}
    old = views.TECH_ROWS_PER_PAGE
    views.TECH_ROWS_PER_PAGE = 4
    try:
        # when
        first = client.get(url, params)
        second = client.get(url, {**params, "page": 2})
        download = client.get(url, {**params, "page": 2, "format": "csv"})
    finally:
        views.TECH_ROWS_PER_PAGE = old
    # then: the page shows 4 of 9 with a link on, the CSV streams all 9
    html = first.content.decode()
    assert "Page 1 of 3" in html and "page=2" in html and "9 records" in html
    assert first.context["rows"] and len(first.context["rows"]) == 4
    assert second.context["page"].number == 2
    assert download.streaming
    lines = b"".join(download.streaming_content).decode().strip().splitlines()
    assert len(lines) == 1 + 9
    # R37: the pages logged 4 + 4 rows, the download all 9 (one log row per tech school)
    counts = list(
        DisclosureLog.objects.filter(reader_school=world.hs_school)
        .order_by("id")
        .values_list("record_count", "student_ids")
    )
    assert counts[0][0] == 4 and counts[1][0] == 4
    assert counts[2] == (9, sorted(s.pk for s in world.students))
