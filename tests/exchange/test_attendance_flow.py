"""R27: the unknown-attendance flow of the nightly exchange."""

import datetime as dt

import pytest

from attendance.models import Attendance
from attendance.selectors import unknown_worklist
from attendance.services.records import attendance_record
from attendance.services.worklist import attendance_resolve
from exchange.flows.attendance import sync_unknown_attendance
from schools.models import Tombstone
from tests.factories import YEAR, UserFactory
from tests.world import MONDAY, TUESDAY, attendance_world

WEDNESDAY = TUESDAY + dt.timedelta(days=1)
THURSDAY = TUESDAY + dt.timedelta(days=2)


def sync(world, *, as_of, dry_run=False, run_id=1):
    return sync_unknown_attendance(
        run_id=run_id,
        tech_school_id=world.tech_school.pk,
        as_of=as_of,
        school_year=YEAR,
        dry_run=dry_run,
    )


def tech_mark(world, student, code, day=MONDAY):
    record, _ = attendance_record(
        student=student,
        section=world.tech_section,
        date=day,
        code=world.code(world.tech_school, code),
        by=world.teacher,
    )
    return record


def actions(outcomes):
    return sorted((o["action"], o["reason"]) for o in outcomes)


@pytest.fixture
def world(db):
    return attendance_world()


def test_r27_scenario_unknown_monday_on_the_worklist_tuesday_then_clerk_and_tech_changes(world):
    # given: Monday the tech school marks one student unknown and another unknown
    clerk = UserFactory()
    first, second = world.students[0], world.students[1]
    tech_first = tech_mark(world, first, "UNK")
    tech_second = tech_mark(world, second, "UNK")
    tech_mark(world, world.students[2], "P")

    # when: the night before Tuesday morning runs
    outcomes = sync(world, as_of=TUESDAY, run_id=7)

    # then: both are on the HS worklist with the HS's unknown code
    assert actions(outcomes) == [("added", ""), ("added", "")]
    worklist = list(unknown_worklist(school=world.hs_school))
    assert [r.student_id for r in worklist] == sorted([first.pk, second.pk], key=lambda x: x)
    copy = Attendance.objects.get(student=first, section=world.hs_section)
    assert copy.code == world.code(world.hs_school, "UNK")
    assert (copy.source, copy.source_record_id, copy.run_id) == ("exchange", tech_first.pk, 7)
    assert {o["target_id"] for o in outcomes} == set(
        Attendance.objects.filter(section=world.hs_section).values_list("pk", flat=True)
    )

    # when: the clerk resolves the first; the tech school then changes both records
    attendance_resolve(record=copy, code=world.code(world.hs_school, "AE"), by=clerk)
    tech_mark(world, first, "AU")
    tech_mark(world, second, "P")
    outcomes = sync(world, as_of=WEDNESDAY, run_id=8)

    # then: the resolved record stays as the clerk left it; the other one is gone
    assert actions(outcomes) == [("removed", ""), ("skipped", "resolved")]
    copy.refresh_from_db()
    assert copy.code == world.code(world.hs_school, "AE") and copy.resolved_by == clerk
    assert not Attendance.objects.filter(student=second, section=world.hs_section).exists()
    assert Attendance.objects.filter(pk=tech_second.pk).exists()
    assert list(unknown_worklist(school=world.hs_school)) == []

    # when: rerunning with nothing changed
    before = list(Attendance.objects.order_by("pk").values())
    again = sync(world, as_of=WEDNESDAY, run_id=9)

    # then: nothing is written
    assert {o["action"] for o in again} <= {"unchanged", "skipped"}
    assert list(Attendance.objects.order_by("pk").values()) == before


def test_r27_corrected_to_another_absence_takes_the_matching_hs_code_and_leaves_worklist(world):
    # given
    student = world.students[0]
    tech_mark(world, student, "UNK")
    sync(world, as_of=TUESDAY)
    # when
    tech_mark(world, student, "AE")
    outcomes = sync(world, as_of=WEDNESDAY)
    # then
    assert actions(outcomes) == [("updated", "")]
    copy = Attendance.objects.get(section=world.hs_section)
    assert copy.code == world.code(world.hs_school, "AE")
    assert copy.resolved_at is None
    assert list(unknown_worklist(school=world.hs_school)) == []


def test_r27_second_run_with_no_change_is_all_unchanged_and_writes_nothing(
    world, django_assert_max_num_queries
):
    # given
    for s in world.students:
        tech_mark(world, s, "UNK")
    sync(world, as_of=TUESDAY)
    before = list(Attendance.objects.order_by("pk").values())
    # when
    with django_assert_max_num_queries(6):
        outcomes = sync(world, as_of=TUESDAY)
    # then
    assert [o["action"] for o in outcomes] == ["unchanged"] * 3
    assert list(Attendance.objects.order_by("pk").values()) == before


def test_r27_a_school_with_no_tech_record_to_place_reads_no_rosters(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # given: no unknown tech attendance at all
    # when
    with CaptureQueriesContext(connection) as queries:
        outcomes = sync(world, as_of=TUESDAY)
    # then: nothing to do, found without reading the HS sections' rosters
    assert outcomes == []
    assert not [q for q in queries.captured_queries if "schools_roster" in q["sql"]]
    # and: once there is one, the rosters are read and it is placed
    tech_mark(world, world.students[0], "UNK")
    with CaptureQueriesContext(connection) as queries:
        outcomes = sync(world, as_of=WEDNESDAY)
    assert [o["action"] for o in outcomes] == ["added"]
    assert [q for q in queries.captured_queries if "schools_roster" in q["sql"]]


def test_r27_query_count_does_not_grow_with_the_number_of_records(
    world, django_assert_max_num_queries
):
    # given: 3 unknown records, then 12
    for s in world.students:
        tech_mark(world, s, "UNK")
    with django_assert_max_num_queries(8):
        small = sync(world, as_of=TUESDAY)
    for _ in range(9):
        tech_mark(world, world.add_student(), "UNK", day=TUESDAY)
    # when
    with django_assert_max_num_queries(8):
        large = sync(world, as_of=WEDNESDAY)
    # then
    assert len(small) == 3 and len(large) == 12


def test_r27_a_school_with_nothing_to_do_costs_one_query_whatever_its_records(
    world, django_assert_num_queries
):
    # given: tech records before the run date that are not unknown, an unknown one on the
    # run date itself (not before it), and records the HS took itself: nothing to copy,
    # no copy to keep or undo
    def mark_nothing_to_do(students):
        for s in students:
            tech_mark(world, s, "P")
            tech_mark(world, s, "AE", day=TUESDAY)
            tech_mark(world, s, "UNK", day=WEDNESDAY)
            attendance_record(
                student=s,
                section=world.hs_section,
                date=MONDAY,
                code=world.code(world.hs_school, "AE"),
            )

    mark_nothing_to_do(world.students)
    before = list(Attendance.objects.order_by("pk").values())
    # when / then: one query, which finds there is nothing to do
    with django_assert_num_queries(1):
        assert sync(world, as_of=WEDNESDAY) == []
    # and: four times the records, still one query, nothing written
    mark_nothing_to_do([world.add_student() for _ in range(9)])
    with django_assert_num_queries(1):
        assert sync(world, as_of=WEDNESDAY) == []
    assert Attendance.objects.count() == len(before) * 4
    assert not Attendance.objects.filter(source="exchange").exists()
    # and: the day after, the unknown record is before the run date and is copied
    outcomes = sync(world, as_of=THURSDAY)
    assert actions(outcomes) == [("added", "")] * 12
    assert Attendance.objects.filter(source="exchange").count() == 12


def test_r27_dry_run_computes_outcomes_and_writes_nothing(world):
    # given
    tech_mark(world, world.students[0], "UNK")
    # when
    outcomes = sync(world, as_of=TUESDAY, dry_run=True)
    # then
    assert actions(outcomes) == [("added", "")]
    assert not Attendance.objects.filter(section=world.hs_section).exists()


def test_r27_only_days_before_the_run_date_are_copied(world):
    # given
    tech_mark(world, world.students[0], "UNK", day=TUESDAY)
    # when
    outcomes = sync(world, as_of=TUESDAY)
    # then
    assert outcomes == []
    assert not Attendance.objects.filter(section=world.hs_section).exists()


def test_r27_off_by_default_nothing_is_copied(db):
    # given
    world = attendance_world(sync=False)
    tech_mark(world, world.students[0], "UNK")
    # when
    outcomes = sync(world, as_of=TUESDAY)
    # then
    assert outcomes == []
    assert not Attendance.objects.filter(section=world.hs_section).exists()


def test_r27_student_not_rostered_in_the_hs_section_is_skipped(world):
    # given
    student = world.add_student(hs_roster=False)
    tech_mark(world, student, "UNK")
    # when
    outcomes = sync(world, as_of=TUESDAY)
    # then
    assert actions(outcomes) == [("skipped", "not_rostered")]
    assert not Attendance.objects.filter(section=world.hs_section).exists()


def test_r27_hs_without_an_unknown_code_is_skipped(world):
    # given
    world.hs_school.attendance_codes.filter(excuse="unknown").delete()
    tech_mark(world, world.students[0], "UNK")
    # when
    outcomes = sync(world, as_of=TUESDAY)
    # then
    assert actions(outcomes) == [("skipped", "no_unknown_code")]


def test_r27_corrected_to_a_code_the_hs_lacks_is_skipped_and_kept(world):
    # given
    student = world.students[0]
    tech_mark(world, student, "UNK")
    sync(world, as_of=TUESDAY)
    world.hs_school.attendance_codes.filter(code="AX").delete()
    # when
    tech_mark(world, student, "AX")
    outcomes = sync(world, as_of=WEDNESDAY)
    # then
    assert actions(outcomes) == [("skipped", "no_matching_code")]
    assert Attendance.objects.get(section=world.hs_section).code.code == "UNK"


def test_r27_tech_record_deleted_removes_the_unresolved_hs_copy(world):
    # given
    tech = tech_mark(world, world.students[0], "UNK")
    sync(world, as_of=TUESDAY)
    copy_id = Attendance.objects.get(section=world.hs_section).pk
    # when
    tech.delete()
    outcomes = sync(world, as_of=WEDNESDAY)
    # then
    assert actions(outcomes) == [("removed", "")]
    assert outcomes[0]["target_id"] == copy_id
    assert not Attendance.objects.filter(section=world.hs_section).exists()
    assert Tombstone.objects.filter(model="attendance.Attendance", object_id=copy_id).exists()


def test_r27_hs_record_entered_by_the_hs_is_never_overwritten(world):
    # given: the HS already recorded that day itself
    student = world.students[0]
    own, _ = attendance_record(
        student=student,
        section=world.hs_section,
        date=MONDAY,
        code=world.code(world.hs_school, "AE"),
    )
    tech_mark(world, student, "UNK")
    # when
    outcomes = sync(world, as_of=TUESDAY)
    # then
    assert actions(outcomes) == [("skipped", "resolved")]
    own.refresh_from_db()
    assert own.code.code == "AE" and own.source == "teacher"


def test_r27_unknown_code_prefers_the_absent_one(world):
    # given: the HS has a tardy-unknown code too
    from attendance.services.codes import attendance_code_create

    attendance_code_create(school=world.hs_school, code="0TU", status="tardy", excuse="unknown")
    tech_mark(world, world.students[0], "UNK")
    # when
    sync(world, as_of=TUESDAY)
    # then
    assert Attendance.objects.get(section=world.hs_section).code.code == "UNK"


def test_r27_outcome_dicts_have_the_contract_keys(world):
    # given
    tech_mark(world, world.students[0], "UNK")
    # when
    (outcome,) = sync(world, as_of=TUESDAY)
    # then
    assert set(outcome) == {
        "flow",
        "action",
        "reason",
        "student_id",
        "hs_section_id",
        "source_id",
        "target_id",
        "message",
    }
    assert outcome["flow"] == "attendance" and outcome["hs_section_id"] == world.hs_section.pk
