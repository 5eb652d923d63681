"""R38: the readiness report lists what would make grades skip tonight, with the fix."""

from exchange.selectors import readiness_report
from grading.models import CTE_TERM, ScoreGroup, ScoreRow
from tests.exchange.conftest import AS_OF
from tests.factories import DistrictFactory


def _codes(school):
    return [r["code"] for r in readiness_report(school=school, as_of=AS_OF)]


def test_r38_correct_setup_is_ready(world):
    assert _codes(world.hs_school) == []
    assert _codes(world.tech_school) == []


def test_r38_missing_cte_task(world):
    # given
    world.hs_tasks[CTE_TERM].delete()
    # when
    report = readiness_report(school=world.hs_school, as_of=AS_OF)
    # then
    assert [r["code"] for r in report] == ["no_hs_task"]
    assert "Add CTE Term Grade" in report[0]["fix"]


def test_r38_no_active_term(world):
    world.activate(world.hs_tasks[CTE_TERM], None)
    assert _codes(world.hs_school) == ["no_active_term"]


def test_r38_hs_term_outside_tech_term_seen_from_both_schools(world):
    # given: tech on S2, HS still on Q2
    world.activate(world.tech_tasks[CTE_TERM], world.tech_terms[1])
    world.activate(world.hs_tasks[CTE_TERM], world.hs_terms[1])
    # then
    assert _codes(world.hs_school) == ["term_out_of_range"]
    assert _codes(world.tech_school) == ["term_out_of_range"]


def test_r38_score_group_not_matching_cte_numeric(world):
    # given: a district group with other thresholds
    group = ScoreGroup.objects.create(name="Tens", district=DistrictFactory())
    for score, pct in [("A", 93), ("B", 85), ("C", 0)]:
        ScoreRow.objects.create(group=group, score=score, min_percent=pct)
    task = world.hs_tasks[CTE_TERM]
    task.score_group = group
    task.save()
    # then
    assert _codes(world.hs_school) == ["score_untranslatable"]


def test_r38_nothing_reported_while_the_tech_task_is_not_posting(world):
    # given: no active term on the tech task, a HS with no active term either
    world.activate(world.tech_tasks[CTE_TERM], None)
    world.activate(world.hs_tasks[CTE_TERM], None)
    assert _codes(world.hs_school) == []
