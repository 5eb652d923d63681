"""Grade lists (API.md "Grades"): the number of queries does not grow with the grades, and
a school-wide list reads each grade in scope once."""

import dataclasses
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from grading.models import Grade
from grading.services.grades import grades_changed
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
    grades_changed(section_ids=[tech.section.pk])  # as every grade writer does (issue 13)


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
    client.get(URL, params)  # warm again: a school's page blocks are cached (issue 13)
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


def test_r40_school_grade_list_pages_keep_the_documented_order_and_follow_writes(tech):
    # given a second course (numbered before the first) with two sections, one of them
    # numbered like the first course's section, and graded students of varied names
    from tests.factories import CourseFactory, SectionFactory, setup_cte_tasks

    early = CourseFactory(calendar=tech.calendar, is_kts=True, number="A100", name="Carpentry")
    setup_cte_tasks(early, active_term=tech.s1, final_active_term=tech.s2)
    sections = [
        tech.section,
        SectionFactory(course=early, number="2"),
        SectionFactory(course=early, number=tech.section.number),
    ]
    for section in sections[1:]:
        _grade_everyone(
            dataclasses.replace(tech, section=section),
            enroll_and_roster(section, count=4, service_type="secondary"),
        )
    _grade_everyone(tech, tech.students)
    registrar = UserFactory(username="tech-registrar")
    StaffRole.objects.create(user=registrar, role="registrar", school=tech.school)
    client = APIClient()
    client.force_authenticate(registrar)
    params = {"school": tech.school.pk, "term": tech.s1.pk, "page_size": 3}

    def every_page():
        ids, page = [], 1
        while True:
            body = client.get(URL, {**params, "page": page}).json()
            ids += [g["id"] for g in body["results"]]
            if not body["next"]:
                return body["count"], ids
            page += 1

    def documented():
        # Grade.Meta.ordering, sorted by the database over the whole list
        return list(
            Grade.objects.filter(term=tech.s1, section__course__calendar__school=tech.school)
            .order_by(*Grade._meta.ordering)
            .values_list("id", flat=True)
        )

    # when every page is read, then the pages are the documented order, cut in threes
    count, ids = every_page()
    assert count == 11 and ids == documented()
    # when a grade is added through the service, then the cached pages follow at once
    late = enroll_and_roster(sections[1], count=1, service_type="secondary")[0]
    from grading.services.grades import grade_post

    grade_post(
        student=late,
        section=sections[1],
        grading_task=tech.term_task,
        term=tech.s1,
        percent="91",
        by=None,
        source="import",
    )
    count, ids = every_page()
    assert count == 12 and ids == documented()
    # and without a term (a second term's grade in the list), and for one section
    grade_post(
        student=late,
        section=sections[1],
        grading_task=tech.final_task,
        term=tech.s2,
        percent="93",
        by=None,
        source="import",
    )
    del params["term"]
    everything = Grade.objects.filter(section__course__calendar__school=tech.school)
    count, ids = every_page()
    assert count == 13 and ids == list(
        everything.order_by(*Grade._meta.ordering).values_list("id", flat=True)
    )
    for pinned in ({"term": tech.s1.pk}, {}):
        params = {"section": sections[1].pk, "page_size": 2, **pinned}
        count, ids = every_page()
        expected = everything.filter(section=sections[1], **pinned)
        assert ids == list(expected.order_by(*Grade._meta.ordering).values_list("id", flat=True))


def test_grade_representation_is_what_the_serializer_fields_give(tech):
    # given grades with and without a percent, posted by a teacher or by no one
    from rest_framework import serializers

    from grading.api.grades import GradeSerializer

    _grade_everyone(tech, tech.students)
    Grade.objects.filter(student=tech.students[0]).update(percent=None, score="A")
    Grade.objects.filter(student=tech.students[1]).update(posted_by=tech.teacher, comments="Ok")

    class Plain(GradeSerializer):
        to_representation = serializers.ModelSerializer.to_representation

    # when each is represented, then the direct representation is the fields' one
    for grade in Grade.objects.all():
        assert GradeSerializer(grade).data == Plain(grade).data
