"""The enrollment flow of the exchange (R18)."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from exchange.models import ExchangeOutcome, KtsLink
from exchange.services import exchange_run
from schools.models import Enrollment, Roster, Tombstone
from tests.factories import EnrollmentFactory, SectionFactory
from tests.world import AS_OF


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


# --- R48: the enrollment flow reconciles every tech roster --------------------------------


def _tech(world, student):
    return Roster.objects.filter(section=world.tech_section, student=student)


def test_r48_corrected_hs_start_date_corrects_the_tech_roster(world):
    # given: tech rosters made by the exchange; then the HS fixes a start date 08-10 -> 08-17
    _run()
    student = world.students[0]
    hs = Roster.objects.get(section=world.hs_section, student=student)
    new_start = hs.start_date + dt.timedelta(days=7)
    Roster.objects.filter(pk=hs.pk).update(start_date=new_start)
    # when
    run = _run()
    # then: the same tech roster moves; no second open roster
    tech = _tech(world, student)
    assert list(tech.values_list("start_date", "end_date")) == [(new_start, None)]
    assert run.counts["enrollments"]["updated"] == 1
    assert run.counts["enrollments"]["added"] == 0


def test_r48_corrected_hs_end_date_corrects_the_tech_roster(world):
    # given: an ended HS roster exchanged, then its end date corrected
    Roster.objects.filter(section=world.hs_section, student=world.students[0]).update(
        end_date=dt.date(2026, 11, 20)
    )
    _run()
    Roster.objects.filter(section=world.hs_section, student=world.students[0]).update(
        end_date=dt.date(2026, 11, 13)
    )
    # when
    run = _run()
    # then
    assert _tech(world, world.students[0]).get().end_date == dt.date(2026, 11, 13)
    assert run.counts["enrollments"]["ended"] == 1


def test_r48_deleted_hs_roster_ends_the_tech_roster_with_an_outcome(world):
    # given: a tech roster that began before the run date
    _run()
    leaver = world.students[0]
    Roster.objects.filter(section=world.hs_section, student=leaver).delete()
    # when
    run = _run()
    # then: ended on the run date, recorded
    assert _tech(world, leaver).get().end_date == AS_OF
    o = ExchangeOutcome.objects.get(run=run, action="ended")
    assert (o.student_id, o.flow) == (leaver.pk, "enrollments")
    assert run.counts["enrollments"]["ended"] == 1
    # and the next run leaves the ended roster alone
    again = _run()
    assert again.counts["enrollments"]["ended"] == 0
    assert _tech(world, leaver).get().end_date == AS_OF


def test_r48_deleted_hs_roster_removes_a_tech_roster_that_never_began(world):
    # given: a tech roster starting after the run date
    late = world.students[0]
    Roster.objects.filter(section=world.hs_section, student=late).update(
        start_date=AS_OF + dt.timedelta(days=10)
    )
    _run()
    tech_id = _tech(world, late).get().pk
    Roster.objects.filter(section=world.hs_section, student=late).delete()
    # when
    run = _run()
    # then: removed, with an outcome and a deletion record for the change feeds (R40)
    assert not _tech(world, late).exists()
    assert ExchangeOutcome.objects.get(run=run, action="removed").target_id == tech_id
    assert Tombstone.objects.filter(model="schools.Roster", object_id=tech_id).exists()
    assert run.counts["enrollments"]["removed"] == 1


def test_r48_removed_link_ends_the_tech_rosters(world):
    # given: tech rosters from a link that is then removed
    _run()
    KtsLink.objects.filter(hs_section=world.hs_section).delete()
    # when
    run = _run()
    # then: the tech school is still reconciled; every roster ended
    assert set(
        Roster.objects.filter(section=world.tech_section).values_list("end_date", flat=True)
    ) == {AS_OF}
    assert run.counts["enrollments"]["ended"] == 3


def test_r48_link_moved_to_another_tech_section_moves_the_rosters(world):
    # given: rosters in the first tech section, then the link moved to a second one
    _run()
    other = SectionFactory(course=world.tech_section.course)
    KtsLink.objects.filter(hs_section=world.hs_section).update(tech_section=other)
    # when
    run = _run()
    # then: old rosters ended, new ones open in the new section
    assert set(
        Roster.objects.filter(section=world.tech_section).values_list("end_date", flat=True)
    ) == {AS_OF}
    assert Roster.objects.filter(section=other, end_date__isnull=True).count() == 3
    assert run.counts["enrollments"]["ended"] == 3
    assert run.counts["enrollments"]["added"] == 3


def test_r48_one_open_roster_per_student_and_section(world):
    # given: an open roster
    roster = Roster.objects.filter(section=world.hs_section).first()
    second = Roster(
        student=roster.student,
        section=roster.section,
        start_date=roster.start_date + dt.timedelta(days=1),
    )
    # when / then: full_clean refuses with the code, and so does the database
    with pytest.raises(ValidationError) as exc:
        second.full_clean()
    codes = {e.code for errors in exc.value.error_dict.values() for e in errors}
    assert "roster_already_open" in codes
    with pytest.raises(IntegrityError), transaction.atomic():
        second.save()
    assert Roster.objects.filter(section=roster.section, student=roster.student).count() == 1
