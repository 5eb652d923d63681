"""R12 grading windows: validation, the daily job, the admin action and the API action."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from grading.models import CTE_FINAL, CTE_TERM, CourseTaskTerm, GradingWindow
from grading.services.grading_windows import grading_window_apply, grading_window_save
from grading.tasks import apply_grading_windows
from tests.factories import CalendarFactory, CourseFactory, cte_task, quarters, setup_cte_tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def school_setup():
    """Two KTS courses at one HS, Q1 active on CTE Term Grade."""
    cal = CalendarFactory()
    terms = quarters(cal)
    courses = [CourseFactory(calendar=cal, is_kts=True) for _ in range(2)]
    tasks = [setup_cte_tasks(c, active_term=terms[0]) for c in courses]
    return cal.school, terms, tasks


def active_terms(course_task):
    return list(course_task.mask.filter(active=True).values_list("term_id", flat=True))


def window(school, term, opens, closes, codes=(CTE_TERM,)):
    return grading_window_save(
        window=None,
        school=school,
        term=term,
        grading_tasks=[cte_task(c) for c in codes],
        opens_on=opens,
        closes_on=closes,
    )


def test_r12_open_window_makes_its_term_the_only_active_term(
    school_setup, django_assert_max_num_queries
):
    school, terms, tasks = school_setup
    window(school, terms[1], dt.date(2026, 12, 10), dt.date(2026, 12, 22))
    # when the daily job runs while the window is open
    with django_assert_max_num_queries(12):
        result = grading_window_apply(today=dt.date(2026, 12, 15))
    # then Q2 is the only active term of CTE Term Grade on both courses
    for t in tasks:
        assert active_terms(t[CTE_TERM]) == [terms[1].pk]
        # CTE Final Grade is not a task of the window and its mask lacks Q2: untouched
        assert active_terms(t[CTE_FINAL]) == []
    assert result["activated"] == 2 and result["deactivated"] == 2


def test_r12_closed_window_makes_term_inactive_and_job_is_safe_twice(school_setup):
    school, terms, tasks = school_setup
    window(school, terms[1], dt.date(2026, 12, 10), dt.date(2026, 12, 22))
    grading_window_apply(today=dt.date(2026, 12, 15))
    # when it runs after the close, twice
    grading_window_apply(today=dt.date(2026, 12, 23))
    second = grading_window_apply(today=dt.date(2026, 12, 24))
    # then no term is active and the second run changed nothing
    for t in tasks:
        assert active_terms(t[CTE_TERM]) == []
    assert second["deactivated"] == 0 and second["activated"] == 0


def test_r12_window_not_yet_open_changes_nothing(school_setup):
    school, terms, tasks = school_setup
    window(school, terms[1], dt.date(2026, 12, 10), dt.date(2026, 12, 22))
    grading_window_apply(today=dt.date(2026, 12, 1))
    assert active_terms(tasks[0][CTE_TERM]) == [terms[0].pk]


def test_r12_task_function_applies_windows_for_today(school_setup):
    school, terms, tasks = school_setup
    window(school, terms[2], dt.date(2027, 3, 8), dt.date(2027, 3, 19))
    with time_machine.travel(dt.datetime(2027, 3, 10, 12, 0), tick=False):
        apply_grading_windows()
        apply_grading_windows()
    assert active_terms(tasks[1][CTE_TERM]) == [terms[2].pk]


def test_r12_other_school_untouched(school_setup):
    school, terms, tasks = school_setup
    other_cal = CalendarFactory()
    other_terms = quarters(other_cal)
    other = setup_cte_tasks(
        CourseFactory(calendar=other_cal, is_kts=True), active_term=other_terms[0]
    )
    window(school, terms[1], dt.date(2026, 12, 10), dt.date(2026, 12, 22))
    grading_window_apply(today=dt.date(2026, 12, 15))
    assert active_terms(other[CTE_TERM]) == [other_terms[0].pk]


def test_r12_overlapping_windows_for_same_task_refused(school_setup):
    school, terms, _ = school_setup
    window(school, terms[1], dt.date(2026, 12, 10), dt.date(2026, 12, 22))
    with pytest.raises(ValidationError) as exc:
        window(school, terms[2], dt.date(2026, 12, 20), dt.date(2027, 1, 5))
    assert exc.value.error_dict["opens_on"][0].code == "windows_overlap"
    assert GradingWindow.objects.count() == 1


def test_r12_overlapping_dates_with_other_tasks_accepted(school_setup):
    school, terms, _ = school_setup
    window(school, terms[1], dt.date(2026, 12, 10), dt.date(2026, 12, 22))
    window(school, terms[2], dt.date(2026, 12, 20), dt.date(2027, 1, 5), codes=(CTE_FINAL,))
    assert GradingWindow.objects.count() == 2


def test_r12_window_dates_out_of_order_and_term_of_other_school_refused(school_setup):
    school, terms, _ = school_setup
    with pytest.raises(ValidationError) as exc:
        window(school, terms[1], dt.date(2026, 12, 22), dt.date(2026, 12, 10))
    assert exc.value.error_dict["closes_on"][0].code == "dates_out_of_order"
    foreign = quarters(CalendarFactory())[0]
    with pytest.raises(ValidationError) as exc:
        window(school, foreign, dt.date(2026, 12, 10), dt.date(2026, 12, 22))
    assert exc.value.error_dict["term"][0].code == "term_of_other_school"
    assert not GradingWindow.objects.exists()


def test_r12_api_create_and_apply_window(api, school_setup):
    school, terms, tasks = school_setup
    today = dt.date.today()
    resp = api.post(
        "/api/v1/grading-windows/",
        {
            "school": school.pk,
            "term": terms[1].pk,
            "grading_tasks": [cte_task(CTE_TERM).pk],
            "opens_on": str(today - dt.timedelta(days=1)),
            "closes_on": str(today + dt.timedelta(days=1)),
        },
        format="json",
    )
    assert resp.status_code == 201, resp.content
    applied = api.post(f"/api/v1/grading-windows/{resp.json()['id']}/apply/")
    assert applied.status_code == 200, applied.content
    assert applied.json()["activated"] == 2
    assert active_terms(tasks[0][CTE_TERM]) == [terms[1].pk]
    assert api.get(f"/api/v1/grading-windows/?school={school.pk}").json()["count"] == 1


def test_r12_api_overlap_and_unknown_task_are_400(api, school_setup):
    school, terms, _ = school_setup
    window(school, terms[1], dt.date(2026, 12, 10), dt.date(2026, 12, 22))
    base = {
        "school": school.pk,
        "term": terms[2].pk,
        "grading_tasks": [cte_task(CTE_TERM).pk],
        "opens_on": "2026-12-21",
        "closes_on": "2027-01-05",
    }
    overlap = api.post("/api/v1/grading-windows/", base, format="json")
    assert overlap.status_code == 400 and "opens_on" in overlap.json()
    unknown = api.post(
        "/api/v1/grading-windows/", {**base, "grading_tasks": [999999]}, format="json"
    )
    assert unknown.status_code == 400 and "grading_tasks" in unknown.json()
    assert GradingWindow.objects.count() == 1


@time_machine.travel(dt.datetime(2026, 12, 2, 12, 0), tick=False)
def test_r12_api_apply_before_opening_is_400(api, school_setup):
    school, terms, tasks = school_setup
    future = dt.date(2026, 12, 2) + dt.timedelta(days=10)
    w = window(school, terms[1], future, future + dt.timedelta(days=5))
    resp = api.post(f"/api/v1/grading-windows/{w.pk}/apply/")
    assert resp.status_code == 400
    assert active_terms(tasks[0][CTE_TERM]) == [terms[0].pk]


@time_machine.travel(dt.datetime(2027, 4, 1, 12, 0), tick=False)
def test_r12_admin_action_apply_now(client, superuser, school_setup):
    admin_client_su = client
    client.force_login(superuser)  # inside the travel, so the session has not expired
    school, terms, tasks = school_setup
    today = dt.date(2027, 4, 1)
    w = window(school, terms[3], today, today)
    resp = admin_client_su.post(
        reverse("admin:grading_gradingwindow_changelist"),
        {"action": "apply_now", "_selected_action": [w.pk]},
    )
    assert resp.status_code == 302
    assert active_terms(tasks[0][CTE_TERM]) == [terms[3].pk]
    # CTE Final Grade is not in the window
    assert active_terms(tasks[0][CTE_FINAL]) == []


def test_r12_admin_form_refuses_overlap(admin_client_su, school_setup):
    school, terms, _ = school_setup
    window(school, terms[1], dt.date(2026, 12, 10), dt.date(2026, 12, 22))
    resp = admin_client_su.post(
        reverse("admin:grading_gradingwindow_add"),
        {
            "school": school.pk,
            "term": terms[2].pk,
            "grading_tasks": [cte_task(CTE_TERM).pk],
            "opens_on": "2026-12-21",
            "closes_on": "2027-01-05",
        },
    )
    assert resp.status_code == 200
    assert [e.code for e in resp.context["adminform"].form.errors.as_data()["opens_on"]] == [
        "windows_overlap"
    ]
    assert GradingWindow.objects.count() == 1


def test_r12_window_only_touches_tasks_whose_mask_has_the_term(school_setup):
    school, terms, tasks = school_setup
    # CTE Final Grade's mask is Q4 only: a Q2 window on it changes nothing
    window(school, terms[1], dt.date(2026, 12, 10), dt.date(2026, 12, 22), codes=(CTE_FINAL,))
    grading_window_apply(today=dt.date(2026, 12, 15))
    assert not CourseTaskTerm.objects.filter(course_task=tasks[0][CTE_FINAL], active=True).exists()
    assert active_terms(tasks[0][CTE_TERM]) == [terms[0].pk]


@pytest.mark.parametrize(
    "opens, closes, code",
    [
        (dt.date(2027, 7, 1), dt.date(2027, 7, 15), "window_outside_school_year"),
        (dt.date(1, 1, 1), dt.date(9999, 12, 31), "window_outside_school_year"),
        (dt.date(2027, 1, 4), dt.date(2027, 1, 15), "window_outside_term"),
    ],
)
def test_r12_window_dates_must_lie_in_the_school_year_and_overlap_the_term(
    school_setup, opens, closes, code
):
    # given
    school, terms, _ = school_setup
    # when
    with pytest.raises(ValidationError) as exc:
        window(school, terms[1], opens, closes)
    # then
    assert exc.value.error_dict["opens_on"][0].code == code
    assert not GradingWindow.objects.exists()


def test_r12_api_and_admin_refuse_a_window_outside_the_school_year(
    api, admin_client_su, school_setup
):
    # given
    school, terms, _ = school_setup
    base = {
        "school": school.pk,
        "term": terms[1].pk,
        "grading_tasks": [cte_task(CTE_TERM).pk],
        "opens_on": "2027-07-01",
        "closes_on": "2027-07-15",
    }
    # when
    resp = api.post("/api/v1/grading-windows/", base, format="json")
    page = admin_client_su.post(reverse("admin:grading_gradingwindow_add"), base)
    # then
    assert resp.status_code == 400 and "school year" in str(resp.json())
    assert page.status_code == 200 and "school year" in page.content.decode()
    assert not GradingWindow.objects.exists()
