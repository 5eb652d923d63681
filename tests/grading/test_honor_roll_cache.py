"""Issue 13: the honor roll is cached per school and term under the versions of the data it
reads (``schools.versions``), and a change to any of its inputs, through the path the
application writes it, makes the next answer the new one (R31: never a stale honor roll).
"""

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from exchange.services import exchange_run
from grading.models import CourseGradingTask, HonorRollTier
from grading.selectors.cache import clear_local
from grading.selectors.gpa import honor_roll, school_gpas, term_results
from grading.services.grades import grade_post
from grading.services.score_groups import score_group_save
from schools import versions
from schools.models import Roster, StaffRole
from schools.services.writes import model_save, record_delete
from tests.factories import UserFactory
from tests.world import AS_OF, reports_world
from tests.world import build_kts_world as exchange_world

LETTER_ROWS = [
    {"score": "A", "min_percent": Decimal(90), "passing": True, "gpa_value": Decimal(4)},
    {"score": "B", "min_percent": Decimal(80), "passing": True, "gpa_value": Decimal(3)},
    {"score": "C", "min_percent": Decimal(70), "passing": True, "gpa_value": Decimal(2)},
    {"score": "D", "min_percent": Decimal(60), "passing": True, "gpa_value": Decimal(1)},
    {"score": "F", "min_percent": Decimal(0), "passing": False, "gpa_value": Decimal(0)},
]


def _roll(w):
    return [
        (r["student"], r["student_name"], r["gpa"], r["tier"])
        for r in honor_roll(school=w.hs_school, term=w.q1)
    ]


def _world_with_a_high_honors_student():
    w = reports_world()
    student = w.add_student()
    w.letter(student, "A")
    w.exchanged(student, "95", "A")
    return w, student


def _cached(w):
    """The honor roll, read twice: the second answer comes from the cache (one query)."""
    first = _roll(w)
    with CaptureQueriesContext(connection) as queries:
        assert _roll(w) == first
    assert len(queries) == 1  # the versions
    return first


@pytest.mark.django_db
def test_r31_cached_honor_roll_answers_with_one_query_and_equals_a_fresh_computation():
    # given a student on High Honors
    w, student = _world_with_a_high_honors_student()
    # when the honor roll is read twice
    cached = _cached(w)
    # then the cached answer is the computed one
    assert cached == [
        (student.pk, f"{student.last_name}, {student.first_name}", Decimal("4.00"), "High Honors")
    ]
    assert term_results(term=w.q1)[student.pk].tier == "High Honors"
    assert school_gpas(term=w.q1) == [Decimal("4.00")]


@pytest.mark.django_db
def test_r31_a_teacher_grade_post_invalidates_the_cached_honor_roll():
    w, student = _world_with_a_high_honors_student()
    _cached(w)
    # when the teacher changes the English grade to a C: GPA (2*2 + 4) / 3 = 2.67
    grade_post(
        student=student,
        section=w.english,
        grading_task=w.term_grade,
        term=w.q1,
        score="C",
        by=w.teacher,
    )
    # then the honor roll is the new one
    assert _roll(w) == []


@pytest.mark.django_db
def test_r31_r19_an_exchange_run_writing_hs_grades_changes_the_hs_grades_version():
    # given a tech grade to carry to the HS
    w = exchange_world()
    (student,) = w.add_students(1)
    w.post_tech_grade(student, "88")
    before = versions.current(school_id=w.hs_school.pk)
    # when the exchange writes the HS grade (by SQL on PostgreSQL)
    run = exchange_run(as_of=AS_OF, trigger="test", inline=True)
    # then the HS's grades version changed in the run, and a run writing nothing keeps it
    assert run.status == "succeeded" and w.hs_grades().count() == 1
    after = versions.current(school_id=w.hs_school.pk)
    assert after != before
    exchange_run(as_of=AS_OF, trigger="test", inline=True)
    assert versions.current(school_id=w.hs_school.pk) == after


@pytest.mark.django_db
def test_r31_r18_an_exchange_run_writing_rosters_changes_the_setup_version():
    # given a HS roster in a linked section, not yet carried to the tech school
    w = exchange_world()
    w.add_students(1)
    before = versions.current(school_id=w.tech_school.pk)
    # when the exchange adds the tech roster and the secondary enrollment
    run = exchange_run(as_of=AS_OF, trigger="test", inline=True)
    # then cached reports (which read rosters and enrollments) are stale, and a run that
    # writes nothing leaves them be
    assert run.counts["enrollments"]["added"] == 1
    after = versions.current(school_id=w.tech_school.pk)
    assert dict(after)["setup"] != dict(before)["setup"]
    exchange_run(as_of=AS_OF, trigger="test", inline=True)
    assert versions.current(school_id=w.tech_school.pk) == after


@pytest.mark.django_db
def test_r31_a_tier_change_invalidates_the_cached_honor_roll():
    w, student = _world_with_a_high_honors_student()
    _cached(w)
    tier = HonorRollTier.objects.get(school=w.hs_school, name="High Honors")
    model_save(instance=tier, name="Principal's List")  # the API's and the admin's path
    assert _roll(w)[0][3] == "Principal's List"


@pytest.mark.django_db
def test_r31_a_score_group_change_invalidates_the_cached_honor_roll():
    w, student = _world_with_a_high_honors_student()
    _cached(w)
    # when an A on the district letter group is worth 3 (GPA (3*2 + 4) / 3 = 3.33)
    rows = [{**r, "gpa_value": Decimal(3)} if r["score"] == "A" else r for r in LETTER_ROWS]
    score_group_save(group=w.letter_group, name=w.letter_group.name, district=w.district, rows=rows)
    assert _roll(w) == []


@pytest.mark.django_db
def test_r31_r8_a_term_gpa_weight_change_invalidates_the_cached_honor_roll():
    w = reports_world()
    student = w.add_student()
    w.letter(student, "B")  # English B, CTE 95 A: (3*2 + 4) / 3 = 3.33
    w.exchanged(student, "95", "A")
    assert _cached(w) == []
    # when English no longer counts (R8): the GPA is the CTE grade's alone, 4.00
    english_task = CourseGradingTask.objects.get(course=w.english.course)
    model_save(instance=english_task, term_gpa_weight=None)
    assert _roll(w)[0][2] == Decimal("4.00")


@pytest.mark.django_db
def test_r31_a_student_rename_invalidates_the_cached_honor_roll():
    w, student = _world_with_a_high_honors_student()
    _cached(w)
    model_save(instance=student, last_name="Zephyr")
    assert _roll(w)[0][1] == f"Zephyr, {student.first_name}"


@pytest.mark.django_db
def test_r31_a_roster_deleted_invalidates_the_cached_honor_roll():
    # given a student without an English grade: incomplete, off every tier
    w = reports_world()
    student = w.add_student()
    w.exchanged(student, "95", "A")
    assert [r["incomplete"] for r in honor_roll(school=w.hs_school, term=w.q1)] == [True]
    # when the English roster is deleted (the API's and the admin's path)
    record_delete(instances=[Roster.objects.get(student=student, section=w.english)], by=None)
    # then the student is complete and on High Honors
    assert _roll(w)[0][3] == "High Honors"


@pytest.mark.django_db
def test_r31_a_term_change_invalidates_the_cached_honor_roll():
    w, student = _world_with_a_high_honors_student()
    before = versions.current(school_id=w.hs_school.pk)
    _cached(w)
    model_save(instance=w.q1, name="First Quarter")
    assert versions.current(school_id=w.hs_school.pk) != before


@pytest.mark.django_db
def test_r31_a_grade_deleted_invalidates_the_cached_honor_roll():
    w = reports_world()
    student = w.add_student()
    grade = w.letter(student, "C")  # English C, CTE 95 A: (2*2 + 4) / 3 = 2.67: off
    w.exchanged(student, "95", "A")
    assert _cached(w) == []
    record_delete(instances=[grade], by=None)  # the admin's delete
    # then the student misses the English grade: incomplete, on no tier
    assert [(r["incomplete"], r["tier"]) for r in honor_roll(school=w.hs_school, term=w.q1)] == [
        (True, None)
    ]


@pytest.mark.django_db
def test_r31_a_rolled_back_write_leaves_no_version_a_later_answer_could_collide_with():
    # given an answer cached, then a write whose transaction rolls back
    w, student = _world_with_a_high_honors_student()
    first = _cached(w)
    with pytest.raises(RuntimeError), transaction.atomic():
        model_save(instance=student, last_name="Rolled")
        assert _roll(w)[0][1].startswith("Rolled")  # read inside: the new name
        raise RuntimeError
    # then the versions are those of before, and the answer the first one
    assert _roll(w) == first
    clear_local()
    assert _roll(w) == first


@pytest.mark.django_db
def test_r31_r42_cached_honor_roll_still_checks_role_and_scope_per_request(api):
    from rest_framework.test import APIClient

    w, student = _world_with_a_high_honors_student()
    registrar, teacher = UserFactory(), UserFactory()
    StaffRole.objects.create(user=registrar, role="registrar", school=w.hs_school)
    StaffRole.objects.create(user=teacher, role="teacher", school=w.hs_school)
    url = "/api/v1/reports/honor-roll/"
    params = {"school": w.hs_school.pk, "term": w.q1.pk}
    client = APIClient()
    client.force_authenticate(registrar)
    assert client.get(url, params).json()[0]["student"] == student.pk
    # when the answer is cached, a teacher of the school still may not read it (R42)
    client.force_authenticate(teacher)
    assert client.get(url, params).status_code == 404
    # and the registrar's cached read costs a fixed, small number of queries
    client.force_authenticate(registrar)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200 and response.json()[0]["gpa"] == "4.00"
    assert len(queries) <= 6, "\n".join(q["sql"][:150] for q in queries.captured_queries)
