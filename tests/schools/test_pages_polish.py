"""Page polish: the top nav by role (R36), run durations for people (R29), error pages."""

import datetime as dt
import re

import pytest
from django.template import Context, Template
from django.test import override_settings
from django.utils import timezone

from exchange.models import ExchangeRun
from schools.models import Role, SchoolKind, StaffRole
from tests.factories import (
    CourseFactory,
    DistrictFactory,
    SchoolFactory,
    SectionFactory,
    UserFactory,
)


def nav_hrefs(html: str) -> list[str]:
    nav = re.search(r'<nav class="links"[^>]*>(.*?)</nav>', html, re.S)
    assert nav, "the page has no top nav"
    return re.findall(r'href="([^"]+)"', nav.group(1))


@pytest.fixture
def people(db):
    district = DistrictFactory()
    hs = SchoolFactory(district=district)
    tech = SchoolFactory(district=district, kind=SchoolKind.TECHNICAL_SCHOOL)
    teacher = UserFactory(username="teach")
    StaffRole.objects.create(user=teacher, role=Role.TEACHER, school=tech)
    clerk = UserFactory(username="clerk")
    StaffRole.objects.create(user=clerk, role=Role.ATTENDANCE_CLERK, school=hs)
    district_admin = UserFactory(username="dadmin", is_staff=True)
    StaffRole.objects.create(user=district_admin, role=Role.DISTRICT_ADMIN, district=district)
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    registrar = UserFactory(username="reg")
    StaffRole.objects.create(user=registrar, role=Role.REGISTRAR, school=hs)
    principal = UserFactory(username="principal")
    StaffRole.objects.create(user=principal, role=Role.SCHOOL_ADMIN, school=hs)
    return {
        "teacher": teacher,
        "clerk": clerk,
        "registrar": registrar,
        "principal": principal,
        "district_admin": district_admin,
        "superuser": superuser,
        "hs": hs,
        "tech": tech,
    }


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("teacher", ["/teacher/"]),
        ("clerk", ["/school/{hs}/tech-attendance/", "/school/{hs}/unknown-attendance/"]),
        (
            "registrar",
            ["/school/{hs}/honor-roll/", "/school/{hs}/eligibility/", "/school/{hs}/transcripts/"],
        ),
        (
            "principal",
            [
                "/school/{hs}/tech-attendance/",
                "/school/{hs}/unknown-attendance/",
                "/school/{hs}/honor-roll/",
                "/school/{hs}/eligibility/",
                "/school/{hs}/transcripts/",
                # R42: a school admin reaches their school's setup and readiness report.
                "/exchange/readiness/",
                "/admin/",
            ],
        ),
        ("district_admin", ["/exchange/", "/exchange/readiness/", "/admin/", "/api/docs/"]),
        (
            "superuser",
            ["/teacher/", "/exchange/", "/exchange/readiness/", "/admin/", "/api/docs/"],
        ),
    ],
)
def test_r36_top_nav_shows_only_the_links_the_user_can_use(client, people, who, expected):
    # given a user with one kind of role
    client.force_login(people[who])
    expected = [url.format(hs=people["hs"].pk) for url in expected]
    # when they open the home page
    html = client.get("/").content.decode()
    # then the top nav offers exactly the pages their role opens (issue 12: every role)
    assert nav_hrefs(html) == expected
    for url in expected:
        assert client.get(url).status_code == 200


def test_r36_top_nav_is_empty_when_logged_out(client, db):
    # when someone not logged in opens the login page / then no app links are offered
    html = client.get("/accounts/login/").content.decode()
    assert 'class="links"' not in html and 'href="/exchange/"' not in html


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (dt.timedelta(microseconds=88359), "0.1 s"),
        (dt.timedelta(seconds=9.94), "9.9 s"),
        (dt.timedelta(seconds=42.4), "42 s"),
        (dt.timedelta(minutes=2, seconds=5), "2 min 5 s"),
        (dt.timedelta(minutes=3), "3 min"),
        (dt.timedelta(hours=1, minutes=3, seconds=10), "1 h 3 min"),
    ],
)
def test_r29_duration_text_reads_like_a_person_would_say_it(value, text):
    # when a duration is shown / then in seconds, minutes or hours, never "0:00:00.088359"
    rendered = Template("{% load kts %}{{ d|duration_text }}").render(Context({"d": value}))
    assert rendered == text


def test_r29_dashboard_shows_run_duration_in_seconds(admin_client_su):
    # given a run that took 88 ms
    start = timezone.now()
    ExchangeRun.objects.create(
        as_of=start.date(),
        status="succeeded",
        started_at=start,
        finished_at=start + dt.timedelta(microseconds=88359),
    )
    # when the dashboard is opened
    html = admin_client_su.get("/exchange/").content.decode()
    # then the duration reads "0.1 s"
    assert "<td>0.1 s</td>" in html and "0:00:00" not in html


def test_r25_my_sections_links_tech_sections_to_attendance(client, people):
    # given a tech teacher's section and a HS section they also teach
    tech_section = SectionFactory(
        course=CourseFactory(calendar__school=people["tech"]), teachers=[people["teacher"]]
    )
    hs_section = SectionFactory(
        course=CourseFactory(calendar__school=people["hs"]), teachers=[people["teacher"]]
    )
    client.force_login(people["teacher"])
    # when they open /teacher/
    html = client.get("/teacher/").content.decode()
    # then each row links to the grade grid, the tech row also to attendance
    assert f"/teacher/sections/{tech_section.pk}/grades/" in html
    assert f"/teacher/sections/{tech_section.pk}/attendance/" in html
    assert f"/teacher/sections/{hs_section.pk}/grades/" in html
    assert f"/teacher/sections/{hs_section.pk}/attendance/" not in html


@override_settings(DEBUG=False)
def test_r36_not_found_page_is_friendly_and_keeps_the_nav(client, people):
    # given a logged-in teacher
    client.force_login(people["teacher"])
    # when they open an address that does not exist
    res = client.get("/no-such-page/")
    # then a 404 page in the site's layout points them home
    html = res.content.decode()
    assert res.status_code == 404
    assert "Page not found" in html and 'href="/"' in html
    assert nav_hrefs(html) == ["/teacher/"]


@override_settings(DEBUG=False)
def test_r36_forbidden_page_explains_what_to_do(client, people):
    # given a HS teacher, whose role does not include the unknown-attendance worklist
    hs_teacher = UserFactory(username="hs-teacher")
    StaffRole.objects.create(user=hs_teacher, role=Role.TEACHER, school=people["hs"])
    client.force_login(hs_teacher)
    # when they open it
    res = client.get(f"/school/{people['hs'].pk}/unknown-attendance/")
    # then a 403 page tells them to ask for a role
    assert res.status_code == 403
    assert "ask your school or district admin" in res.content.decode()


def test_server_error_page_stands_alone():
    # the 500 page renders without a request context (no database, no nav)
    from django.template.loader import get_template

    html = get_template("500.html").render()
    assert "Something went wrong" in html and 'rel="icon"' in html


def test_every_page_declares_an_inline_favicon(client, db):
    # no request for /favicon.ico (a 404 on every page)
    html = client.get("/accounts/login/").content.decode()
    assert '<link rel="icon" href="data:image/svg+xml' in html
