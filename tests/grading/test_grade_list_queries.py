"""Grade lists (API.md "Grades"): the number of queries does not grow with the grades, and
a school-wide list reads each grade in scope once."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from grading.models import Grade
from schools.models import StaffRole
from tests.factories import UserFactory
from tests.grading.conftest import enroll_and_roster

pytestmark = pytest.mark.django_db

URL = "/api/v1/grades/"


def _grade_everyone(tech, students):
    Grade.objects.bulk_create(
        Grade(
            student=s,
            section=tech.section,
            grading_task=tech.term_task,
            term=tech.s1,
            percent=Decimal("88.00"),
            score="",
        )
        for s in students
    )


def _list(client, params):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL, params)
    assert response.status_code == 200, response.content[:200]
    return response.json(), len(queries.captured_queries)


@pytest.mark.parametrize("by", ["school", "section"])
def test_r36_grade_list_queries_do_not_grow_with_grades(tech, by):
    # given the school's registrar (a scope of foreign-key paths) and 3 graded students
    registrar = UserFactory(username="tech-registrar")
    StaffRole.objects.create(user=registrar, role="registrar", school=tech.school)
    client = APIClient()
    client.force_authenticate(registrar)
    params = {by: getattr(tech, by).pk, "term": tech.s1.pk}
    _grade_everyone(tech, tech.students)
    client.get(URL, params)  # warm: content types, throttle
    few, few_queries = _list(client, params)
    # when 40 more students are graded
    _grade_everyone(tech, enroll_and_roster(tech.section, count=40, service_type="secondary"))
    many, many_queries = _list(client, params)
    # then the list holds them all, page by page, with the same number of queries
    assert few["count"] == 3
    assert many["count"] == 43
    assert len(many["results"]) == 43
    assert len({g["id"] for g in many["results"]}) == 43
    assert many_queries == few_queries


def test_r36_teacher_grade_list_queries_do_not_grow_with_grades(tech):
    # given the section's teacher (a scope through the section's teachers) and 3 grades
    client = APIClient()
    client.force_authenticate(tech.teacher)
    params = {"section": tech.section.pk, "term": tech.s1.pk}
    _grade_everyone(tech, tech.students)
    client.get(URL, params)
    _, few_queries = _list(client, params)
    # when 40 more students are graded
    _grade_everyone(tech, enroll_and_roster(tech.section, count=40, service_type="secondary"))
    many, many_queries = _list(client, params)
    # then each grade shows once, with the same number of queries
    assert many["count"] == 43
    assert len({g["id"] for g in many["results"]}) == 43
    assert many_queries == few_queries
