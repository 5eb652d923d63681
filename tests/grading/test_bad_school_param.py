"""Bad input never gives a 500: a ``?school=`` that only looks like digits answers 400."""

import pytest

pytestmark = pytest.mark.django_db


def test_r15_stale_grades_with_a_non_ascii_digit_school_is_400(api):
    # when
    response = api.get("/api/v1/reports/stale-grades/", {"school": "²"})
    # then
    assert response.status_code == 400
    assert "school" in response.json()
