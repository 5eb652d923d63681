"""Bad input never gives a 500: a ``?school=`` that only looks like digits answers 400."""

import pytest

pytestmark = pytest.mark.django_db


def test_r38_readiness_with_a_non_ascii_digit_school_is_400(api):
    # when: "²" passes str.isdigit() but is not a number int() reads
    response = api.get("/api/v1/reports/readiness/", {"school": "²"})
    # then
    assert response.status_code == 400
    assert "school" in response.json()
