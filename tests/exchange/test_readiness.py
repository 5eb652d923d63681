"""R38: the readiness report lists what would make grades skip tonight, with the fix."""

from exchange.selectors import readiness_report
from grading.models import CTE_TERM, ScoreGroup, ScoreRow
from tests.factories import DistrictFactory, TermFactory
from tests.world import AS_OF


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


def test_r9_r38_term_added_after_setup_flags_hs_cte_term_mask(world):
    # given: a term added to the HS calendar after the CTE tasks were set up
    calendar = world.hs_section.course.calendar
    TermFactory(calendar=calendar, name="Summer", seq=9)
    # when
    report = readiness_report(school=world.hs_school, as_of=AS_OF)
    # then: seen from both schools of the link, with the fix
    assert [r["code"] for r in report] == ["term_mask_incomplete"]
    number = world.hs_section.course.number
    assert report[0]["fix"] == f"Add Summer to CTE Term Grade's term mask on course {number}."
    assert _codes(world.tech_school) == ["term_mask_incomplete"]


def test_r9_r38_term_added_after_setup_flags_tech_cte_term_mask(world):
    # given
    TermFactory(calendar=world.tech_section.course.calendar, name="Intersession", seq=9)
    # when
    report = readiness_report(school=world.tech_school, as_of=AS_OF)
    # then
    number = world.tech_section.course.number
    assert [r["fix"] for r in report] == [
        f"Add Intersession to CTE Term Grade's term mask on course {number}."
    ]
    assert _codes(world.hs_school) == ["term_mask_incomplete"]
