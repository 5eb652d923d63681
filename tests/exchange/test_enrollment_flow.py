"""The enrollment flow of the exchange (R18)."""

import datetime as dt

from exchange.services import exchange_run
from schools.models import Enrollment, Roster
from tests.exchange.conftest import AS_OF
from tests.factories import EnrollmentFactory


def _run():
    return exchange_run(as_of=AS_OF, trigger="test", inline=True)


def test_r18_hs_roster_gives_secondary_enrollment_and_tech_roster(world):
    # given: three students rostered in the linked HS section
    # when
    run = _run()
    # then: each has a secondary enrollment at the tech calendar and a tech roster
    tech_cal = world.tech_section.course.calendar
    enr = Enrollment.objects.filter(calendar=tech_cal)
    assert sorted(enr.values_list("student_id", flat=True)) == sorted(s.pk for s in world.students)
    assert set(enr.values_list("service_type", "school_year")) == {("secondary", 2027)}
    tech = Roster.objects.filter(section=world.tech_section)
    hs_starts = dict(
        Roster.objects.filter(section=world.hs_section).values_list("student_id", "start_date")
    )
    assert dict(tech.values_list("student_id", "start_date")) == hs_starts
    assert run.counts["enrollments"]["added"] == 3


def test_r18_existing_enrollment_is_kept_and_rerun_is_unchanged(world):
    # given: one student already enrolled at the tech school
    tech_cal = world.tech_section.course.calendar
    EnrollmentFactory(student=world.students[0], calendar=tech_cal, service_type="secondary")
    # when: two runs
    _run()
    run = _run()
    # then: no second enrollment, no second roster
    assert Enrollment.objects.filter(calendar=tech_cal).count() == 3
    assert Roster.objects.filter(section=world.tech_section).count() == 3
    assert run.counts["enrollments"] == {**run.counts["enrollments"], "unchanged": 3, "added": 0}


def test_r18_hs_roster_end_ends_the_tech_roster_on_the_same_date(world):
    # given: tech rosters made by the exchange
    _run()
    leaver = world.students[0]
    end = dt.date(2026, 11, 20)
    Roster.objects.filter(section=world.hs_section, student=leaver).update(end_date=end)
    # when
    run = _run()
    # then
    assert Roster.objects.get(section=world.tech_section, student=leaver).end_date == end
    assert run.counts["enrollments"]["ended"] == 1
    assert run.counts["enrollments"]["unchanged"] == 2
