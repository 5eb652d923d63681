"""``/teacher/`` for a superuser: a school filter and pages of 50 sections (R13)."""

import pytest

from grading.views.teacher import SECTIONS_PER_PAGE
from schools.models import Section
from tests.factories import CourseFactory

pytestmark = pytest.mark.django_db


def _add_sections(course, n: int) -> None:
    Section.objects.bulk_create(Section(course=course, number=f"X{i:03d}") for i in range(n))


def test_r13_superuser_filters_sections_by_school(client, superuser, tech, letters):
    # given
    client.force_login(superuser)
    # when
    response = client.get("/teacher/", {"school": letters.section.course.calendar.school_id})
    # then
    assert response.status_code == 200
    assert [r["section"].pk for r in response.context["rows"]] == [letters.section.pk]
    html = response.content.decode()
    assert 'id="school-filter"' in html and "Central ATC" in html  # the select lists schools


def test_r13_superuser_bad_school_filter_shows_every_section(client, superuser, tech, letters):
    client.force_login(superuser)
    response = client.get("/teacher/", {"school": "abc", "page": "zzz"})
    assert response.status_code == 200
    assert client.get("/teacher/", {"school": "²"}).status_code == 200
    assert {r["section"].pk for r in response.context["rows"]} == {
        tech.section.pk,
        letters.section.pk,
    }


def test_r13_superuser_sections_come_in_pages_of_50(client, superuser, tech):
    # given: 60 sections in all
    _add_sections(CourseFactory(calendar=tech.section.course.calendar), 59)
    client.force_login(superuser)
    # when
    first = client.get("/teacher/")
    second = client.get("/teacher/", {"page": 2})
    # then
    assert len(first.context["rows"]) == SECTIONS_PER_PAGE == 50
    assert len(second.context["rows"]) == 10
    seen = {r["section"].pk for r in first.context["rows"]} | {
        r["section"].pk for r in second.context["rows"]
    }
    assert len(seen) == 60
    assert "Page 1 of 2" in first.content.decode() and "page=2" in first.content.decode()


def test_r13_superuser_page_queries_do_not_grow_with_sections(
    client, superuser, tech, letters, django_assert_max_num_queries
):
    # given: many sections
    _add_sections(CourseFactory(calendar=tech.section.course.calendar), 120)
    client.force_login(superuser)
    # then
    with django_assert_max_num_queries(16):
        assert client.get("/teacher/").status_code == 200
    with django_assert_max_num_queries(16):
        school = tech.section.course.calendar.school_id
        assert client.get("/teacher/", {"school": school, "page": 3}).status_code == 200


def test_r13_teacher_list_has_no_filter_nor_pages(client, teacher, tech, letters):
    client.force_login(teacher)
    response = client.get("/teacher/", {"school": letters.section.course.calendar.school_id})
    assert {r["section"].pk for r in response.context["rows"]} == {
        tech.section.pk,
        letters.section.pk,
    }
    html = response.content.decode()
    assert 'id="school-filter"' not in html and "Page 1 of" not in html
