"""R42: the report APIs check role and scope before they validate the query, so a bad
``term`` tells a user without the report nothing (the same 404 as a good one)."""

import pytest
from rest_framework.test import APIClient

from schools.models import SchoolKind, StaffRole
from tests.factories import SchoolFactory, UserFactory
from tests.world import reports_world

pytestmark = pytest.mark.django_db

HONOR_ROLL = "/api/v1/reports/honor-roll/"
ELIGIBILITY = "/api/v1/reports/eligibility/"
REPORT_CARD = "/api/v1/reports/report-card/"


def _client_for(role, school):
    user = UserFactory()
    StaffRole.objects.create(user=user, role=role, school=school)
    api = APIClient()
    api.force_authenticate(user)
    return api


def _bad_terms(w):
    return ["x", "", 999999, w.tech_calendar.terms.first().pk]


@pytest.mark.parametrize("url", [HONOR_ROLL, ELIGIBILITY])
@pytest.mark.parametrize("role", ["attendance_clerk", "teacher"])
def test_r42_school_reports_without_the_role_are_404_whatever_the_term(url, role):
    # given a clerk or teacher of the HS (the reports are the registrar's and admins')
    w = reports_world()
    api = _client_for(role, w.hs_school)
    # when they ask with a good term and with bad ones
    good = api.get(url, {"school": w.hs_school.pk, "term": w.q1.pk})
    bad = [api.get(url, {"school": w.hs_school.pk, "term": t}) for t in _bad_terms(w)]
    missing = api.get(url, {"school": w.hs_school.pk})
    # then every answer is the same 404
    assert good.status_code == 404
    for r in [*bad, missing]:
        assert (r.status_code, r.json()) == (404, good.json())


@pytest.mark.parametrize("url", [HONOR_ROLL, ELIGIBILITY])
def test_r42_school_reports_of_another_school_are_404_whatever_the_term(url):
    # given the registrar of another high school
    w = reports_world()
    other = SchoolFactory(district=w.district, kind=SchoolKind.HIGH_SCHOOL)
    api = _client_for("registrar", other)
    # when
    good = api.get(url, {"school": w.hs_school.pk, "term": w.q1.pk})
    bad = api.get(url, {"school": w.hs_school.pk, "term": "x"})
    # then
    assert good.status_code == bad.status_code == 404
    # and their own school's report still validates the term (400 on that field)
    own = api.get(url, {"school": other.pk, "term": "x"})
    assert own.status_code == 400 and "term" in own.json()


@pytest.mark.parametrize("role", ["attendance_clerk", "teacher"])
def test_r42_report_card_without_the_role_is_404_whatever_the_term(role):
    # given a student of the HS and a clerk or teacher there
    w = reports_world()
    student = w.add_student()
    w.letter(student, "A")
    api = _client_for(role, w.hs_school)
    # when
    good = api.get(REPORT_CARD, {"student": student.pk, "term": w.q1.pk})
    bad = [api.get(REPORT_CARD, {"student": student.pk, "term": t}) for t in _bad_terms(w)]
    # then
    assert good.status_code == 404
    for r in bad:
        assert (r.status_code, r.json()) == (404, good.json())


def test_r42_report_card_of_another_schools_student_is_404_whatever_the_term():
    # given the registrar of another high school
    w = reports_world()
    student = w.add_student()
    other = SchoolFactory(district=w.district, kind=SchoolKind.HIGH_SCHOOL)
    api = _client_for("registrar", other)
    # when
    good = api.get(REPORT_CARD, {"student": student.pk, "term": w.q1.pk})
    bad = [api.get(REPORT_CARD, {"student": student.pk, "term": t}) for t in _bad_terms(w)]
    # then
    assert good.status_code == 404
    for r in bad:
        assert (r.status_code, r.json()) == (404, good.json())
    # and the HS registrar still reads it
    assert (
        _client_for("registrar", w.hs_school)
        .get(REPORT_CARD, {"student": student.pk, "term": w.q1.pk})
        .status_code
        == 200
    )
