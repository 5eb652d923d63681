"""R28: two runs never overlap; the nightly exchange on a real django-q2 cluster."""

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection, connections
from django.utils import timezone

from exchange import services
from exchange.flows import grades as grades_flow
from exchange.models import ExchangeRun
from tests.world import AS_OF, build_kts_world

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: concurrent connections to one test database (SQLite's test "
    "database is in memory and its write lock makes the second run wait, not refuse)",
)
ROOT = Path(__file__).resolve().parents[2]


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_r28_concurrent_second_run_refuses_while_first_is_applying(monkeypatch):
    # given: a first run that stops in the middle of its tech school's grade flow
    w = build_kts_world()
    w.add_students(2)
    w.post_tech_grade(w.students[0], "90.00")
    inside, release = threading.Event(), threading.Event()
    real = grades_flow.sync_grades

    def slow(**kwargs):
        inside.set()
        release.wait(30)
        return real(**kwargs)

    monkeypatch.setattr(grades_flow, "sync_grades", slow)
    results = {}

    def first():
        try:
            results["first"] = services.exchange_run(as_of=AS_OF, trigger="test", inline=True)
        finally:
            connections.close_all()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert inside.wait(30)
        # when: a second run starts on another connection
        second = services.exchange_run(as_of=AS_OF, trigger="test", inline=True)
    finally:
        release.set()
        thread.join(60)
    # then: the second refuses and writes nothing; the first completes
    assert (second.status, second.error) == ("failed", services.ANOTHER_RUN)
    assert not second.parts.exists()
    assert results["first"].status == "succeeded"
    assert w.hs_grades().count() == 1


@postgres_only
@pytest.mark.cluster
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_r28_nightly_exchange_on_a_real_qcluster(monkeypatch):
    from django_q.conf import Conf
    from django_q.models import Schedule

    # The cluster runs on the ORM broker of the test database, even where REDIS_URL is set.
    monkeypatch.setattr(Conf, "ORM", "default")

    # given: a linked world, schedules pushed out of the way, a qcluster on the test database
    w = build_kts_world()
    for s in w.add_students(3):
        w.post_tech_grade(s, "82.00")
    Schedule.objects.update(next_run=timezone.now() + dt.timedelta(days=1))
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": "",
        "Q_SYNC": "0",
        "Q_WORKERS": "2",
    }
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # when: the run is queued the way the schedule does it (parts as django-q2 tasks)
        run = services.exchange_run(as_of=AS_OF, trigger="schedule", inline=False)
        deadline = time.monotonic() + 60
        while run.status in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.5)
            run.refresh_from_db()
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    # then: the cluster ran the tech school's part
    assert run.status == "succeeded", run.error
    assert run.counts["grades"]["added"] == 3
    assert w.hs_grades().count() == 3
    assert ExchangeRun.objects.count() == 1
