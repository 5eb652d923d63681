"""A registrar reads a report card and posts transcripts (R30, R32, R34)."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from grading.models import TranscriptLine
from schools.models import StaffRole
from tests.browser.conftest import log_in
from tests.factories import UserFactory
from tests.world import reports_world

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_r32_r34_registrar_reads_a_report_card_and_posts_transcripts(page):
    # given Ann at Central High: English A (weight 2) and an exchanged tech 85 B on the KTS
    # course (weight 1) in Q1, and a CTE Final Grade of 85 posted to the HS
    w = reports_world()
    ann = w.add_student(first_name="Ann", last_name="Archer")
    w.letter(ann, "A")
    w.exchanged(ann, "85.00", "B")
    w.final(ann, "85.00", "B")
    registrar = UserFactory(username="registrar1", first_name="Rae", last_name="Registrar")
    StaffRole.objects.create(user=registrar, role="registrar", school=w.hs_school)
    log_in(page, "registrar1", "pw-for-tests-1")

    # when the registrar opens Ann's Q1 report card
    page.goto(f"/students/{ann.pk}/report-card/{w.q1.pk}/")

    # then they see both sections, the tech school's name on the KTS one, the GPA and tier
    card = page.locator("section.report-card")
    expect(card.get_by_role("heading", level=1)).to_have_text("Report Card")
    expect(card.locator(".rc-who")).to_contain_text("Archer, Ann")
    english = card.locator("tr", has_text="ENG1 English I")
    expect(english).to_contain_text("Ada Lovelace")
    expect(english.locator("td").nth(4)).to_have_text("A")
    kts = card.locator("tr", has_text="CTE1 Welding I")
    expect(kts).to_contain_text("at Area Tech Center")
    expect(kts).to_contain_text("CTE Term Grade")
    expect(kts).to_contain_text("85.00")
    expect(card.locator(".summary")).to_contain_text("Term GPA: 3.67")  # (4*2 + 3*1) / 3
    expect(card.locator(".summary")).to_contain_text("Honor roll: Honor Roll")

    # when they open the school's transcripts page
    page.goto(f"/school/{w.hs_school.pk}/transcripts/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Transcripts · Central High")
    expect(page.get_by_text("0 lines posted so far.")).to_be_visible()
    # and post the calendar's final grades
    page.get_by_label("Calendar").select_option(label=str(w.hs_calendar))
    page.get_by_role("button", name="Post final grades").click()

    # then they see the counts and one transcript line exists
    expect(page.locator(".messages li.success")).to_have_text(
        "Posted 1 new, 0 updated, 0 unchanged, 0 awaiting review."
    )
    expect(page.get_by_text("1 line posted so far.")).to_be_visible()
    line = TranscriptLine.objects.get()
    assert (line.student_id, line.course_number, line.score, line.percent) == (
        ann.pk,
        "CTE1",
        "B",
        Decimal("85.00"),
    )
    assert line.credits_earned == Decimal("1")

    # when they post again / then nothing is duplicated
    page.get_by_role("button", name="Post final grades").click()
    expect(page.locator(".messages li.success")).to_have_text(
        "Posted 0 new, 0 updated, 1 unchanged, 0 awaiting review."
    )
    expect(page.get_by_text("1 line posted so far.")).to_be_visible()
    assert TranscriptLine.objects.count() == 1
