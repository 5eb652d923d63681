"""grade_post / grade_post_bulk: R5, R13, R14, R16, R23."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from exchange.models import KtsLink
from grading.models import Grade, GradeHistory, GradeSource
from grading.services.grades import GradeRowsError, grade_post, grade_post_bulk
from schools.models import SchoolKind
from tests.factories import (
    CalendarFactory,
    CourseFactory,
    SchoolFactory,
    SectionFactory,
    StudentFactory,
    quarters,
    setup_cte_tasks,
)
from tests.grading.conftest import enroll_and_roster

pytestmark = pytest.mark.django_db


def post(tech, student=None, **kwargs):
    values = {
        "student": student or tech.students[0],
        "section": tech.section,
        "grading_task": tech.term_task,
        "term": tech.s1,
        "by": tech.teacher,
    }
    values.update(kwargs)
    return grade_post(**values)


def codes(exc: ValidationError) -> set[str]:
    return {e.code for errors in exc.error_dict.values() for e in errors}


def test_r13_teacher_posts_percent_and_score_is_derived(tech):
    # when
    grade, created = post(tech, percent="92.5")
    # then
    assert created
    assert grade.percent == Decimal("92.50")
    assert grade.score == "A"
    assert grade.source == GradeSource.TEACHER
    assert grade.posted_by == tech.teacher


def test_r13_student_not_rostered_is_refused(tech):
    # given
    stranger = StudentFactory()
    # when
    with pytest.raises(ValidationError) as err:
        post(tech, student=stranger, percent="80")
    # then
    assert codes(err.value) == {"not_rostered"}
    assert not Grade.objects.exists()


def test_r13_roster_ended_before_the_term_is_refused(tech):
    # given: rostered only in August (S1 runs to December, S2 is the question)
    student = enroll_and_roster(
        tech.section, count=1, service_type="secondary", end_date=tech.s1.start_date
    )[0]
    tech.course_tasks["CTE_FINAL"].mask.update(active=True)
    # when
    with pytest.raises(ValidationError) as err:
        post(tech, student=student, grading_task=tech.final_task, term=tech.s2, percent="80")
    # then
    assert codes(err.value) == {"not_rostered"}
    assert not Grade.objects.exists()


def test_r13_another_teacher_is_refused(tech, other_teacher):
    with pytest.raises(ValidationError) as err:
        post(tech, percent="80", by=other_teacher)
    assert codes(err.value) == {"not_your_section"}
    assert not Grade.objects.exists()


def test_r13_superuser_may_post_for_any_section(tech, superuser):
    grade, created = post(tech, percent="80", by=superuser)
    assert created and grade.posted_by == superuser


def test_r11_r13_inactive_term_is_refused(tech):
    with pytest.raises(ValidationError) as err:
        post(tech, percent="80", term=tech.s2)
    assert codes(err.value) == {"term_not_active"}
    assert "active term is S1" in str(err.value)
    assert not Grade.objects.exists()


def test_r13_task_not_on_course_is_refused(tech, letters):
    with pytest.raises(ValidationError) as err:
        post(tech, percent="80", grading_task=letters.task)
    assert codes(err.value) == {"task_not_on_course"}


@pytest.mark.parametrize(
    ("percent", "code"),
    [
        ("100.01", "percent_out_of_range"),
        ("-1", "percent_out_of_range"),
        ("92.555", "too_many_decimals"),
        ("abc", "invalid_percent"),
        ("NaN", "invalid_percent"),
        (None, "percent_required"),
    ],
)
def test_r5_bad_percent_is_refused(tech, percent, code):
    with pytest.raises(ValidationError) as err:
        post(tech, percent=percent)
    assert code in codes(err.value)
    assert not Grade.objects.exists()


def test_r5_label_on_cte_numeric_is_refused(tech):
    with pytest.raises(ValidationError) as err:
        post(tech, score="A")
    assert codes(err.value) == {"percent_required"}
    with pytest.raises(ValidationError) as err:
        post(tech, percent="75", score="A")
    assert codes(err.value) == {"score_on_cte_numeric"}
    assert not Grade.objects.exists()


def test_r5_label_posted_on_letter_group_keeps_percent_empty(letters):
    grade, _ = grade_post(
        student=letters.students[0],
        section=letters.section,
        grading_task=letters.task,
        term=letters.q1,
        score="B",
        by=letters.teacher,
    )
    assert (grade.score, grade.percent) == ("B", None)


def test_r5_label_not_in_group_is_refused(letters):
    with pytest.raises(ValidationError) as err:
        grade_post(
            student=letters.students[0],
            section=letters.section,
            grading_task=letters.task,
            term=letters.q1,
            score="E",
            by=letters.teacher,
        )
    assert codes(err.value) == {"score_not_in_group"}
    assert not Grade.objects.exists()


def test_r5_percent_outside_label_band_is_refused(letters):
    base = {
        "student": letters.students[0],
        "section": letters.section,
        "grading_task": letters.task,
        "term": letters.q1,
        "by": letters.teacher,
    }
    with pytest.raises(ValidationError) as err:
        grade_post(**base, score="A", percent="85")
    assert codes(err.value) == {"percent_outside_band"}
    assert not Grade.objects.exists()
    grade, _ = grade_post(**base, score="B", percent="85")
    assert (grade.score, grade.percent) == ("B", Decimal("85.00"))


def test_r14_every_change_writes_history_and_unchanged_writes_nothing(tech):
    # given
    grade, _ = post(tech, percent="85")
    # when
    post(tech, percent="85.00")  # unchanged
    grade, created = post(tech, percent="91")
    # then
    assert not created
    rows = list(GradeHistory.objects.filter(grade=grade).order_by("id"))
    assert [(h.old_percent, h.new_percent, h.old_score, h.new_score) for h in rows] == [
        (None, Decimal("85.00"), "", "B"),
        (Decimal("85.00"), Decimal("91.00"), "B", "A"),
    ]
    assert all(h.changed_by == tech.teacher and h.source == "teacher" for h in rows)


def test_r16_final_grade_change_needs_a_correction_reason(tech):
    # given
    tech.course_tasks["CTE_FINAL"].mask.update(active=True)
    final = {"grading_task": tech.final_task, "term": tech.s2}
    grade, _ = post(tech, percent="88", **final)
    # when
    with pytest.raises(ValidationError) as err:
        post(tech, percent="90", **final)
    # then
    assert codes(err.value) == {"correction_reason_required"}
    grade.refresh_from_db()
    assert grade.percent == Decimal("88.00")
    # when: with a reason
    post(tech, percent="90", correction_reason="Exam re-scored", **final)
    # then
    last = GradeHistory.objects.filter(grade=grade).order_by("-id").first()
    assert (last.old_percent, last.new_percent, last.reason) == (
        Decimal("88.00"),
        Decimal("90.00"),
        "Exam re-scored",
    )


def test_r16_posting_the_same_final_again_needs_no_reason(tech):
    tech.course_tasks["CTE_FINAL"].mask.update(active=True)
    final = {"grading_task": tech.final_task, "term": tech.s2}
    post(tech, percent="88", **final)
    post(tech, percent="88", **final)
    assert GradeHistory.objects.count() == 1


@pytest.fixture
def linked_hs(tech, teacher):
    school = SchoolFactory(kind=SchoolKind.HIGH_SCHOOL)
    calendar = CalendarFactory(school=school)
    q = quarters(calendar)
    course = CourseFactory(calendar=calendar, is_kts=True)
    tasks = setup_cte_tasks(course, active_term=q[0])
    section = SectionFactory(course=course, teachers=[teacher])
    students = enroll_and_roster(section, count=1)
    KtsLink.objects.create(hs_section=section, tech_section=tech.section)
    return section, q[0], tasks["CTE_TERM"].grading_task, students[0]


@pytest.mark.parametrize("source", ["teacher", "import"])
def test_r23_hs_post_on_linked_section_is_refused(linked_hs, teacher, source):
    section, term, task, student = linked_hs
    with pytest.raises(ValidationError) as err:
        grade_post(
            student=student,
            section=section,
            grading_task=task,
            term=term,
            percent="90",
            by=teacher,
            source=source,
        )
    assert codes(err.value) == {"linked_section"}
    assert "nightly exchange" in str(err.value)
    assert not Grade.objects.exists()


def test_r23_exchange_may_write_on_linked_section(linked_hs):
    section, term, task, student = linked_hs
    grade, created = grade_post(
        student=student,
        section=section,
        grading_task=task,
        term=term,
        percent="90",
        by=None,
        source="exchange",
        run_id=7,
    )
    assert created and grade.source == "exchange"
    assert GradeHistory.objects.get().run_id == 7


def test_r13_bulk_is_all_or_nothing_and_names_each_bad_row(tech):
    # given
    a, b, c = tech.students
    stranger = StudentFactory()
    rows = [
        {"student": a, "percent": "90"},
        {"student": b.pk, "percent": "101"},
        {"student": c, "percent": "70"},
        {"student": stranger, "percent": "70"},
    ]
    # when
    with pytest.raises(GradeRowsError) as err:
        grade_post_bulk(
            section=tech.section,
            grading_task=tech.term_task,
            term=tech.s1,
            rows=rows,
            by=tech.teacher,
        )
    # then
    assert set(err.value.rows) == {1, 3}
    assert err.value.rows[1]["percent"][0].code == "percent_out_of_range"
    assert err.value.rows[3]["student"][0].code == "not_rostered"
    assert not Grade.objects.exists()
    assert not GradeHistory.objects.exists()


def test_r13_r14_bulk_writes_set_based_with_history(tech, django_assert_max_num_queries):
    # given
    a, b, c = tech.students
    post(tech, student=a, percent="60")
    post(tech, student=b, percent="75")
    rows = [
        {"student": a, "percent": "95"},  # changed
        {"student": b, "percent": "75"},  # unchanged
        {"student": c, "percent": "82.25", "comments": "Good welds"},  # new
    ]
    # when (constant in the rows: section lock, reads, upsert, history, audit, R34 flag,
    # the grades version of issue 13)
    with django_assert_max_num_queries(18):
        grades = grade_post_bulk(
            section=tech.section,
            grading_task=tech.term_task,
            term=tech.s1,
            rows=rows,
            by=tech.teacher,
        )
    # then
    assert [(g.student_id, g.score, g.percent) for g in grades] == [
        (a.pk, "A", Decimal("95.00")),
        (b.pk, "C", Decimal("75.00")),
        (c.pk, "B", Decimal("82.25")),
    ]
    assert Grade.objects.get(student=c).comments == "Good welds"
    assert GradeHistory.objects.filter(grade__student=a).count() == 2
    assert GradeHistory.objects.filter(grade__student=b).count() == 1
    assert GradeHistory.objects.filter(grade__student=c).count() == 1


def test_r13_bulk_refuses_a_student_twice(tech):
    a = tech.students[0]
    with pytest.raises(GradeRowsError) as err:
        grade_post_bulk(
            section=tech.section,
            grading_task=tech.term_task,
            term=tech.s1,
            rows=[{"student": a, "percent": "90"}, {"student": a, "percent": "80"}],
            by=tech.teacher,
        )
    assert err.value.rows[1]["student"][0].code == "duplicate_student"
    assert not Grade.objects.exists()
