import pytest

from grading.models import CTE_CODES, GradingTask, ScoreGroup


@pytest.mark.django_db
def test_r4_state_push_down_exists_after_migrate():
    # given an empty, migrated database / then the state's CTE tasks and CTE Numeric are there
    assert set(GradingTask.objects.filter(is_cte=True).values_list("code", flat=True)) == set(
        CTE_CODES
    )
    group = ScoreGroup.objects.get(name="CTE Numeric", district=None)
    assert [(r.score, int(r.min_percent)) for r in group.rows.order_by("-min_percent")] == [
        ("A", 90),
        ("B", 80),
        ("C", 70),
        ("D", 60),
        ("F", 0),
    ]
