"""Issue 12 in a real browser: find a student and print a report card, All present after
a saved absence, a run followed to its end, every page at 390 px, and an axe-core scan of
every page (R25, R28, R32, R52)."""

import datetime as dt
import pathlib
import threading

import pytest
from playwright.sync_api import expect

from attendance.models import Attendance
from attendance.services.codes import attendance_codes_ensure_defaults
from attendance.services.records import attendance_record
from exchange.models import ExchangeRun
from exchange.services import exchange_run, exchange_run_start
from grading.models import TranscriptLine
from schools.models import StaffRole
from tests.browser.conftest import log_in
from tests.factories import RosterFactory, UserFactory
from tests.world import reports_world

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

AXE = pathlib.Path(__file__).parent / "vendor" / "axe.min.js"
MONDAY = dt.date(2026, 11, 16)


def _world():
    """Central High with Ann and Ben, a linked tech section with its teacher, codes, a
    posted transcript line, an unknown-attendance copy and a finished exchange run."""
    w = reports_world()
    ann = w.add_student(first_name="Ann", last_name="Archer")
    ben = w.add_student(first_name="Ben", last_name="Brooks")
    for s in (ann, ben):
        w.letter(s, "A")
        w.exchanged(s, "85.00", "B")
        RosterFactory(student=s, section=w.tech_section)
    w.final(ann, "85.00", "B")
    w.hs_school.unknown_attendance_sync = True
    w.hs_school.address = "1 Main Street, Redbud, KY"
    w.hs_school.save()
    tech_teacher = UserFactory(username="tech-teacher")
    w.tech_section.teachers.add(tech_teacher)
    StaffRole.objects.create(user=tech_teacher, role="teacher", school=w.tech_school)
    attendance_codes_ensure_defaults(schools=[w.hs_school, w.tech_school])
    registrar = UserFactory(username="registrar1", first_name="Rae", last_name="Registrar")
    StaffRole.objects.create(user=registrar, role="registrar", school=w.hs_school)
    admin = UserFactory(username="state1", is_superuser=True, is_staff=True)
    return w, ann, ben, tech_teacher, admin


# --- R52 + R32: search -> student page -> report card PDF ---------------------------------


def test_r52_r32_registrar_finds_a_student_and_downloads_the_report_card_pdf(page):
    # given
    w, ann, _ben, _t, _a = _world()
    log_in(page, "registrar1", "pw-for-tests-1")
    # when the registrar searches from the header
    page.get_by_label("Find a student by name or state id").fill("archer")
    page.get_by_label("Find a student by name or state id").press("Enter")
    # then the one match opens the student page with the registrar's blocks
    expect(page.get_by_role("heading", level=1)).to_have_text("Archer, Ann")
    expect(page.get_by_role("heading", name="Report cards")).to_be_visible()
    expect(page.get_by_role("heading", name="Attendance")).to_have_count(0)
    # when they open the Q1 report card and its PDF
    page.locator("#report-cards li", has_text="Q1").get_by_role("link", name="Report card").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Report Card")
    expect(page.locator(".rc-head")).to_contain_text("1 Main Street, Redbud, KY")
    href = page.get_by_role("link", name="PDF").get_attribute("href")
    pdf = page.request.get(href)  # the signed-in browser session asks for it
    # then the PDF arrives
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")


# --- R25: All present after a saved absence -----------------------------------------------


def test_r25_all_present_keeps_a_saved_absence(page):
    # given Ann saved absent on Monday
    w, ann, ben, _teacher, _a = _world()
    log_in(page, "tech-teacher", "pw-for-tests-1")
    page.goto(f"/teacher/sections/{w.tech_section.pk}/attendance/?date={MONDAY}")
    row = page.locator("tr", has_text="Archer, Ann")
    row.get_by_label("AU", exact=True).check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages li")).to_contain_text("Saved attendance for 1 students")
    # when the teacher presses All present
    page.get_by_role("button", name="All present").click()
    # then Ben is present, Ann still absent, and the page says how many it filled
    expect(page.locator(".messages li")).to_contain_text("All present marked 1 students")
    codes = {a.student_id: a.code.code for a in Attendance.objects.select_related("code")}
    assert codes == {ann.pk: "AU", ben.pk: "P"}


# --- R28/R29: the dashboard follows a run until it ends -----------------------------------


def test_r29_exchange_page_follows_a_running_run_to_its_end(page, settings):
    # given a queued run (no cluster: the test starts it after the page is open)
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False}
    _w, *_rest, admin = _world()
    run = ExchangeRun.objects.create(as_of=dt.date(2026, 11, 20), trigger="page")
    log_in(page, "state1", "pw-for-tests-1")
    page.goto("/exchange/")
    expect(page.locator("#follow-status")).to_contain_text(f"Run {run.pk} is queued")
    # when the run starts and ends while the page is open
    worker = threading.Thread(target=exchange_run_start, kwargs={"run_id": run.pk, "inline": True})
    worker.start()
    worker.join(60)
    # then the page notices the end by itself and shows the finished run
    expect(page.locator("#follow")).to_have_count(0, timeout=20000)
    row = page.locator("tbody tr", has=page.locator(f'a[href="/exchange/runs/{run.pk}/"]'))
    expect(row).to_contain_text("succeeded")


# --- every page at 390 px, and axe-core ---------------------------------------------------


def _pages(w, ann, admin):
    run = exchange_run(as_of=dt.date(2026, 11, 20), trigger="test", inline=True)
    attendance_record(
        student=ann, section=w.tech_section, date=MONDAY, code=_code(w.tech_school, "UNK")
    )
    TranscriptLine.objects.all().delete()
    from grading.services.transcripts import transcript_post

    transcript_post(school=w.hs_school, calendar=w.hs_calendar, by=admin)
    return [
        "/",
        "/teacher/",
        f"/teacher/sections/{w.english.pk}/grades/",
        f"/teacher/sections/{w.tech_section.pk}/attendance/?date={MONDAY}",
        f"/school/{w.hs_school.pk}/tech-attendance/",
        f"/school/{w.hs_school.pk}/unknown-attendance/",
        f"/school/{w.hs_school.pk}/honor-roll/?term={w.q1.pk}",
        f"/school/{w.hs_school.pk}/eligibility/?term={w.q1.pk}",
        f"/school/{w.hs_school.pk}/transcripts/",
        f"/students/{ann.pk}/transcript/",
        f"/students/{ann.pk}/report-card/{w.q1.pk}/",
        "/students/?q=a",
        f"/students/{ann.pk}/",
        "/exchange/",
        f"/exchange/runs/{run.pk}/",
        f"/exchange/readiness/?school={w.hs_school.pk}",
    ]


def _code(school, code):
    from attendance.models import AttendanceCode

    return AttendanceCode.objects.get(school=school, code=code)


def test_every_page_fits_390_px_without_sideways_scroll(chromium, live_server):
    # given
    w, ann, _ben, _t, admin = _world()
    urls = _pages(w, ann, admin)
    context = chromium.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    log_in(page, "state1", "pw-for-tests-1")
    wide = {}
    for url in urls:
        # when
        page.goto(url)
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        # then
        if width > 390:
            wide[url] = width
        assert page.locator("h1").count() >= 1, f"{url} has no h1"
    context.close()
    assert wide == {}


def test_axe_finds_no_serious_or_critical_violation_on_any_page(chromium, live_server):
    # given
    w, ann, _ben, _t, admin = _world()
    urls = _pages(w, ann, admin) + ["/accounts/login/"]
    context = chromium.new_context(base_url=live_server.url)
    page = context.new_page()
    log_in(page, "state1", "pw-for-tests-1")
    found = {}
    for url in urls:
        if url == "/accounts/login/":
            context.clear_cookies()
        # when
        page.goto(url)
        page.wait_for_load_state("networkidle")
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        # then
        bad = [
            f"{v['id']} ({v['impact']}): {v['nodes'][0]['target']}"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        if bad:
            found[url] = bad
    context.close()
    assert found == {}


def test_the_axe_scan_does_see_violations(chromium):
    # given a page with an unlabelled input (a critical violation)
    page = chromium.new_page()
    page.set_content('<html lang="en"><title>t</title><main><input type="text"></main></html>')
    page.add_script_tag(path=str(AXE))
    # when
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    page.close()
    # then: the scan used above is not blind
    assert any(v["id"] == "label" and v["impact"] == "critical" for v in result["violations"])
