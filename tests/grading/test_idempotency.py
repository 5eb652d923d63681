"""R49: retried bulk grade posts are safe (Idempotency-Key; identical batches at once)."""

import json
import threading
import urllib.error
import urllib.request

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from grading.models import Grade, GradeHistory, IdempotencyKey

URL = "/api/v1/grades/bulk/"


def _batch(tech, *percents):
    return {
        "section": tech.section.pk,
        "grading_task": tech.term_task.pk,
        "term": tech.s1.pk,
        "grades": [
            {"student": s.pk, "percent": p} for s, p in zip(tech.students, percents, strict=False)
        ],
    }


@pytest.mark.django_db
def test_r49_same_key_and_body_returns_the_first_answer_and_writes_nothing(api, tech):
    # given: a bulk post answered under a key
    first = api.post(URL, _batch(tech, "91", "82"), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 200, first.json()
    grades_before = list(Grade.objects.values_list("id", "percent", "modified_at"))
    history_before = GradeHistory.objects.count()
    # when: the client retries it
    again = api.post(URL, _batch(tech, "91", "82"), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    # then: the first answer, nothing written
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert list(Grade.objects.values_list("id", "percent", "modified_at")) == grades_before
    assert GradeHistory.objects.count() == history_before
    record = IdempotencyKey.objects.get()
    assert (record.key, record.status_code, len(record.body_hash)) == ("k-1", 200, 64)
    assert record.expires_at > record.created_at


@pytest.mark.django_db
def test_r49_same_key_with_another_body_is_refused(api, tech):
    # given
    api.post(URL, _batch(tech, "91"), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    # when
    res = api.post(URL, _batch(tech, "55"), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    # then: a clear error; the grade keeps its first value
    assert res.status_code == 422
    assert res.json()["code"] == "idempotency_key_reused"
    assert str(Grade.objects.get().percent) == "91.00"


@pytest.mark.django_db
def test_r49_a_refused_post_keeps_no_key(api, tech):
    # given: a batch refused (bad percent)
    bad = api.post(URL, _batch(tech, "200"), format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert bad.status_code == 400
    # then: nothing stored; the same key can carry the corrected batch
    assert not IdempotencyKey.objects.exists() and not Grade.objects.exists()
    good = api.post(URL, _batch(tech, "90"), format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert good.status_code == 200


@pytest.mark.django_db
def test_r49_keys_belong_to_their_user(api, tech):
    # given: a key used by the state admin
    api.post(URL, _batch(tech, "91"), format="json", HTTP_IDEMPOTENCY_KEY="shared")
    # when: another user sends the same key with another body
    from rest_framework.test import APIClient

    from tests.factories import UserFactory

    other = APIClient()
    other.force_authenticate(UserFactory(is_superuser=True))
    res = other.post(URL, _batch(tech, "71"), format="json", HTTP_IDEMPOTENCY_KEY="shared")
    # then: it is a new request for that user
    assert res.status_code == 200, res.json()
    assert IdempotencyKey.objects.count() == 2


def _post_all(url: str, token: str, bodies: list[tuple[dict, str | None]]) -> list[int]:
    """Post every body at the same moment (a barrier), each on its own connection."""
    barrier = threading.Barrier(len(bodies))
    codes: list = [None] * len(bodies)

    def post(i, body, key):
        headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        if key:
            headers["Idempotency-Key"] = key
        request = urllib.request.Request(
            url, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        barrier.wait(10)
        try:
            with urllib.request.urlopen(request, timeout=60) as res:
                codes[i] = res.status
        except urllib.error.HTTPError as exc:
            codes[i] = (exc.code, exc.read().decode()[:200])

    threads = [threading.Thread(target=post, args=(i, b, k)) for i, (b, k) in enumerate(bodies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    return codes


@pytest.mark.parametrize("trial", range(3))
@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent connections")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_r49_identical_batches_posted_at_once_both_succeed_once_written(
    trial, live_server, tech, superuser
):
    # given: a token, a batch of three grades
    token = Token.objects.create(user=superuser).key
    body = _batch(tech, "91", "82", "73")
    # when: the same batch is posted four times at the same moment, without keys
    codes = _post_all(live_server.url + URL, token, [(body, None)] * 4)
    # then: every request succeeds; one grade and one history row per real change
    assert codes == [200] * 4
    assert Grade.objects.count() == 3
    assert GradeHistory.objects.count() == 3


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent connections")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_r49_same_key_posted_at_once_writes_once(live_server, tech, superuser):
    # given
    token = Token.objects.create(user=superuser).key
    body = _batch(tech, "91", "82", "73")
    # when: a client and its retry race with the same key
    codes = _post_all(live_server.url + URL, token, [(body, "race-1")] * 3)
    # then: all answered 200 (the first answer, replayed); written once
    assert codes == [200] * 3
    assert GradeHistory.objects.count() == 3
    assert IdempotencyKey.objects.count() == 1
