"""Bad input on every setup resource (R1-R12) answers 400, never 500, and writes nothing."""

import pytest

from grading.models import CourseGradingTask, GradingWindow, ScoreGroup
from schools.models import Calendar, Course, District, School, Term
from tests.factories import CalendarFactory, CourseFactory, EnrollmentFactory, quarters

pytestmark = pytest.mark.django_db

RESOURCES = [
    "districts",
    "schools",
    "calendars",
    "terms",
    "courses",
    "sections",
    "students",
    "enrollments",
    "rosters",
    "score-groups",
    "grading-tasks",
    "credit-types",
    "course-grading-tasks",
    "grading-windows",
    "staff-roles",
]

BODIES = [
    {},
    {"id": "x", "name": None, "district": "abc", "school": [1], "calendar": {"a": 1}},
    {"course": 999999, "term_mask": "nope", "active_mask": [None], "rows": "x"},
    {"rows": [{"score": None, "min_percent": "abc"}], "grading_tasks": 5},
    {"start_date": "2026-13-45", "end_date": 7, "opens_on": "x", "closes_on": []},
    {"term_mask": [1, "a"], "school_year": -5, "seq": "first", "kind": "mall"},
]


@pytest.mark.parametrize("name", RESOURCES)
def test_r1_r12_setup_resources_refuse_bad_bodies_with_400(api, name):
    # given some rows, so that detail routes exist
    cal = CalendarFactory()
    quarters(cal)
    EnrollmentFactory(calendar=cal)
    CourseFactory(calendar=cal)
    before = [
        m.objects.count()
        for m in (
            District,
            School,
            Calendar,
            Term,
            Course,
            ScoreGroup,
            CourseGradingTask,
            GradingWindow,
        )
    ]
    listing = api.get(f"/api/v1/{name}/")
    assert listing.status_code == 200
    first = (listing.json()["results"] or [{"id": 1}])[0]["id"]
    # when odd bodies are posted, put and patched
    for body in BODIES:
        for method, url in (
            ("post", f"/api/v1/{name}/"),
            ("put", f"/api/v1/{name}/{first}/"),
            ("patch", f"/api/v1/{name}/{first}/"),
        ):
            resp = getattr(api, method)(url, body, format="json")
            # then never a server error; a create is refused with 400
            expected = (400,) if method == "post" else (200, 400, 404)
            assert resp.status_code in expected, (method, url, body, resp.content[:300])
    malformed = api.generic("POST", f"/api/v1/{name}/", "{", content_type="application/json")
    assert malformed.status_code == 400
    assert api.get(f"/api/v1/{name}/?page_size=5&ordering=id").status_code == 200
    after = [
        m.objects.count()
        for m in (
            District,
            School,
            Calendar,
            Term,
            Course,
            ScoreGroup,
            CourseGradingTask,
            GradingWindow,
        )
    ]
    assert after == before
