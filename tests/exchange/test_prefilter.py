"""R48: the database pre-filter of the enrollment flow (only the (student, tech section) keys
that differ are read into Python) answers exactly what reconciling every key in Python
answers.

Each step of a scenario changes the HS or tech side; after each, the flows are run as dry
runs twice - with the pre-filter, and with it answering "every key differs" - and the
outcomes and unchanged counts must be equal. Then a real run applies the step.
"""

import datetime as dt
from decimal import Decimal

from exchange.flows import enrollments as enrollments_flow
from exchange.flows import grades as grades_flow
from exchange.services import exchange_run, school_year_of
from grading.models import CTE_FINAL, CTE_TERM, Grade, ScoreRow
from schools.models import Roster
from tests.factories import RosterFactory, SectionFactory
from tests.world import AS_OF, build_kts_world


def _every_key_differs(*, calendar_id, as_of):
    keys = set()
    for student_id, section_id in Roster.objects.filter(
        section__course__calendar_id=calendar_id, section__course__is_kts=True
    ).values_list("student_id", "section_id"):
        keys.add((student_id, section_id))
    for student_id, _hs_section_id, tech_section_id in Roster.objects.filter(
        section__kts_link__tech_section__course__calendar_id=calendar_id
    ).values_list("student_id", "section_id", "section__kts_link__tech_section_id"):
        keys.add((student_id, tech_section_id))
    return keys, 0


def _key(result):
    return (
        result.unchanged,
        sorted(tuple(sorted((k, str(v)) for k, v in o.items())) for o in result.outcomes),
    )


def _both(monkeypatch, w, as_of=AS_OF):
    kwargs = {
        "run_id": 0,
        "tech_school_id": w.tech_school.pk,
        "as_of": as_of,
        "school_year": school_year_of(as_of),
        "dry_run": True,
    }
    filtered = (
        _key(grades_flow.sync_grades(**kwargs)),
        _key(enrollments_flow.sync_enrollments(**kwargs)),
    )
    with monkeypatch.context() as m:
        m.setattr(enrollments_flow, "_dirty_keys", _every_key_differs)
        everything = (
            _key(grades_flow.sync_grades(**kwargs)),
            _key(enrollments_flow.sync_enrollments(**kwargs)),
        )
    return filtered, everything


def _step(monkeypatch, w, *, as_of=AS_OF):
    filtered, everything = _both(monkeypatch, w, as_of)
    assert filtered == everything
    run = exchange_run(as_of=as_of, trigger="test", inline=True)
    assert run.status == "succeeded", run.error
    filtered, everything = _both(monkeypatch, w, as_of)
    assert filtered == everything
    return filtered


def test_r48_prefilter_agrees_with_reconciling_every_key(db, monkeypatch):
    w = build_kts_world()
    a, b, c, d, e = w.add_students(5)
    q1, q2, _, _ = w.hs_terms
    s1, s2 = w.tech_terms
    term_task = w.hs_tasks[CTE_TERM]

    # nothing posted yet: only enrollments to add
    _step(monkeypatch, w)
    # a quiet night: everything unchanged, counted by the database alone
    (grades_quiet, enrollments_quiet) = _step(monkeypatch, w)
    assert enrollments_quiet == (5, [])

    for student, percent in ((a, "88"), (b, "91.5"), (c, "59.99"), (d, "70")):
        w.post_tech_grade(student, percent, term=s1)
    w.post_tech_grade(a, "90", term=s1, code=CTE_FINAL)
    after_posting = _step(monkeypatch, w)
    # the second pass finds the 4 term grades unchanged; the final grade is skipped (the HS
    # final task has no active term yet) and said again
    assert after_posting[0][0] == 4
    assert [dict(o)["reason"] for o in after_posting[0][1]] == ["no_active_term"]

    # a changed percent; a percent the HS score group cannot translate; none at all
    w.post_tech_grade(a, "77", term=s1)
    Grade.objects.filter(section=w.tech_section, student=b, grading_task__code=CTE_TERM).update(
        percent=None
    )
    _step(monkeypatch, w)

    # the HS score group's row for C changes its label: the HS grade must follow
    hs_group = term_task.score_group
    ScoreRow.objects.filter(group=hs_group, score="C").update(score="C+")
    _step(monkeypatch, w)

    # the HS moves its active term; then forgets to (tech grade in S2 out of range)
    w.activate(term_task, q2)
    _step(monkeypatch, w)
    w.post_tech_grade(d, "85", term=s2)
    _step(monkeypatch, w)
    w.activate(term_task, None)  # no active term at all
    _step(monkeypatch, w)
    w.activate(term_task, q2)

    # a roster that no longer covers the active term; a roster deleted; a HS start corrected
    Roster.objects.filter(section=w.hs_section, student=c).update(end_date=q1.end_date)
    Roster.objects.filter(section=w.hs_section, student=d).delete()
    Roster.objects.filter(section=w.hs_section, student=e).update(
        start_date=w.hs_section.course.calendar.start_date + dt.timedelta(days=7)
    )
    _step(monkeypatch, w)

    # a student in a second HS section linked to the same tech section
    second = build_kts_world(tech_section=w.tech_section)
    RosterFactory(student=a, section=second.hs_section)
    _step(monkeypatch, w)

    # a HS roster whose start lies after as_of (the tech roster is removed, not ended)
    other = SectionFactory(course=w.tech_section.course)
    w.hs_section.kts_link.tech_section = other
    w.hs_section.kts_link.save()
    _step(monkeypatch, w)

    # a HS grade edited by hand at the HS: the exchange sets it back
    w.hs_section.kts_link.tech_section = w.tech_section
    w.hs_section.kts_link.save()
    _step(monkeypatch, w)
    Grade.objects.filter(section=w.hs_section, student=a, grading_task__code=CTE_TERM).update(
        percent=Decimal("12.00")
    )
    last = _step(monkeypatch, w)
    assert last[0][0] >= 1
