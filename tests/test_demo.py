"""The demo data (``manage.py load_demo``) and the home page that links to every page."""

import datetime as dt
import io
import re

import pytest
from django.apps import apps
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.db.models import Count, Max

from exchange.demo import DEMO_PASSWORD
from exchange.models import KtsLink
from exchange.services import exchange_run
from grading.models import (
    CTE_FINAL,
    CTE_TERM,
    CourseGradingTask,
    Grade,
    GradeHistory,
)
from schools.models import (
    Course,
    Enrollment,
    Role,
    School,
    SchoolKind,
    Section,
    StaffRole,
    Student,
)

pytestmark = pytest.mark.django_db

OUR_APPS = ("auth", "schools", "grading", "attendance", "exchange")


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    """A cheap hasher keeps these tests fast; what is tested is that the logins work."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def load_demo() -> str:
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


def snapshot() -> dict[str, tuple]:
    """Row count and latest modification of every model of ours."""
    result = {}
    for model in apps.get_models():
        if model._meta.app_label not in OUR_APPS:
            continue
        fields = {f.name for f in model._meta.get_fields()}
        latest = (
            model.objects.aggregate(m=Max("modified_at"))["m"] if "modified_at" in fields else None
        )
        result[model.__name__] = (model.objects.count(), latest)
    return result


def test_r1_r3_r17_r36_load_demo_builds_schools_students_links_and_logins():
    # given an empty, migrated database
    assert not School.objects.exists()
    # when
    out = load_demo()
    # then R1: two tech schools in the KTS district, three high schools in the county
    tech = School.objects.filter(kind=SchoolKind.TECHNICAL_SCHOOL)
    assert tech.count() == 2
    assert set(tech.values_list("district__code", flat=True)) == {"KTS"}
    high = School.objects.filter(kind=SchoolKind.HIGH_SCHOOL)
    assert high.count() == 3
    assert high.values("district").distinct().count() == 1
    # R3: about 200 students, each with one primary enrollment at a HS
    assert Student.objects.count() == 200
    primary = Enrollment.objects.filter(service_type="primary", school_year=2027)
    assert primary.count() == 200
    assert set(primary.values_list("calendar__school__kind", flat=True)) == {"high_school"}
    # R18: the tech-side enrollments are left to the exchange
    assert not Enrollment.objects.filter(service_type="secondary").exists()
    assert not Section.objects.filter(
        course__calendar__school__kind="technical_school", rosters__isnull=False
    ).exists()
    # R17: several HS sections (from every HS) link to each tech section
    assert KtsLink.objects.count() == 24
    per_tech = KtsLink.objects.values("tech_section").annotate(
        n=Count("id"), schools=Count("hs_section__course__calendar__school", distinct=True)
    )
    assert {(row["n"], row["schools"]) for row in per_tech} == {(3, 3)}
    # about half the students take a KTS course
    kts_students = Student.objects.filter(rosters__section__kts_link__isnull=False).distinct()
    assert 80 <= kts_students.count() <= 120
    # R36: every role is held by someone, and every school has teachers
    assert set(StaffRole.objects.values_list("role", flat=True)) == set(Role.values)
    for school in School.objects.all():
        assert StaffRole.objects.filter(school=school, role=Role.TEACHER).exists()
    # the logins are printed and every one authenticates with the demo password
    assert DEMO_PASSWORD in out
    for username in ("admin", "county-admin", "central-clerk", "central-registrar", "batc-auto"):
        assert username in out
        assert authenticate(username=username, password=DEMO_PASSWORD) is not None


def test_r6_r11_r14_demo_kts_courses_are_set_up_and_tech_grades_imported():
    # given / when
    load_demo()
    # then every KTS course has CTE Term Grade on every term with one active term and
    # Term GPA weight 1, and CTE Final Grade with credit on a state credit type
    for course in Course.objects.filter(is_kts=True):
        tasks = {
            ct.grading_task.code: ct
            for ct in CourseGradingTask.objects.filter(course=course).select_related(
                "grading_task", "credit_type"
            )
        }
        assert set(tasks) == {CTE_TERM, CTE_FINAL}
        term = tasks[CTE_TERM]
        assert term.term_gpa_weight == 1 and term.credit is None
        assert term.mask.count() == course.calendar.terms.count()
        assert term.mask.filter(active=True).count() == 1
        final = tasks[CTE_FINAL]
        assert final.credit == 1 and final.term_gpa_weight is None
        assert final.credit_type.name == "Career and Technical"
        assert final.credit_type.district_id is None
    # R14: the tech schools have CTE Term Grades for the active term, each with a history row
    tech_grades = Grade.objects.filter(section__course__calendar__school__kind="technical_school")
    assert tech_grades.count() > 50
    assert set(tech_grades.values_list("source", flat=True)) == {"import"}
    assert set(tech_grades.values_list("grading_task__code", flat=True)) == {CTE_TERM}
    assert GradeHistory.objects.count() == Grade.objects.count()


def test_load_demo_twice_changes_nothing():
    # given the demo loaded once
    load_demo()
    before = snapshot()
    # when it runs again
    out = load_demo()
    # then no row was added, removed or modified
    assert snapshot() == before
    assert "Demo data ready" in out


def test_r18_r19_first_exchange_moves_every_demo_tech_grade_and_reload_still_works():
    # given the demo
    load_demo()
    tech_grades = Grade.objects.filter(section__course__calendar__school__kind="technical_school")
    kts_students = Student.objects.filter(rosters__section__kts_link__isnull=False).distinct()
    # when the exchange runs on a school day of the active terms (Q2 lies within S1)
    run = exchange_run(as_of=dt.date(2026, 11, 20), trigger="command", inline=True)
    # then R18: every KTS student is enrolled and rostered at the tech school, and R19:
    # every tech grade reaches the HS with nothing skipped
    assert run.status == "succeeded", run.error
    assert run.counts["enrollments"]["added"] == kts_students.count()
    assert run.counts["grades"]["added"] == tech_grades.count()
    assert run.counts["grades"]["skipped"] == 0
    # and loading the demo again changes nothing the exchange wrote
    before = snapshot()
    load_demo()
    assert snapshot() == before


# --- the home page -------------------------------------------------------------------------


def home_main(client) -> str:
    """The home page's own content (the shared header links to some pages for everyone)."""
    html = client.get("/").content.decode()
    return html.split("<main", 1)[1].split(">", 1)[1]


def test_r36_home_page_needs_a_login(client):
    # when
    response = client.get("/")
    # then
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_r36_home_page_links_follow_the_users_roles(client):
    # given the demo
    load_demo()
    central = School.objects.get(code="RCHS")
    batc_section = Section.objects.filter(teachers__username="batc-auto").first()

    # when the attendance clerk opens the home page
    client.login(username="central-clerk", password=DEMO_PASSWORD)
    html = home_main(client)
    # then it offers their school's attendance pages and nothing else
    assert f"/school/{central.pk}/tech-attendance/" in html
    assert f"/school/{central.pk}/unknown-attendance/" in html
    assert f"/school/{central.pk}/honor-roll/" not in html
    assert "/admin/" not in html
    assert "/exchange/" not in html

    # when a tech teacher opens it / then it offers their sections and no school pages
    client.login(username="batc-auto", password=DEMO_PASSWORD)
    html = home_main(client)
    assert 'href="/teacher/"' in html
    assert f"/teacher/sections/{batc_section.pk}/grades/" in html
    assert "/school/" not in html

    # when the state admin or the district admin opens it / then the admin tools and
    # every high school's pages
    for username in ("admin", "county-admin"):
        client.login(username=username, password=DEMO_PASSWORD)
        html = home_main(client)
        for url in ("/admin/", "/exchange/", "/api/docs/"):
            assert f'href="{url}"' in html
        for school in School.objects.filter(kind=SchoolKind.HIGH_SCHOOL):
            assert f"/school/{school.pk}/eligibility/" in html


def test_r36_every_home_page_link_opens_for_its_demo_user(client):
    # given the demo
    load_demo()
    for username in [
        "admin",
        "central-principal",
        "central-clerk",
        "central-registrar",
        "batc-auto",
    ]:
        client.force_login(get_user_model().objects.get(username=username))
        links = sorted(set(re.findall(r'href="(/[^"]*)"', home_main(client))))
        assert links, username
        # when each page the home page offers is opened
        answers = {link: client.get(link).status_code for link in links}
        # then every one opens (200, or a redirect for the admin site)
        assert {link: code for link, code in answers.items() if code not in (200, 302)} == {}, (
            username
        )


def test_demo_shows_every_daily_journey():
    """Issue 12: last year's final grades wait for posting (R34), unknown attendance is on
    the clerks' worklist (R27), one tech section goes stale (R15), schools have addresses."""
    from attendance.selectors import unknown_worklist
    from grading.selectors.stale import stale_sections
    from grading.services.transcripts import transcript_post
    from schools.models import Calendar

    # given
    load_demo()
    central = School.objects.get(code="RCHS")
    # then: the clerk has a worklist the morning after
    assert central.unknown_attendance_sync and unknown_worklist(school=central).count() >= 4
    assert central.address
    # and Q1 is complete: every counted course has its grade, KTS courses included (R31)
    from grading.selectors.gpa import term_standings
    from schools.models import Term

    q1 = Term.objects.get(calendar__school=central, calendar__school_year=2027, name="Q1")
    standings = term_standings(term=q1).values()
    assert standings and all(s.missing == 0 for s in standings)
    # and the registrar can post last year's final grades
    previous = Calendar.objects.get(school=central, school_year=2026)
    result = transcript_post(school=central, calendar=previous, by=None)
    assert result["final_grades"] >= 20 and result["added"] == result["final_grades"]
    # and once the exchange rosters the students, one tech section is stale
    exchange_run(as_of=dt.date(2026, 11, 20), trigger="command", inline=True)
    stale = stale_sections(as_of=dt.date.today())
    assert [(s.section.course.number, s.section.number) for s in stale][:1] == [("CRP1", "2")]
    # and the nightly run leaves the worklist as it was
    assert unknown_worklist(school=central).count() >= 4
