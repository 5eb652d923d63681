"""The benchmarks' real cluster (``schools.management.qcluster``): it serves a queue of its
own, so the tasks a benchmark sends never reach another cluster on the same broker (one
serving another database), and the benchmark's process sends to it only while it runs."""

import time

import pytest
from django.db import connection
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import Success
from django_q.tasks import async_task

from schools.management.qcluster import running_qcluster

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.cluster,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL: real processes share it"
    ),
    pytest.mark.django_db(transaction=True),
]


def test_benchmark_cluster_serves_its_own_queue_and_runs_the_tasks_sent_there():
    # given: the queue every cluster of this site serves
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    shared = Conf.CLUSTER_NAME
    shared_before = get_broker(list_key=shared).queue_size()
    # when: a task is sent while the benchmark's cluster runs
    with running_qcluster(workers=1, env={"DATABASE_URL": url}):
        private = Conf.CLUSTER_NAME
        task_id = async_task("math.floor", 2.5)
        shared_meanwhile = get_broker(list_key=shared).queue_size()
        deadline = time.monotonic() + 60
        while not Success.objects.filter(id=task_id).exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        done = Success.objects.filter(id=task_id).first()
    # then: it went to the private queue, the benchmark's cluster ran it, and this process
    # sends to the shared queue again afterwards
    assert private != shared and private.startswith("bench-")
    assert shared_meanwhile == shared_before
    assert done is not None and done.result == 2
    assert Conf.CLUSTER_NAME == shared
