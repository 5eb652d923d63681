"""R32 with real processes on PostgreSQL: a report-card batch built in parts by a real
django-q2 cluster, one of whose workers is killed mid-part; the watchdog re-queues the
part and a new cluster finishes the batch."""

import datetime as dt
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from pypdf import PdfReader

from grading.models import ReportCardBatch
from grading.services import report_card_batches as batches
from tests.world import reports_world

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.cluster,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL: real processes share it"
    ),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _cluster(**env) -> subprocess.Popen:
    db = connection.settings_dict
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "REDIS_URL": os.environ.get("REDIS_URL", ""),
            "Q_SYNC": "0",
            "Q_WORKERS": "2",
            "REPORT_CARD_PART_SIZE": "2",
            **env,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: kill -9 takes every process
    )


def _stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _wait(predicate, timeout: float, why=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(1)
    raise AssertionError(f"timed out: {why()}")


def _hold_batch_row(batch_id: int):
    """A second connection holding the batch's row: a part that has rendered waits on it to
    count itself done (its claim committed, its PDF not yet saved)."""
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    conn = psycopg.connect(**params)
    conn.execute("SELECT 1 FROM grading_reportcardbatch WHERE id = %s FOR UPDATE", [batch_id])
    return conn


def _waiting_client_ports() -> list[int]:
    """The client ports of this database's sessions waiting on a lock."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT client_port FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            " AND client_port IS NOT NULL ORDER BY backend_start"
        )
        return [row[0] for row in cursor.fetchall()]


def _process_of_port(port: int) -> int | None:
    """The process whose TCP socket has local port ``port`` (Linux ``/proc``)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            links = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except OSError:
            continue
        if links & inodes:
            return int(entry.name)
    return None


def _parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            pid = _parent_of(pid)
        except OSError:
            return False
    return False


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _activity() -> list:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, state, wait_event_type, application_name, left(query, 120)"
            " FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        )
        return cursor.fetchall()


def _lock_waits() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_r32_cluster_worker_killed_mid_part_the_watchdog_requeues_and_the_batch_completes(
    settings,
):
    from django_q.brokers import get_broker
    from django_q.models import Schedule, Task

    # given five students, parts of two (three parts), and a cluster of two workers
    settings.REPORT_CARD_PART_SIZE = 2
    settings.REPORT_CARD_RESEND_AFTER = 3600  # nothing is resent but what the kill loses
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False}
    w = reports_world()
    for last in ("Evans", "Baker", "Archer", "Davis", "Cole"):
        w.letter(w.add_student(last_name=last), "A")
    Schedule.objects.update(next_run=timezone.now() + dt.timedelta(days=1))
    get_broker().purge_queue()
    cluster = blocker = None
    try:
        # and a batch split into its parts, their tasks queued for a cluster not yet
        # started, while the batch's row is held: every part that renders waits on that
        # row to count itself done (claimed and running, its PDF not saved)
        batch = batches.report_card_batch_request(school=w.hs_school, term=w.q1, by=None)
        assert batches.report_card_batch_build(batch_id=batch.pk) == "running"
        assert batch.parts.count() == 3
        blocker = _hold_batch_row(batch.pk)
        cluster = _cluster(REPORT_CARD_RESEND_AFTER="3600")
        # both workers are now stalled mid-part, each holding its part's claim
        _wait(
            lambda: len(_waiting_client_ports()) >= 2,
            120,
            lambda: (list(batch.parts.values("seq", "status")), _activity()),
        )
        worker = _process_of_port(_waiting_client_ports()[0])
        assert worker is not None and worker != cluster.pid
        assert _descends_from(worker, cluster.pid)  # a worker of the cluster
        # when that worker is killed (-9) mid-part, the cluster living on, then the hold ends
        os.kill(worker, signal.SIGKILL)
        _wait(lambda: not Path(f"/proc/{worker}").exists() or _zombie(worker), 30)
        blocker.rollback()
        blocker.close()
        assert cluster.poll() is None
        # and the watchdog looks (as its schedule or the batch's page does): the killed
        # worker's part is queued again and the cluster's workers finish the batch
        stats = {"requeued": 0}

        def finished() -> bool:
            for key, n in batches.report_card_batches_watchdog().items():
                stats[key] = stats.get(key, 0) + n
            return ReportCardBatch.objects.get(pk=batch.pk).status in ("done", "failed")

        _wait(
            finished,
            180,
            lambda: (
                stats,
                list(batch.parts.values("seq", "status", "attempts", "error")),
                list(Task.objects.values("name", "success", "result")),
                _activity(),
            ),
        )
    finally:
        if blocker is not None and not blocker.closed:
            blocker.close()
        if cluster is not None:
            _stop(cluster)
    # then the killed parts were claimed again (once) and the batch holds every card in order
    batch.refresh_from_db()
    assert batch.status == "done", batch.error
    assert stats["requeued"] == 1
    assert sorted(batch.parts.values_list("attempts", flat=True)) == [1, 1, 2]
    pages = PdfReader(io.BytesIO(bytes(batch.pdf))).pages
    names = [
        next(n for n in ("Archer", "Baker", "Cole", "Davis", "Evans") if n in p.extract_text())
        for p in pages
    ]
    assert names == ["Archer", "Baker", "Cole", "Davis", "Evans"]
    assert not batch.parts.filter(pdf__isnull=False).exists()
