"""The grade flow of the exchange (R19-R22, R24)."""

from decimal import Decimal

import pytest
from django.db import connection

from exchange.models import ExchangeOutcome
from exchange.services import exchange_run
from grading.models import CTE_EXAM, CTE_FINAL, CTE_TERM, Grade, GradeHistory, ScoreGroup, ScoreRow
from tests.factories import DistrictFactory, StudentFactory
from tests.world import AS_OF, build_kts_world


def _run(as_of=AS_OF, **kw):
    return exchange_run(as_of=as_of, trigger="test", inline=True, **kw)


def _outcomes(run, **filters):
    return list(
        ExchangeOutcome.objects.filter(run=run, flow="grades", **filters).values_list(
            "action", "reason"
        )
    )


def test_r19_r22_scenario_quarters_at_hs_semesters_at_tech(db):
    """The seed's story: HS quarters, tech semesters, a HS that forgets to move its term."""
    # given: HS active Q1, tech active S1, one student
    w = build_kts_world()
    (student,) = w.add_students(1)
    q1, q2, q3, _ = w.hs_terms
    s1, s2 = w.tech_terms
    hs_term_task = w.hs_tasks[CTE_TERM]

    # when: a weekly tech grade lands in S1 while the HS has Q1 active
    w.post_tech_grade(student, "88.00", term=s1)
    run1 = _run()
    # then: the HS gets it in Q1
    g = Grade.objects.get(section=w.hs_section, student=student, term=q1)
    assert (g.percent, g.score, g.source, g.run_id) == (Decimal("88.00"), "B", "exchange", run1.pk)
    assert run1.counts["grades"]["added"] == 1

    # when: the HS moves to Q2 and the next tech posting (still S1) arrives
    w.activate(hs_term_task, q2)
    w.post_tech_grade(student, "93.00", term=s1)
    run2 = _run()
    # then: it lands in Q2; Q1 keeps the earlier grade
    assert w.hs_grades().get(term=q2).percent == Decimal("93.00")
    assert w.hs_grades().get(term=q1).percent == Decimal("88.00")
    assert run2.counts["grades"]["added"] == 1

    # when: tech moves to S2 and posts there; the HS forgets to move off Q2
    w.post_tech_grade(student, "75.00", term=s2)
    run3 = _run()
    # then: the S2 grade is skipped (term_out_of_range) and Q2 is untouched
    assert ("skipped", "term_out_of_range") in _outcomes(run3)
    assert w.hs_grades().get(term=q2).percent == Decimal("93.00")
    assert not w.hs_grades().filter(term=q3).exists()

    # when: the HS activates Q3, and the tech grade does not change (R22)
    w.activate(hs_term_task, q3)
    run4 = _run()
    # then: the S2 grade arrives in Q3
    g3 = w.hs_grades().get(term=q3)
    assert (g3.percent, g3.score) == (Decimal("75.00"), "C")
    assert run4.counts["grades"]["added"] == 1
    assert w.hs_grades().get(term=q2).percent == Decimal("93.00")


def test_r19_updated_grade_crosses_with_history(world):
    # given: a grade already exchanged
    student = world.students[0]
    tech = world.post_tech_grade(student, "81.00")
    _run()
    # when: the tech teacher changes it
    tech.percent = Decimal("95.50")
    tech.save()
    run = _run()
    # then: the HS grade is updated with a history row from the run
    hs = world.hs_grades().get(student=student)
    assert (hs.percent, hs.score, hs.source_grade_id) == (Decimal("95.50"), "A", tech.pk)
    assert run.counts["grades"]["updated"] == 1
    h = GradeHistory.objects.filter(grade=hs).order_by("id").last()
    assert (h.source, h.run_id, h.old_percent, h.new_percent, h.old_score, h.new_score) == (
        "exchange",
        run.pk,
        Decimal("81.00"),
        Decimal("95.50"),
        "B",
        "A",
    )


def test_r20_score_is_the_row_of_the_hs_score_group(db):
    # given: a HS using a district group with CTE Numeric's Min % column but other labels
    district = DistrictFactory()
    group = ScoreGroup.objects.create(name="Letters", district=district)
    for score, pct in [("EX", 90), ("GD", 80), ("OK", 70), ("LO", 60), ("NO", 0)]:
        ScoreRow.objects.create(group=group, score=score, min_percent=pct)
    w = build_kts_world()
    w.hs_tasks[CTE_TERM].score_group = group
    w.hs_tasks[CTE_TERM].save()
    (student,) = w.add_students(1)
    w.post_tech_grade(student, "79.99")
    # when
    _run()
    # then: the percent crosses, the score is the HS row
    g = w.hs_grades().get()
    assert (g.percent, g.score) == (Decimal("79.99"), "OK")


def test_r20_equal_grade_is_unchanged_without_write_or_history(world):
    # given: grades exchanged once
    for s in world.students:
        world.post_tech_grade(s, "90.00")
    _run()
    before = list(world.hs_grades().values_list("id", "modified_at", "run_id"))
    history = GradeHistory.objects.count()
    # when: the exchange runs again
    run = _run()
    # then: every grade is unchanged, nothing written
    assert run.counts["grades"]["unchanged"] == 3
    assert list(world.hs_grades().values_list("id", "modified_at", "run_id")) == before
    assert GradeHistory.objects.count() == history


def test_r21_not_rostered(world):
    # given: a tech grade for a student who is in no linked HS section
    outsider = StudentFactory()
    world.post_tech_grade(outsider, "90.00")
    # when
    run = _run()
    # then
    assert _outcomes(run) == [("skipped", "not_rostered")]
    assert not Grade.objects.filter(student=outsider, section=world.hs_section).exists()


def test_r21_no_hs_task(world):
    # given: the tech school posts a final exam, the HS course has no CTE Final Exam task
    student = world.students[0]
    world.post_tech_grade(student, "90.00", code=CTE_EXAM, term=world.tech_terms[0])
    # when
    run = _run()
    # then
    assert _outcomes(run, reason="no_hs_task") == [("skipped", "no_hs_task")]
    assert not world.hs_grades(CTE_EXAM).exists()


def test_r21_no_active_term(world):
    # given: the HS task has no active term
    world.activate(world.hs_tasks[CTE_TERM], None)
    world.post_tech_grade(world.students[0], "90.00")
    # when
    run = _run()
    # then
    assert _outcomes(run) == [("skipped", "no_active_term")]
    assert not world.hs_grades().exists()


def test_r21_score_untranslatable_and_errors_do_not_stop_the_run(db):
    # given: a HS group with no row at 0 (a 50% has no row) - and another student who is fine
    district = DistrictFactory()
    group = ScoreGroup.objects.create(name="Odd", district=district)
    ScoreRow.objects.create(group=group, score="P", min_percent=60)
    w = build_kts_world()
    w.hs_tasks[CTE_TERM].score_group = group
    w.hs_tasks[CTE_TERM].save()
    low, high = w.add_students(2)
    w.post_tech_grade(low, "50.00")
    w.post_tech_grade(high, "70.00")
    # when
    run = _run()
    # then
    assert sorted(_outcomes(run)) == [("added", ""), ("skipped", "score_untranslatable")]
    assert w.hs_grades().get().student == high
    assert run.status == "succeeded"


def test_r24_final_grade_transfers_as_soon_as_posted(db):
    # given: S2 and Q4 active for CTE Final Grade at both schools
    w = build_kts_world()
    (student,) = w.add_students(1)
    w.activate(w.hs_tasks[CTE_FINAL], w.hs_terms[3])
    w.activate(w.tech_tasks[CTE_FINAL], w.tech_terms[1])
    w.post_tech_grade(student, "84.00", term=w.tech_terms[1], code=CTE_FINAL)
    # when
    run = _run()
    # then
    g = w.hs_grades(CTE_FINAL).get()
    assert (g.term, g.percent, g.score) == (w.hs_terms[3], Decimal("84.00"), "B")
    assert run.counts["grades"]["added"] == 1


def test_r19_many_hs_sections_of_many_high_schools_share_one_tech_section(db):
    # given: two high schools linked to the same tech section
    a = build_kts_world()
    b = build_kts_world(tech_section=a.tech_section)
    (sa,) = a.add_students(1)
    (sb,) = b.add_students(1)
    a.post_tech_grade(sa, "91.00")
    a.post_tech_grade(sb, "61.00")
    # when
    _run()
    # then: each grade reaches only its own HS section
    assert a.hs_grades().get().student == sa
    assert b.hs_grades().get().student == sb
    assert b.hs_grades().get().score == "D"


def test_r16_r24_corrected_final_grade_carries_its_reason_to_the_hs_history(db):
    from grading.services.grades import grade_post
    from tests.factories import UserFactory

    # given: a final grade posted at the tech school and exchanged to the HS
    w = build_kts_world()
    (student,) = w.add_students(1)
    w.activate(w.hs_tasks[CTE_FINAL], w.hs_terms[3])
    w.activate(w.tech_tasks[CTE_FINAL], w.tech_terms[1])
    teacher = UserFactory()
    w.tech_section.teachers.add(teacher)
    _run()  # the enrollment flow rosters the student at the tech school
    final = dict(
        student=student,
        section=w.tech_section,
        grading_task=w.tech_tasks[CTE_FINAL].grading_task,
        term=w.tech_terms[1],
        by=teacher,
    )
    grade_post(**final, percent="84.00")
    _run()
    # when: the tech teacher corrects it with a reason (R16) and the exchange runs again
    grade_post(**final, percent="91.00", correction_reason="Portfolio regraded")
    run = _run()
    # then: the HS grade is updated and its history row says why
    hs = w.hs_grades(CTE_FINAL).get()
    assert (hs.percent, hs.score) == (Decimal("91.00"), "A")
    assert run.counts["grades"]["updated"] == 1
    latest = GradeHistory.objects.filter(grade=hs).order_by("-changed_at", "-id").first()
    assert (latest.source, latest.old_percent, latest.new_percent, latest.reason) == (
        "exchange",
        Decimal("84.00"),
        Decimal("91.00"),
        "Portfolio regraded",
    )
    first = GradeHistory.objects.filter(grade=hs).order_by("changed_at", "id").first()
    assert first.reason == ""


def test_r34_a_posted_final_grade_changed_by_the_exchange_flags_its_line_at_once(db):
    from grading.models import TranscriptLine
    from grading.services.grades import grade_post
    from grading.services.transcripts import transcript_post
    from tests.factories import UserFactory

    # given: a final grade exchanged to the HS and posted to the transcript
    w = build_kts_world()
    (student,) = w.add_students(1)
    w.activate(w.hs_tasks[CTE_FINAL], w.hs_terms[3])
    w.activate(w.tech_tasks[CTE_FINAL], w.tech_terms[1])
    teacher = UserFactory()
    w.tech_section.teachers.add(teacher)
    _run()
    final = dict(
        student=student,
        section=w.tech_section,
        grading_task=w.tech_tasks[CTE_FINAL].grading_task,
        term=w.tech_terms[1],
        by=teacher,
    )
    grade_post(**final, percent="84.00")
    _run()
    calendar = w.hs_section.course.calendar
    transcript_post(school=calendar.school, calendar=calendar, by=None)
    assert not TranscriptLine.objects.get(student=student).needs_review
    # when: the tech school corrects it and the exchange runs (no posting in between)
    grade_post(**final, percent="91.00", correction_reason="Portfolio regraded")
    _run()
    # then: the line awaits review already and still shows the posted value
    line = TranscriptLine.objects.get(student=student)
    assert line.needs_review
    assert line.percent == Decimal("84.00")


@pytest.mark.parametrize("n_students", [2, 12])
def test_r16_r34_corrections_cross_with_reasons_and_flags_in_a_fixed_number_of_queries(
    db, n_students, django_assert_max_num_queries
):
    from grading.models import TranscriptLine
    from grading.services.grades import grade_post
    from grading.services.transcripts import transcript_post
    from tests.factories import UserFactory

    # given: final grades exchanged to the HS and posted to the transcript, then corrected at
    # the tech school, each with its own reason
    w = build_kts_world()
    students = w.add_students(n_students)
    w.activate(w.hs_tasks[CTE_FINAL], w.hs_terms[3])
    w.activate(w.tech_tasks[CTE_FINAL], w.tech_terms[1])
    teacher = UserFactory()
    w.tech_section.teachers.add(teacher)
    _run()
    finals = {
        s: dict(
            student=s,
            section=w.tech_section,
            grading_task=w.tech_tasks[CTE_FINAL].grading_task,
            term=w.tech_terms[1],
            by=teacher,
        )
        for s in students
    }
    for s in students:
        grade_post(**finals[s], percent="84.00")
    _run()
    calendar = w.hs_section.course.calendar
    transcript_post(school=calendar.school, calendar=calendar, by=None)
    for s in students:
        grade_post(**finals[s], percent="91.00", correction_reason=f"Regraded {s.pk}")
    # when: the exchange runs (the whole run: the same fixed number of queries for any
    # number of students)
    # (PostgreSQL: the upsert finds the reasons and the lines to review in its statement.)
    with django_assert_max_num_queries(43 if connection.vendor == "postgresql" else 41):
        run = _run()
    # then: every HS grade is updated with a history row carrying its tech grade's latest
    # reason, and every posted line awaits review
    assert run.counts["grades"]["updated"] == n_students
    for s in students:
        hs = w.hs_grades(CTE_FINAL).get(student=s)
        latest = GradeHistory.objects.filter(grade=hs).order_by("-changed_at", "-id").first()
        assert (latest.old_percent, latest.new_percent) == (Decimal("84.00"), Decimal("91.00"))
        assert latest.reason == f"Regraded {s.pk}"
    assert TranscriptLine.objects.filter(needs_review=True).count() == n_students


def test_r14_r20_scores_of_any_text_cross_and_enter_the_history_as_they_are(db):
    # given: a HS score group whose labels hold the characters a bulk write must carry
    # untouched (quotes, a backslash, a comma, braces, a word that reads as NULL)
    district = DistrictFactory()
    group = ScoreGroup.objects.create(name="Odd labels", district=district)
    labels = {90: 'A "top"', 80: "B\\2", 70: "C, fair", 60: "{D}", 0: "NULL"}
    for pct, score in labels.items():
        ScoreRow.objects.create(group=group, score=score, min_percent=pct)
    w = build_kts_world()
    w.hs_tasks[CTE_TERM].score_group = group
    w.hs_tasks[CTE_TERM].save()
    students = w.add_students(5)
    for s, pct in zip(students, labels, strict=True):
        w.post_tech_grade(s, f"{pct}.00")
    # when: they cross, then every one moves up a row and crosses again
    _run()
    for s, pct in zip(students, labels, strict=True):
        w.post_tech_grade(s, f"{min(pct + 10, 100)}.00")
    run = _run()
    # then: each HS grade has its row's label, and its history the old and the new one
    assert run.counts["grades"]["updated"] == 5
    ups = {0: 0, 60: 70, 70: 80, 80: 90, 90: 90}  # the row each new percent falls in
    for s, pct in zip(students, labels, strict=True):
        g = w.hs_grades().get(student=s)
        assert g.score == labels[ups[pct]]
        latest = GradeHistory.objects.filter(grade=g).order_by("-changed_at", "-id").first()
        assert (latest.old_score, latest.new_score) == (labels[pct], labels[ups[pct]])


def test_r32_an_exchange_write_makes_the_hs_schools_cached_reports_stale(db):
    """The HS grades a run writes bump their HS school's grades version (the key its cached
    honor rolls and report cards are stored under); the tech school gets none, and a run that
    writes nothing leaves every version as it was."""
    from schools import versions

    # given one tech grade to cross, and the versions as they stand
    w = build_kts_world()
    (student,) = w.add_students(1)
    w.post_tech_grade(student, "88.00", term=w.tech_terms[0])
    hs_before = versions.current(school_id=w.hs_school.pk)
    # when the run writes its HS grade
    run = _run()
    assert run.counts["grades"]["added"] == 1
    # then the HS school's grades version moved, under the part's writer key
    hs_after = versions.current(school_id=w.hs_school.pk)
    assert hs_after != hs_before
    assert f"grades:{w.hs_school.pk}:x{w.tech_school.pk}" in dict(hs_after)
    tech = versions.current(school_id=w.tech_school.pk)
    assert not [key for key, _ in tech if key.startswith(f"grades:{w.tech_school.pk}:")]
    # when a run finds nothing to write, then nothing moves
    assert _run().counts["grades"]["unchanged"] == 1
    assert versions.current(school_id=w.hs_school.pk) == hs_after
