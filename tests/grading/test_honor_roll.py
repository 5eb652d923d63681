"""R31: honor roll tiers, the honor roll selector, API and page."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grading.models import HonorRollTier
from grading.selectors.gpa import CountedGrade, TierRule, choose_tier, honor_roll
from tests.factories import SchoolFactory, UserFactory
from tests.world import reports_world

gpas = st.decimals(min_value=0, max_value=5, places=2, allow_nan=False, allow_infinity=False)
percents = st.one_of(st.none(), st.decimals(min_value=0, max_value=100, places=2, allow_nan=False))
grades = st.lists(
    st.builds(CountedGrade, gpas, st.just(Decimal("1")), st.booleans(), percents), max_size=6
)
tiers = st.lists(st.builds(TierRule, st.uuids().map(str), gpas, percents), max_size=4)


# --- pure computation ---------------------------------------------------------------------


@given(gpas, grades, tiers)
def test_r31_choose_tier_is_the_highest_tier_met(gpa, counted, rules):
    # given any GPA, counted grades and tiers / when a tier is chosen
    chosen = choose_tier(gpa, counted, rules)

    # then: no tier with a non-passing counted grade
    def met(t):
        return gpa >= t.min_gpa and (
            t.min_percent is None
            or all(g.percent is None or g.percent >= t.min_percent for g in counted)
        )

    if any(not g.passing for g in counted):
        assert chosen is None
        return
    eligible = [t for t in rules if met(t)]
    if not eligible:
        assert chosen is None
        return
    # the chosen tier is met and no met tier has a higher minimum GPA
    tier = next(t for t in rules if t.name == chosen)
    assert met(tier)
    assert tier.min_gpa == max(t.min_gpa for t in eligible)


def test_r31_no_gpa_means_no_tier():
    assert choose_tier(None, [], [TierRule("Honor Roll", Decimal("0"))]) is None


def test_r31_min_percent_applies_to_every_counted_grade():
    # given a 4.00 student with one 91% grade and one 97% grade
    counted = [
        CountedGrade(Decimal(4), Decimal(1), True, Decimal("91")),
        CountedGrade(Decimal(4), Decimal(1), True, Decimal("97")),
    ]
    rules = [
        TierRule("Principal's List", Decimal("4.00"), Decimal("95")),
        TierRule("Honor Roll", Decimal("3.50")),
    ]
    # then the 95%-everywhere tier is missed and the next one met
    assert choose_tier(Decimal("4.00"), counted, rules) == "Honor Roll"


# --- selector -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_r31_english_a_and_exchanged_85_put_the_student_on_honor_roll_at_3_5():
    # given the 3.67 student and tiers High Honors 3.80 / Honor Roll 3.50
    w = reports_world()
    student = w.add_student()
    w.letter(student, "A")
    w.exchanged(student, "85.00", "B")
    # when / then
    rows = honor_roll(school=w.hs_school, term=w.q1)
    assert [(r["student"], r["gpa"], r["tier"]) for r in rows] == [
        (student.pk, Decimal("3.67"), "Honor Roll")
    ]


@pytest.mark.django_db
def test_r31_failing_exchanged_grade_drops_the_student_from_every_tier():
    # given an English A and a failing exchanged tech grade (GPA would be (8+0)/3=2.67, but
    # even a 0-GPA tier must refuse)
    w = reports_world(tiers=(("Everyone", "0.00", None),))
    student = w.add_student()
    w.letter(student, "A")
    w.exchanged(student, "42.00", "F")
    # then off every tier
    assert honor_roll(school=w.hs_school, term=w.q1) == []


@pytest.mark.django_db
def test_r31_highest_tier_met_and_order_by_tier():
    w = reports_world()
    top, mid, low = w.add_student(), w.add_student(), w.add_student()
    w.letter(top, "A")
    w.exchanged(top, "95", "A")
    w.letter(mid, "A")
    w.exchanged(mid, "85", "B")
    w.letter(low, "B")
    w.exchanged(low, "85", "B")
    rows = honor_roll(school=w.hs_school, term=w.q1)
    assert [(r["student"], r["tier"]) for r in rows] == [
        (top.pk, "High Honors"),
        (mid.pk, "Honor Roll"),
    ]


def _grow(w, n):
    for _ in range(n):
        s = w.add_student()
        w.letter(s, "A")
        w.exchanged(s, "91", "A")


@pytest.mark.django_db
def test_r31_honor_roll_query_count_does_not_grow_with_students(django_assert_max_num_queries):
    # given 2 students, then 12 / then the same small number of queries
    w = reports_world()
    _grow(w, 2)
    # 9 to compute it, 1 to read the versions it is cached under (issue 13)
    with django_assert_max_num_queries(10):
        assert len(honor_roll(school=w.hs_school, term=w.q1)) == 2
    _grow(w, 10)
    with django_assert_max_num_queries(10):
        assert len(honor_roll(school=w.hs_school, term=w.q1)) == 12


# --- API ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_r31_honor_roll_api(api):
    w = reports_world()
    student = w.add_student()
    w.letter(student, "A")
    w.exchanged(student, "85.00", "B")
    response = api.get("/api/v1/reports/honor-roll/", {"school": w.hs_school.pk, "term": w.q1.pk})
    assert response.status_code == 200
    assert response.json()[0]["student"] == student.pk
    assert response.json()[0]["gpa"] == "3.67"
    assert response.json()[0]["tier"] == "Honor Roll"


@pytest.mark.django_db
def test_r31_honor_roll_api_refuses_bad_input(api):
    w = reports_world()
    other = SchoolFactory(district=w.district)
    # unknown school or term → 400 on that field
    r = api.get("/api/v1/reports/honor-roll/", {"school": 999999, "term": w.q1.pk})
    assert r.status_code == 400 and "school" in r.json()
    r = api.get("/api/v1/reports/honor-roll/", {"school": w.hs_school.pk, "term": "x"})
    assert r.status_code == 400 and "term" in r.json()
    r = api.get("/api/v1/reports/honor-roll/", {"school": w.hs_school.pk})
    assert r.status_code == 400 and "term" in r.json()
    # a term of another school → 400 with its code
    r = api.get("/api/v1/reports/honor-roll/", {"school": other.pk, "term": w.q1.pk})
    assert r.status_code == 400
    assert r.data["term"][0].code == "term_of_other_school"
    # a tech school's term → 400
    tech_term = w.tech_calendar.terms.first()
    r = api.get("/api/v1/reports/honor-roll/", {"school": w.tech_school.pk, "term": tech_term.pk})
    assert r.status_code == 400
    assert r.data["term"][0].code == "term_not_at_high_school"


@pytest.mark.django_db
def test_r31_honor_roll_tiers_api_creates_and_validates(api):
    w = reports_world(tiers=())
    r = api.post(
        "/api/v1/honor-roll-tiers/",
        {"school": w.hs_school.pk, "name": "Honor Roll", "min_gpa": "3.50"},
        format="json",
    )
    assert r.status_code == 201, r.content
    assert r.json()["min_percent"] is None
    # a tech school, a negative GPA, a duplicate name → 400, nothing written
    r = api.post(
        "/api/v1/honor-roll-tiers/",
        {"school": w.tech_school.pk, "name": "X", "min_gpa": "3.00"},
        format="json",
    )
    assert r.status_code == 400 and "school" in r.json()
    r = api.post(
        "/api/v1/honor-roll-tiers/",
        {"school": w.hs_school.pk, "name": "Y", "min_gpa": "-1"},
        format="json",
    )
    assert r.status_code == 400 and "min_gpa" in r.json()
    r = api.post(
        "/api/v1/honor-roll-tiers/",
        {"school": w.hs_school.pk, "name": "Honor Roll", "min_gpa": "3.00"},
        format="json",
    )
    assert r.status_code == 400
    assert HonorRollTier.objects.count() == 1


# --- page ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_r31_honor_roll_page_shows_tiers_chart_and_csv(admin_client_su):
    w = reports_world()
    student = w.add_student(last_name="Zephyr")
    w.letter(student, "A")
    w.exchanged(student, "85.00", "B")
    url = f"/school/{w.hs_school.pk}/honor-roll/"
    page = admin_client_su.get(url, {"term": w.q1.pk})
    assert page.status_code == 200
    body = page.content.decode()
    assert "Honor Roll" in body and "Zephyr" in body and "3.67" in body
    assert "<svg" in body and "<rect" in body  # the chart is inline SVG
    assert 'src="http' not in body  # nothing loaded from a CDN
    csv = admin_client_su.get(url, {"term": w.q1.pk, "download": "csv"})
    assert csv["Content-Type"].startswith("text/csv")
    assert 'Honor Roll,"Zephyr, ' in csv.content.decode()
    # an unknown term is explained, not a 500
    assert "is not one" in admin_client_su.get(url, {"term": "abc"}).content.decode()


@pytest.mark.django_db
def test_r31_honor_roll_page_needs_login_and_staff_of_that_school(client):
    from schools.models import StaffRole

    w = reports_world()
    url = f"/school/{w.hs_school.pk}/honor-roll/"
    assert client.get(url).status_code == 302  # to the login page
    outsider = UserFactory()
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    StaffRole.objects.create(user=outsider, role="registrar", school=w.hs_school)
    assert client.get(url).status_code == 200


# --- R31: incomplete ----------------------------------------------------------------------


@pytest.mark.django_db
def test_r31_a_counted_course_without_a_grade_makes_the_student_incomplete_and_off_every_tier(
    api, client, superuser
):
    # given: an A in English (4.00 alone) and no grade yet in the counted KTS course
    w = reports_world()
    student = w.add_student()
    w.letter(student, "A")
    complete = w.add_student()
    w.letter(complete, "A")
    w.exchanged(complete, "95.00", "A")
    client.force_login(superuser)
    # when
    rows = {r["student"]: r for r in honor_roll(school=w.hs_school, term=w.q1)}
    api_rows = api.get(
        "/api/v1/reports/honor-roll/", {"school": w.hs_school.pk, "term": w.q1.pk}
    ).json()
    page = client.get(f"/school/{w.hs_school.pk}/honor-roll/", {"term": w.q1.pk}).content.decode()
    csv = client.get(
        f"/school/{w.hs_school.pk}/honor-roll/", {"term": w.q1.pk, "download": "csv"}
    ).content.decode()
    # then
    assert rows[student.pk]["tier"] is None and rows[student.pk]["incomplete"] is True
    assert rows[student.pk]["missing"] == 1
    assert rows[complete.pk]["tier"] == "High Honors" and rows[complete.pk]["incomplete"] is False
    flagged = next(r for r in api_rows if r["student"] == student.pk)
    assert flagged["incomplete"] is True and flagged["tier"] is None
    assert 'id="incomplete"' in page and "Incomplete" in page
    assert f"{student.state_id},4.00,yes,1" in csv


@pytest.mark.django_db
def test_r31_a_student_who_left_the_section_before_the_term_ended_is_not_incomplete():
    # given: rostered in the KTS section only until mid-Q1, no grade there
    w = reports_world()
    student = w.add_student(sections=[w.english])
    from tests.factories import RosterFactory

    RosterFactory(
        student=student, section=w.hs_section, start_date=w.q1.start_date, end_date=w.q1.start_date
    )
    w.letter(student, "A")
    # when
    rows = honor_roll(school=w.hs_school, term=w.q1)
    # then
    assert [(r["student"], r["tier"], r["incomplete"]) for r in rows] == [
        (student.pk, "High Honors", False)
    ]


@pytest.mark.django_db
def test_r31_report_card_api_says_incomplete(api):
    # given an A in English and no grade yet in the counted KTS course
    w = reports_world()
    student = w.add_student()
    w.letter(student, "A")
    # when
    card = api.get("/api/v1/reports/report-card/", {"student": student.pk, "term": w.q1.pk})
    # then
    assert card.status_code == 200
    assert card.json()["incomplete"] is True and card.json()["honor_roll"] is None


@pytest.mark.django_db
def test_r31_r33_honor_roll_and_eligibility_read_grades_without_a_sort():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from grading.selectors.gpa import eligibility

    # given a student on the honor roll and one failing
    w = reports_world()
    good = w.add_student(first_name="Ann", last_name="Archer")
    w.letter(good, "A")
    w.exchanged(good, "95.00", "A")
    bad = w.add_student(first_name="Bo", last_name="Baker")
    w.letter(bad, "F")
    # when
    with CaptureQueriesContext(connection) as queries:
        roll = honor_roll(school=w.hs_school, term=w.q1)
        failing = eligibility(school=w.hs_school, term=w.q1)
    # then the answers stand and no grade query carries Grade.Meta.ordering's sort (issue 13)
    assert [r["student"] for r in roll] == [good.pk]
    assert {r["student"] for r in failing} == {bad.pk}
    grade_queries = [q["sql"] for q in queries.captured_queries if '"grading_grade"' in q["sql"]]
    assert grade_queries
    assert not [sql for sql in grade_queries if "ORDER BY" in sql]
