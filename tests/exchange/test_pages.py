"""Exchange pages: runs dashboard, a run's skipped outcomes, readiness (R29, R38, R39)."""

import json

from exchange.models import ExchangeRun
from exchange.services import exchange_run
from tests.factories import UserFactory
from tests.world import AS_OF


def test_r29_dashboard_lists_runs_with_counts(admin_client_su, world):
    # given
    world.post_tech_grade(world.students[0], "90.00")
    run = exchange_run(as_of=AS_OF, trigger="test", inline=True)
    # when
    res = admin_client_su.get("/exchange/")
    # then
    assert res.status_code == 200
    html = res.content.decode()
    assert f"/exchange/runs/{run.pk}/" in html and "added 1" in html and "<canvas" in html
    # the chart's data is a JSON list of runs, not a JSON string holding one
    chart = json.loads(
        html.split('id="chart-data" type="application/json">')[1].split("</script>")[0]
    )
    added = sum(flow.get("added", 0) for flow in run.counts.values())
    assert added > 0
    assert chart == [
        {
            "id": run.pk,
            "label": str(run.as_of),
            "dry_run": False,
            "counts": {"added": added, "updated": 0, "skipped": 0, "ended": 0},
        }
    ]


def test_r39_run_now_button_starts_a_dry_run(admin_client_su, world, sync_q):
    # when
    res = admin_client_su.post("/exchange/run-now/")
    # then
    assert res.status_code == 302
    run = ExchangeRun.objects.get()
    assert run.dry_run and run.status == "succeeded"
    assert not world.hs_grades().exists()


def test_r21_run_page_shows_skipped_with_fix(admin_client_su, world):
    # given: a skipped grade
    world.activate(world.hs_tasks["CTE_TERM"], None)
    world.post_tech_grade(world.students[0], "90.00")
    run = exchange_run(as_of=AS_OF, trigger="test", inline=True)
    # when
    html = admin_client_su.get(f"/exchange/runs/{run.pk}/").content.decode()
    # then
    assert "no_active_term" in html and "Mark exactly one term active" in html


def test_r38_readiness_page(admin_client_su, world):
    world.activate(world.hs_tasks["CTE_TERM"], None)
    res = admin_client_su.get("/exchange/readiness/", {"school": world.hs_school.pk})
    assert res.status_code == 200 and "no_active_term" in res.content.decode()


def test_r36_exchange_pages_send_anonymous_users_to_login(client, db):
    # when
    res = client.get("/exchange/readiness/")
    # then
    assert res.status_code == 302
    assert "login" in res["Location"]
    assert "next=/exchange/readiness/" in res["Location"]


def test_r36_exchange_pages_refuse_signed_in_user_without_access(client, db):
    # given
    client.force_login(UserFactory(username="plain"))
    # when / then: a 403 page, not the login page again
    for url in ("/exchange/", "/exchange/readiness/", "/exchange/runs/1/"):
        res = client.get(url)
        assert res.status_code == 403, url
        assert "You cannot open this page" in res.content.decode()
    res = client.post("/exchange/run-now/")
    assert res.status_code == 403
    assert not ExchangeRun.objects.exists()


def test_r38_readiness_page_ignores_a_non_ascii_digit_school(admin_client_su, world):
    res = admin_client_su.get("/exchange/readiness/", {"school": "²"})
    assert res.status_code == 200 and res.context["school"] is None


def _district_admin(world):
    from schools.models import StaffRole

    user = UserFactory(username="dadmin", is_staff=True)
    StaffRole.objects.create(user=user, role="district_admin", district=world.hs_school.district)
    return user


def test_r28_run_now_for_real_needs_the_confirmation(client, world, sync_q):
    # given a district admin on the dashboard
    client.force_login(_district_admin(world))
    page = client.get("/exchange/").content.decode()
    # when: without, then with the confirmation
    refused = client.post("/exchange/run-now/", {"dry_run": "0"}, follow=True)
    assert not ExchangeRun.objects.exists()
    started = client.post("/exchange/run-now/", {"dry_run": "0", "confirm": "yes"})
    # then
    assert 'id="run-real"' in page and 'name="confirm"' in page and "required" in page
    assert "Tick the confirmation" in refused.content.decode()
    assert started.status_code == 302
    run = ExchangeRun.objects.get()
    assert not run.dry_run and run.status == "succeeded" and run.trigger == "page"


def test_r28_real_run_is_refused_to_staff_without_the_admin_role(client, world, sync_q):
    # given a staff user who is not a state or district admin
    client.force_login(UserFactory(username="staffer", is_staff=True))
    # when
    res = client.post("/exchange/run-now/", {"dry_run": "0", "confirm": "yes"})
    # then
    assert res.status_code == 403
    assert not ExchangeRun.objects.exists()


def test_r29_dashboard_follows_a_running_run_and_draws_dry_runs_apart(admin_client_su, world):
    # given a queued real run and a finished dry run
    done = exchange_run(as_of=AS_OF, dry_run=True, trigger="test", inline=True)
    queued = ExchangeRun.objects.create(as_of=AS_OF, trigger="test")
    # when
    html = admin_client_su.get("/exchange/").content.decode()
    # then: the page polls the runs API for the queued run; the chart knows which are dry
    assert f'data-url="/api/v1/exchange/runs/{queued.pk}/"' in html
    chart = json.loads(
        html.split('id="chart-data" type="application/json">')[1].split("</script>")[0]
    )
    assert {r["id"]: r["dry_run"] for r in chart} == {done.pk: True, queued.pk: False}
