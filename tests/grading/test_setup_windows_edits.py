"""R12: a grading window edited after the daily job applied it is applied again, so a window
shortened to a date already past still closes its term."""

import datetime as dt

import pytest
import time_machine

from grading.models import CTE_TERM, GradingWindow
from grading.services.grading_windows import grading_window_apply, grading_window_save
from tests.factories import cte_task
from tests.grading.test_setup_windows import active_terms, school_setup, window  # noqa: F401

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def test_r12_window_shortened_after_it_opened_closes_its_term(school_setup):  # noqa: F811
    # given a Q2 window opened by the daily job on Dec 15
    school, terms, tasks = school_setup
    with time_machine.travel(dt.datetime(2026, 12, 15, 17, 0, tzinfo=UTC), tick=False):
        w = window(school, terms[1], dt.date(2026, 12, 10), dt.date(2026, 12, 22))
        grading_window_apply(today=dt.date(2026, 12, 15))
    assert active_terms(tasks[0][CTE_TERM]) == [terms[1].pk]
    # and shortened on Dec 16 to close on Dec 14 (already past)
    with time_machine.travel(dt.datetime(2026, 12, 16, 17, 0, tzinfo=UTC), tick=False):
        grading_window_save(
            window=GradingWindow.objects.get(pk=w.pk),
            school=school,
            term=terms[1],
            grading_tasks=[cte_task(CTE_TERM)],
            opens_on=dt.date(2026, 12, 10),
            closes_on=dt.date(2026, 12, 14),
        )
    # when the daily job runs on Dec 17
    with time_machine.travel(dt.datetime(2026, 12, 17, 17, 0, tzinfo=UTC), tick=False):
        result = grading_window_apply(today=dt.date(2026, 12, 17))
        # then the window is closed: Q2 is no longer active anywhere
        for t in tasks:
            assert active_terms(t[CTE_TERM]) == []
        assert result["deactivated"] == 2
        # and a second run changes nothing
    with time_machine.travel(dt.datetime(2026, 12, 18, 17, 0, tzinfo=UTC), tick=False):
        again = grading_window_apply(today=dt.date(2026, 12, 18))
    assert again == {"windows": 0, "activated": 0, "deactivated": 0}


def test_r12_window_shortened_through_the_api_closes_its_term(api, school_setup):  # noqa: F811
    # given a Q2 window opened by the daily job on Dec 15
    school, terms, tasks = school_setup
    with time_machine.travel(dt.datetime(2026, 12, 15, 17, 0, tzinfo=UTC), tick=False):
        w = window(school, terms[1], dt.date(2026, 12, 10), dt.date(2026, 12, 22))
        grading_window_apply(today=dt.date(2026, 12, 15))
    # and shortened through the API on Dec 16 to close on Dec 14
    with time_machine.travel(dt.datetime(2026, 12, 16, 17, 0, tzinfo=UTC), tick=False):
        resp = api.patch(
            f"/api/v1/grading-windows/{w.pk}/", {"closes_on": "2026-12-14"}, format="json"
        )
    assert resp.status_code == 200, resp.json()
    # when the daily job runs on Dec 17
    with time_machine.travel(dt.datetime(2026, 12, 17, 17, 0, tzinfo=UTC), tick=False):
        grading_window_apply(today=dt.date(2026, 12, 17))
    # then Q2 is no longer active
    for t in tasks:
        assert active_terms(t[CTE_TERM]) == []
