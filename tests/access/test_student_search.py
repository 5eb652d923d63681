"""R52: find a student (API, header, results page) and the student page, each block for the
roles of R42; HS staff reading tech grades or attendance there is disclosure-logged (R37)."""

import re

import pytest
from django.test import Client

from schools.models import DisclosureLog

BLOCKS = ["grades", "report-cards", "transcript", "attendance"]


def page_blocks(html: str) -> list[str]:
    return [b for b in BLOCKS if f'id="{b}"' in html]


def signed_in(world, who) -> Client:
    client = Client()
    client.force_login(world.users[who])
    return client


@pytest.mark.parametrize(
    ("who", "found"),
    [
        ("superuser", True),
        ("district_admin", True),
        ("registrar", True),
        ("attendance_clerk", True),
        ("teacher", True),
        ("hs2_admin", False),  # another district's school: out of scope
        ("no_role", False),
    ],
)
def test_r52_api_search_by_name_or_state_id_is_scoped(world, as_user, who, found):
    # given student A (Annabelle Zzyzx) of HS1
    a = world.student_a
    # when
    by_name = as_user(who).get("/api/v1/students/", {"search": "Annabelle Zzyzx"})
    by_id = as_user(who).get("/api/v1/students/", {"search": a.state_id})
    # then
    for response in (by_name, by_id):
        ids = (
            [r["id"] for r in response.json().get("results", [])]
            if response.status_code == 200
            else []
        )
        assert (a.pk in ids) is found


def test_r52_header_search_box_for_every_role_that_sees_students(world):
    # given / when / then
    for who in ("superuser", "district_admin", "registrar", "attendance_clerk", "teacher"):
        html = signed_in(world, who).get("/").content.decode()
        assert 'id="header-student-q"' in html, who
        assert '<label for="header-student-q"' in html
    assert 'id="header-student-q"' not in signed_in(world, "no_role").get("/").content.decode()


def test_r52_results_page_lists_matches_and_one_match_opens_the_student(world):
    # given
    client = signed_in(world, "registrar")
    a = world.student_a
    # when
    one = client.get("/students/", {"q": "annabelle zzyzx"})
    none = client.get("/students/", {"q": world.student_b.state_id})
    # then
    assert one.status_code == 302 and one["Location"] == f"/students/{a.pk}/"
    assert none.status_code == 200 and "0 students match" in none.content.decode()


def test_r52_results_are_paginated(world, db):
    from tests.factories import EnrollmentFactory, StudentFactory

    # given 30 students named Zzyzx at HS1
    cal = world.home["schools.Calendar"]
    for _ in range(30):
        EnrollmentFactory(student=StudentFactory(last_name="Zzyzx"), calendar=cal)
    client = signed_in(world, "registrar")
    # when
    first = client.get("/students/", {"q": "zzyzx"}).content.decode()
    second = client.get("/students/", {"q": "zzyzx", "page": 2}).content.decode()
    # then: 31 matches, 25 + 6
    assert "31 students match" in first
    assert len(re.findall(r'href="/students/\d+/"', first)) == 25
    assert len(re.findall(r'href="/students/\d+/"', second)) == 6


@pytest.mark.parametrize(
    ("who", "blocks"),
    [
        ("superuser", ["grades", "report-cards", "transcript", "attendance"]),
        ("district_admin", ["grades", "report-cards", "transcript", "attendance"]),
        ("school_admin", ["grades", "report-cards", "transcript", "attendance"]),
        ("registrar", ["grades", "report-cards", "transcript"]),
        ("attendance_clerk", ["attendance"]),
        ("teacher", ["grades", "attendance"]),
    ],
)
def test_r52_student_page_shows_each_block_to_the_roles_of_r42(world, who, blocks):
    # given
    a = world.student_a
    # when
    response = signed_in(world, who).get(f"/students/{a.pk}/")
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>" in html and "Enrollments" in html and "Sections" in html
    assert page_blocks(html) == blocks


def test_r52_teacher_sees_only_their_own_sections_grades(world):
    # given: the teacher teaches S1 only; the colleague's section S1b has a roster too
    from tests.factories import RosterFactory

    a = world.student_a
    RosterFactory(student=a, section=world.s1b)
    # when
    html = signed_in(world, "teacher").get(f"/students/{a.pk}/").content.decode()
    # then: the colleague's section is not shown
    rosters = html.split('id="sections-h"')[1].split("</section>")[0]
    assert rosters.count("<tr><td>") == 1  # S1 only, not the colleague's S1b


def test_r52_out_of_scope_student_is_404(world):
    # when / then
    assert signed_in(world, "registrar").get(f"/students/{world.student_b.pk}/").status_code == 404
    assert signed_in(world, "no_role").get(f"/students/{world.student_a.pk}/").status_code == 404
    assert signed_in(world, "no_role").get("/students/", {"q": "x"}).status_code == 404


def test_r52_r37_hs_staff_reading_tech_grades_and_attendance_is_logged(world):
    # given
    a = world.student_a
    # when
    html = signed_in(world, "school_admin").get(f"/students/{a.pk}/").content.decode()
    # then: the tech grade is marked and both reads are in the disclosure log
    assert "tech grade</span>" in html
    logs = DisclosureLog.objects.filter(
        user=world.users["school_admin"], source_school=world.tech_school
    )
    assert set(logs.values_list("resource", flat=True)) == {
        "student-page-grades",
        "student-page-attendance",
    }
    assert all(log.student_ids == [a.pk] and log.reader_school_id == world.hs1.pk for log in logs)


def test_r52_student_page_query_count_is_bounded(world, django_assert_max_num_queries):
    # given
    client = signed_in(world, "superuser")
    # when / then
    with django_assert_max_num_queries(25):
        assert client.get(f"/students/{world.student_a.pk}/").status_code == 200


def test_r34_registrar_home_shows_lines_awaiting_review_and_the_current_terms_links(world):
    import time_machine

    from grading.models import TranscriptLine

    # given: one posted line of HS1 awaiting review
    line = world.home["grading.TranscriptLine"]
    TranscriptLine.objects.filter(pk=line.pk).update(needs_review=True)
    q1 = world.q1[0]
    client = signed_in(world, "registrar")
    # when: on a day of Q1
    with time_machine.travel(q1.start_date.isoformat() + " 12:00", tick=False):
        client.force_login(world.users["registrar"])
        html = client.get("/").content.decode()
    # then
    assert "1 transcript line awaiting review" in html
    assert f"/school/{world.hs1.pk}/honor-roll/?term={q1.pk}" in html
    assert f"/school/{world.hs1.pk}/eligibility/?term={q1.pk}" in html
    assert f'href="/students/{world.student_a.pk}/"' in html
    # and the teacher sees no registrar panel
    assert 'id="registrar"' not in signed_in(world, "teacher").get("/").content.decode()
