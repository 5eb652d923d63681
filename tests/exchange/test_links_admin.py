"""KTS links in the model (R17) and the exchange admin (R28, R38)."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from exchange.models import ExchangeRun, KtsLink
from exchange.services import kts_link_create
from tests.factories import SectionFactory
from tests.world import build_kts_world


def test_r17_service_validates_the_link(world):
    # given: a second HS section of a non-KTS course
    other = SectionFactory()
    # when / then
    with pytest.raises(ValidationError) as err:
        kts_link_create(hs_section=other, tech_section=world.tech_section)
    assert err.value.error_dict["hs_section"][0].code == "kts_link_invalid"
    assert KtsLink.objects.count() == 1


def test_r17_database_holds_one_tech_section_per_hs_section(world):
    # given: an existing link; when: a raw second link for the same HS section
    with pytest.raises(IntegrityError), transaction.atomic():
        KtsLink.objects.create(hs_section=world.hs_section, tech_section=world.tech_section)
    assert KtsLink.objects.count() == 1


def test_r17_service_refuses_second_link_of_a_hs_section(world):
    second = build_kts_world()
    with pytest.raises(ValidationError) as err:
        kts_link_create(hs_section=world.hs_section, tech_section=second.tech_section)
    assert "hs_section" in err.value.error_dict
    assert KtsLink.objects.filter(hs_section=world.hs_section).count() == 1


def test_r28_admin_action_runs_the_exchange_now(admin_client_su, world, sync_q):
    # given: an earlier run to select
    old = ExchangeRun.objects.create(as_of="2026-09-01", status="succeeded")
    # when
    res = admin_client_su.post(
        "/admin/exchange/exchangerun/",
        {"action": "run_exchange_now", "_selected_action": [old.pk]},
    )
    # then
    assert res.status_code == 302
    run = ExchangeRun.objects.exclude(pk=old.pk).get()
    assert (run.trigger, run.status) == ("admin", "succeeded")


def test_exchange_admin_pages_render(admin_client_su, world):
    run = ExchangeRun.objects.create(as_of="2026-09-01", status="succeeded")
    for url in (
        "/admin/exchange/ktslink/",
        f"/admin/exchange/ktslink/{KtsLink.objects.get().pk}/change/",
        f"/admin/exchange/exchangerun/{run.pk}/change/",
        "/admin/exchange/exchangeoutcome/",
    ):
        assert admin_client_su.get(url).status_code == 200, url
    res = admin_client_su.get("/admin/exchange/exchangerun/readiness/", {"school": 1})
    assert res.status_code == 302 and res["Location"].startswith("/exchange/readiness/")


def test_r44_admin_action_refuses_a_second_real_run(admin_client_su, world):
    # given: a real run queued
    queued = ExchangeRun.objects.create(as_of="2026-09-01", status="queued")
    # when
    admin_client_su.post(
        "/admin/exchange/exchangerun/",
        {"action": "run_exchange_now", "_selected_action": [queued.pk]},
    )
    # then: nothing more queued
    assert ExchangeRun.objects.count() == 1


def test_r45_admin_action_cancels_selected_runs(admin_client_su, world):
    # given
    stuck = ExchangeRun.objects.create(as_of="2026-09-01", status="running")
    done = ExchangeRun.objects.create(as_of="2026-09-01", status="succeeded")
    # when
    admin_client_su.post(
        "/admin/exchange/exchangerun/",
        {"action": "cancel_runs", "_selected_action": [stuck.pk, done.pk]},
    )
    # then
    stuck.refresh_from_db()
    done.refresh_from_db()
    assert (stuck.status, done.status) == ("cancelled", "succeeded")
