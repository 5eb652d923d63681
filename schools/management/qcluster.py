"""A real django-q2 cluster for the benchmarks that time work the way it runs in production
(``bench_reports``' batch PDF, ``bench_exchange``'s runs on the cluster): a ``manage.py
qcluster`` process group of its own, started on this database and stopped afterwards."""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

# The cluster starts its workers (they stay up between tasks) before it takes a task.
START_SECONDS = 8


@contextmanager
def running_qcluster(*, workers: int, env: dict[str, str] | None = None) -> Iterator[int]:
    """Start ``qcluster`` with ``workers`` workers; yields its process group id. It serves a
    queue of its own, where this process's tasks go meanwhile: no other cluster on the same
    broker (one serving another database) takes them. Its output goes to
    ``BENCH_CLUSTER_LOG`` when set."""
    from django_q.conf import Conf

    queue = f"bench-{uuid.uuid4().hex[:12]}"
    full_env = {
        **os.environ,
        "Q_WORKERS": str(workers),
        "Q_SYNC": "0",
        "Q_QUEUE_NAME": queue,
        "DJANGO_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    log = open(os.environ.get("BENCH_CLUSTER_LOG", os.devnull), "ab")  # noqa: SIM115
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=Path(settings.BASE_DIR),
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    own_queue, Conf.CLUSTER_NAME = Conf.CLUSTER_NAME, queue
    try:
        time.sleep(START_SECONDS)
        yield cluster.pid
    finally:
        Conf.CLUSTER_NAME = own_queue
        cluster.send_signal(signal.SIGTERM)  # the cluster stops its own processes
        try:
            cluster.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait()
        log.close()


def group_cpu(pgid: int) -> float:
    """CPU seconds of the processes of a process group (the cluster and its workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields[2] is the process group (field 5 of stat)
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def load() -> str:
    """The load averages (1, 5, 15 minutes), as the benchmarks print them."""
    return "/".join(f"{x:.1f}" for x in os.getloadavg())
