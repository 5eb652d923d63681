"""R30: report-card term GPA."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grading.models import CourseGradingTask, Grade
from grading.scoring import rows_of
from grading.selectors.gpa import (
    gpa_histogram,
    resolve_row,
    term_gpa,
    term_standings,
    weighted_gpa,
)
from tests.factories import CourseFactory, SectionFactory, cte_numeric
from tests.world import reports_world

values = st.decimals(min_value=0, max_value=5, places=2, allow_nan=False, allow_infinity=False)
weights = st.decimals(min_value=0, max_value=10, places=2, allow_nan=False, allow_infinity=False)


# --- pure computation ---------------------------------------------------------------------


@given(st.lists(st.tuples(values, weights), max_size=12))
def test_r30_weighted_gpa_is_the_half_up_weighted_mean(pairs):
    # given any GPA values and Term GPA weights / when the term GPA is computed
    gpa = weighted_gpa(pairs)
    # then it is Σ(value × weight) / Σ(weight), half up to 2 places, or None without weight
    total_weight = sum((w for _, w in pairs), Decimal("0"))
    if total_weight == 0:
        assert gpa is None
        return
    exact = sum((v * w for v, w in pairs), Decimal("0")) / total_weight
    assert gpa == exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert gpa.as_tuple().exponent == -2
    assert min(v for v, w in pairs if w) <= gpa <= max(v for v, w in pairs if w)


@given(st.lists(st.tuples(values, weights), min_size=1, max_size=8), values)
def test_r30_weight_zero_grades_count_as_nothing(pairs, value):
    # given some grades / when a grade with weight 0 is added / then the GPA does not move
    assert weighted_gpa([*pairs, (value, Decimal("0"))]) == weighted_gpa(pairs)


def test_r30_no_counted_grade_gives_no_gpa():
    # given no grades, or only weight-0 grades / then there is no GPA
    assert weighted_gpa([]) is None
    assert weighted_gpa([(Decimal("4"), Decimal("0"))]) is None


def test_r30_gpa_is_rounded_half_up_not_half_even():
    # given 3.665 exactly (half even would give 3.66) / then 3.67
    assert weighted_gpa([(Decimal("3.665"), Decimal("1"))]) == Decimal("3.67")
    # 4×2 + 3×1 over 3 = 3.666... → 3.67
    assert weighted_gpa([(Decimal(4), Decimal(2)), (Decimal(3), Decimal(1))]) == Decimal("3.67")


def test_r5_resolve_row_by_label_then_by_percent():
    rows = rows_of(
        [
            {"score": "P", "min_percent": 60, "passing": True, "gpa_value": 0},
            {"score": "F", "min_percent": 0, "passing": False, "gpa_value": 0},
        ]
    )
    assert resolve_row(rows, "P", None).score == "P"
    assert resolve_row(rows, "", Decimal("59.99")).score == "F"
    assert resolve_row(rows, "", None) is None


def test_gpa_histogram_counts_every_gpa_once():
    gpas = [Decimal(x) for x in ("0", "0.49", "0.5", "3.99", "4.00", "2.25")]
    bins = gpa_histogram(gpas)
    assert sum(b["count"] for b in bins) == len(gpas)
    assert bins[-1]["high"] == Decimal("4") and bins[-1]["count"] == 2


# --- selectors ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_r30_english_a_weight_2_and_exchanged_kts_85_give_3_67():
    # given an English A (district letter group, weight 2) and an exchanged KTS 85 (B, weight 1)
    w = reports_world()
    student = w.add_student()
    w.letter(student, "A")
    w.exchanged(student, "85.00", "B")
    # when the term GPA is read / then (4×2 + 3×1) / 3 = 3.67
    assert term_gpa(student=student, term=w.q1) == Decimal("3.67")


@pytest.mark.django_db
def test_r30_only_that_terms_grades_and_weighted_tasks_count():
    # given grades in Q2, a final grade (no Term GPA weight) and a course task with weight 0
    w = reports_world()
    student = w.add_student()
    w.letter(student, "C")
    w.letter(student, "A", term=w.hs_terms[1])
    w.exchanged(student, "95", "A", code="CTE_FINAL", term=w.q1)
    zero_course = CourseFactory(calendar=w.hs_calendar, number="PE1")
    CourseGradingTask.objects.create(
        course=zero_course, grading_task=w.term_grade, score_group=w.letter_group, term_gpa_weight=0
    )
    pe = SectionFactory(course=zero_course)
    Grade.objects.create(
        student=student, section=pe, grading_task=w.term_grade, term=w.q1, score="F"
    )
    # when / then only the Q1 English C counts
    assert term_gpa(student=student, term=w.q1) == Decimal("2.00")


@pytest.mark.django_db
def test_r30_student_without_counted_grade_has_no_gpa():
    # given a student whose only grade is on a course with no Term GPA weight
    w = reports_world()
    student = w.add_student()
    CourseGradingTask.objects.filter(course=w.english.course).update(term_gpa_weight=None)
    w.letter(student, "A")
    # then no GPA and no standing
    assert term_gpa(student=student, term=w.q1) is None
    assert student.pk not in term_standings(term=w.q1)


@pytest.mark.django_db
def test_r30_grades_at_another_school_do_not_count():
    # given the same student graded at the tech section in a tech term
    w = reports_world()
    student = w.add_student()
    w.letter(student, "B")
    tech_term = w.tech_calendar.terms.first()
    Grade.objects.create(
        student=student,
        section=w.tech_section,
        grading_task=w.hs_tasks["CTE_TERM"].grading_task,
        term=tech_term,
        percent=Decimal("10"),
        score="F",
    )
    # then the HS term GPA reads only HS grades
    assert term_gpa(student=student, term=w.q1) == Decimal("3.00")
    assert cte_numeric().rows.count() == 5
