"""Exchange API: KTS links (R17), runs and outcomes (R21, R28, R29, R39), readiness (R38)."""

from exchange.models import ExchangeRun, KtsLink
from schools.models import SchoolKind
from tests.factories import CalendarFactory, CourseFactory, SchoolFactory, SectionFactory
from tests.world import AS_OF, build_kts_world


def _sections(*, hs_kts=True, tech_kts=True, tech_year=2027):
    hs = SectionFactory(
        course=CourseFactory(
            calendar=CalendarFactory(school=SchoolFactory(kind=SchoolKind.HIGH_SCHOOL)),
            is_kts=hs_kts,
        )
    )
    import datetime as dt

    tech_cal = CalendarFactory(
        school=SchoolFactory(kind=SchoolKind.TECHNICAL_SCHOOL),
        school_year=tech_year,
        start_date=dt.date(tech_year - 1, 8, 10),
        end_date=dt.date(tech_year, 5, 28),
    )
    tech = SectionFactory(course=CourseFactory(calendar=tech_cal, is_kts=tech_kts))
    return hs, tech


def test_r17_create_kts_link(api):
    # given
    hs, tech = _sections()
    # when
    res = api.post("/api/v1/kts-links/", {"hs_section": hs.pk, "tech_section": tech.pk})
    # then
    assert res.status_code == 201, res.json()
    assert KtsLink.objects.get().hs_section == hs


def test_r17_hs_section_links_to_one_tech_section_only(api):
    # given: a link exists
    hs, tech = _sections()
    KtsLink.objects.create(hs_section=hs, tech_section=tech)
    _, other_tech = _sections()
    # when
    res = api.post("/api/v1/kts-links/", {"hs_section": hs.pk, "tech_section": other_tech.pk})
    # then
    assert res.status_code == 400
    assert res.json()["hs_section"][0].startswith("This HS section is already linked")
    assert KtsLink.objects.count() == 1


def test_r17_refuses_non_kts_course(api):
    # given
    hs, tech = _sections(hs_kts=False)
    # when
    res = api.post("/api/v1/kts-links/", {"hs_section": hs.pk, "tech_section": tech.pk})
    # then
    assert res.status_code == 400 and "KTS course" in res.json()["hs_section"][0]
    assert not KtsLink.objects.exists()


def test_r17_refuses_other_school_year(api):
    # given
    hs, tech = _sections(tech_year=2028)
    # when
    res = api.post("/api/v1/kts-links/", {"hs_section": hs.pk, "tech_section": tech.pk})
    # then
    assert res.status_code == 400 and "tech_section" in res.json()
    assert not KtsLink.objects.exists()


def test_r17_refuses_two_high_school_sections_the_wrong_way_round(api):
    # given: the tech section given as the HS section
    hs, tech = _sections()
    # when
    res = api.post("/api/v1/kts-links/", {"hs_section": tech.pk, "tech_section": hs.pk})
    # then
    assert res.status_code == 400
    assert set(res.json()) == {"hs_section", "tech_section"}
    assert not KtsLink.objects.exists()


def test_r28_api_starts_a_run_inline_in_sync_mode(api, world, sync_q):
    # given
    world.post_tech_grade(world.students[0], "90.00")
    # when
    res = api.post("/api/v1/exchange/runs/", {"as_of": AS_OF.isoformat()})
    # then
    assert res.status_code == 202
    body = res.json()
    assert body["status"] == "succeeded"
    run = api.get(f"/api/v1/exchange/runs/{body['id']}/").json()
    assert run["counts"]["grades"]["added"] == 1 and run["dry_run"] is False
    assert {"id", "status", "as_of", "dry_run", "started_at", "finished_at", "counts"} <= set(run)
    assert api.get("/api/v1/exchange/runs/").json()["count"] == 1


def test_r28_api_queues_the_run_on_django_q(api, world, monkeypatch, settings):
    # given: a real (async) cluster
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False}
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: queued.append(a))
    # when
    res = api.post("/api/v1/exchange/runs/", {"dry_run": True})
    # then
    assert res.status_code == 202 and res.json()["status"] == "queued"
    assert queued == [("exchange.tasks.start_run", res.json()["id"])]


def test_r28_api_bad_input_is_400_and_saves_nothing(api):
    res = api.post("/api/v1/exchange/runs/", {"as_of": "not-a-date"})
    assert res.status_code == 400 and "as_of" in res.json()
    assert not ExchangeRun.objects.exists()


def test_r21_outcomes_list_filters_by_flow_action_reason(api, world, sync_q):
    # given: one added, one skipped (no active term at a second HS)
    world.post_tech_grade(world.students[0], "90.00")
    other = build_kts_world(tech_section=world.tech_section)
    (student,) = other.add_students(1)
    other.activate(other.hs_tasks["CTE_TERM"], None)
    world.post_tech_grade(student, "80.00")
    run_id = api.post("/api/v1/exchange/runs/", {"as_of": AS_OF.isoformat()}).json()["id"]
    url = f"/api/v1/exchange/runs/{run_id}/outcomes/"
    # when
    skipped = api.get(url, {"flow": "grades", "action": "skipped"}).json()
    by_reason = api.get(url, {"reason": "no_active_term"}).json()
    # then
    assert skipped["count"] == 1
    row = skipped["results"][0]
    assert (row["reason"], row["student"], row["hs_section"]) == (
        "no_active_term",
        student.pk,
        other.hs_section.pk,
    )
    assert {"flow", "action", "reason", "student", "source_id", "target_id", "message"} <= set(row)
    assert by_reason["count"] == 1
    assert api.get(url, {"action": "bogus"}).status_code == 400


def test_r38_readiness_api(api, world):
    # given: the HS forgot to move its term: Q2 active while the tech has S2 active
    world.activate(world.hs_tasks["CTE_TERM"], world.hs_terms[1])
    world.activate(world.tech_tasks["CTE_TERM"], world.tech_terms[1])
    # when
    res = api.get(
        "/api/v1/reports/readiness/", {"school": world.hs_school.pk, "as_of": AS_OF.isoformat()}
    )
    # then
    assert res.status_code == 200
    (row,) = res.json()
    assert (row["hs_section"], row["tech_section"]) == (world.hs_section.pk, world.tech_section.pk)
    assert "outside" in row["problem"] and "S2" in row["fix"]


def test_r38_readiness_api_needs_a_school(api):
    assert api.get("/api/v1/reports/readiness/").status_code == 400
    assert api.get("/api/v1/reports/readiness/", {"school": 999999}).status_code == 404
    assert api.get("/api/v1/reports/readiness/", {"school": 1, "as_of": "x"}).status_code == 400


def test_exchange_api_denies_anonymous(client, db):
    assert client.get("/api/v1/exchange/runs/").status_code in (401, 403)
