"""The logs every night writes by the tens of thousands (R14, R29): the outcome log keeps
one index, by run, and the grade history indexes its author only where there is one. What
the per-key indexes were for - deleting a school, a student, a section or a user - still
clears or removes their rows."""

import pytest
from django.db import connection

from exchange.models import ExchangeOutcome, ExchangeRun
from grading.models import GradeHistory
from tests.factories import RosterFactory, UserFactory
from tests.world import AS_OF

pytestmark = pytest.mark.django_db


def _outcome(run, roster, **kw):
    return ExchangeOutcome.objects.create(
        run=run,
        tech_school=roster.section.course.calendar.school,
        flow="grades",
        action="skipped",
        reason="not_rostered",
        student=roster.student,
        hs_section=roster.section,
        **kw,
    )


def test_r29_deleting_a_student_or_a_section_clears_its_key_in_the_outcome_log():
    # given two outcomes of one run, for two students in two sections of two schools
    run = ExchangeRun.objects.create(as_of=AS_OF, trigger="test")
    kept_roster, gone_roster = RosterFactory(), RosterFactory()
    kept, gone = _outcome(run, kept_roster), _outcome(run, gone_roster)
    # when one student, then the other's section, are deleted
    gone_roster.delete()
    gone_roster.student.delete()
    kept_roster.delete()
    kept_roster.section.delete()
    # then each outcome stays in the log with that key cleared, and the other keys kept
    kept.refresh_from_db()
    gone.refresh_from_db()
    assert (gone.student_id, gone.hs_section_id) == (None, gone_roster.section_id)
    assert (kept.student_id, kept.hs_section_id) == (kept_roster.student_id, None)


def test_r29_deleting_a_school_removes_its_outcomes():
    # given an outcome of each of two tech schools
    run = ExchangeRun.objects.create(as_of=AS_OF, trigger="test")
    kept_roster, gone_roster = RosterFactory(), RosterFactory()
    kept, gone = _outcome(run, kept_roster), _outcome(run, gone_roster)
    school = gone_roster.section.course.calendar.school
    # when one school is deleted with everything under it
    gone_roster.delete()
    gone_roster.section.delete()
    gone_roster.section.course.delete()
    gone_roster.section.course.calendar.delete()
    school.delete()
    # then its outcome goes; the other school's stays
    assert list(ExchangeOutcome.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not ExchangeOutcome.objects.filter(pk=gone.pk).exists()


def test_r14_deleting_a_user_clears_them_as_the_author_of_their_changes(world):
    # given a change by a person and one by the exchange (no author)
    teacher = UserFactory()
    student = world.add_students(1)[0]
    grade = world.post_tech_grade(student, "91.00")
    by_person = GradeHistory.objects.create(grade=grade, changed_by=teacher, source="teacher")
    by_run = GradeHistory.objects.create(grade=grade, source="exchange", run_id=1)
    # when the user is deleted
    teacher.delete()
    # then their change stays with no author; the exchange's is as it was
    by_person.refresh_from_db()
    by_run.refresh_from_db()
    assert by_person.changed_by_id is None and by_run.source == "exchange"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's catalog")
def test_r29_the_nightly_logs_index_only_what_is_read():
    # given the tables the night writes a row to for each grade it crosses
    def indexes(table):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename = %s ORDER BY indexname",
                [table],
            )
            return [d for (d,) in cursor.fetchall()]

    # then the outcome log has its key and its run's index only
    outcome = indexes("exchange_exchangeoutcome")
    assert len(outcome) == 2
    assert any("(run_id, flow, action)" in d for d in outcome)
    # and the history's author index holds only the changes that have one
    author = [d for d in indexes("grading_gradehistory") if "(changed_by_id)" in d]
    assert len(author) == 1 and "WHERE (changed_by_id IS NOT NULL)" in author[0]
