"""R32: the batch report-card PDF in parts - one django-q2 task per part, joined in order;
claimed once, a failed part fails the batch, the watchdog re-queues a vanished part."""

import io

import pytest
from django_q.models import Success
from pypdf import PdfReader

from grading.models import ReportCardBatch, ReportCardBatchPart
from grading.report_pdf import report_cards_pdf_bytes
from grading.selectors.report_card import report_card_student_ids, report_cards
from grading.services import report_card_batches as batches
from schools import locks
from schools.models import StaffRole
from tests.factories import UserFactory
from tests.world import reports_world

NAMES = [("Evans", "Eve"), ("Baker", "Bea"), ("Archer", "Ann"), ("Davis", "Dan"), ("Cole", "Cy")]


@pytest.fixture
def sync_parts_of_two(settings):
    """The cluster in sync mode (tasks run where they are sent), two students a part."""
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    settings.REPORT_CARD_PART_SIZE = 2


@pytest.fixture
def sent(monkeypatch):
    """Tasks are recorded, not run (a cluster that has not picked them up yet)."""
    calls = []
    monkeypatch.setattr(
        "django_q.tasks.async_task", lambda func, *args, **kw: calls.append((func, args))
    )
    return calls


def _school_of_five():
    w = reports_world()
    for last, first in NAMES:
        w.letter(w.add_student(first_name=first, last_name=last), "A")
    return w


def _names_per_page(pdf: bytes) -> list[str]:
    """The student named on each page, in page order (PDF text extraction)."""
    names = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        text = " ".join(page.extract_text().split())
        names.append(next((f"{a}, {b}" for a, b in NAMES if f"{a}, {b}" in text), None))
    return names


def _split(w, settings_size=2) -> ReportCardBatch:
    batch = ReportCardBatch.objects.create(school=w.hs_school, term=w.q1)
    batches.report_card_batch_build(batch_id=batch.pk, size=settings_size)
    return batch


@pytest.mark.django_db
def test_r32_batch_in_parts_has_the_pages_of_one_render_in_the_same_order(
    client, superuser, sync_parts_of_two, django_capture_on_commit_callbacks
):
    # given five students at Central High, two report cards a part
    w = _school_of_five()
    client.force_login(superuser)
    # when the registrar asks for every report card of Q1 (the tasks run in sync mode)
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(f"/school/{w.hs_school.pk}/report-card-batches/", {"term": w.q1.pk})
    state = client.get(started["Location"], {"format": "json"}).json()
    merged = client.get(state["download"]).content
    # then three parts were rendered and joined; their own PDFs are gone
    batch = ReportCardBatch.objects.get()
    assert (batch.status, batch.done, batch.total) == ("done", 5, 5)
    assert (state["parts_done"], state["parts_total"]) == (3, 3)
    parts = list(ReportCardBatchPart.objects.filter(batch=batch).order_by("seq"))
    assert [len(p.student_ids) for p in parts] == [2, 2, 1]
    assert all(p.status == "done" and p.attempts == 1 and p.pdf is None for p in parts)
    # and the parts' tasks left no row in django-q2's task log (each part records itself)
    assert not Success.objects.filter(func="grading.tasks.build_report_card_part").exists()
    assert Success.objects.filter(func="grading.tasks.build_report_card_batch").exists()
    # and the pages are those of one render of the whole school, in the same order
    single = report_cards_pdf_bytes(term=w.q1)
    expected = [
        f"{c['student'].last_name}, {c['student'].first_name}" for c in report_cards(term=w.q1)
    ]
    assert expected == ["Archer, Ann", "Baker, Bea", "Cole, Cy", "Davis, Dan", "Evans, Eve"]
    assert _names_per_page(single) == expected
    assert _names_per_page(merged) == expected


@pytest.mark.django_db
def test_r32_batch_without_students_is_one_part_saying_so(sync_parts_of_two):
    w = reports_world()
    batch = _split(w)
    batch.refresh_from_db()
    assert (batch.status, batch.total, batch.parts.count()) == ("done", 0, 1)
    text = PdfReader(io.BytesIO(bytes(batch.pdf))).pages[0].extract_text()
    assert "No students" in " ".join(text.split())


@pytest.mark.django_db
def test_r32_part_delivered_twice_renders_once(sent, monkeypatch):
    # given a split batch whose part tasks the cluster has not picked up yet
    w = _school_of_five()
    batch = _split(w)
    assert [f for f, _ in sent] == ["grading.tasks.build_report_card_part"] * 3
    rendered = []
    real = batches._render
    monkeypatch.setattr(
        batches, "_render", lambda part, **kw: rendered.append(part.seq) or real(part)
    )
    first = batch.parts.get(seq=1)
    # when the part's task is delivered twice, and once while another worker holds it
    with locks.ProcessLock(batches.PART_NAMESPACE, first.pk) as lock:
        assert lock.acquire() is True
        assert batches.report_card_part_build(part_id=first.pk) == "queued"
    assert batches.report_card_part_build(part_id=first.pk) == "done"
    assert batches.report_card_part_build(part_id=first.pk) == "done"
    # then it was rendered once, in one attempt, and counted once
    first.refresh_from_db()
    batch.refresh_from_db()
    assert rendered == [1] and first.attempts == 1
    assert (batch.status, batch.done) == ("running", 2)
    # and the batch is done, joined once, when the last part is
    for part in batch.parts.exclude(pk=first.pk):
        batches.report_card_part_build(part_id=part.pk)
    batch.refresh_from_db()
    assert (batch.status, batch.done) == ("done", 5)
    assert len(PdfReader(io.BytesIO(bytes(batch.pdf))).pages) == 5
    assert not batch.parts.filter(pdf__isnull=False).exists()


@pytest.mark.django_db
def test_r32_failed_part_fails_the_batch_with_a_clear_error(
    client, superuser, sync_parts_of_two, monkeypatch
):
    # given the second part cannot be rendered
    w = _school_of_five()
    real = batches._render

    def render(part, **kw):
        if part.seq == 2:
            raise RuntimeError("the layout engine ran out of memory")
        return real(part)

    monkeypatch.setattr(batches, "_render", render)
    # when the batch runs
    batch = _split(w)
    # then the batch failed, naming the part, its cards and the reason; no PDF is kept
    batch.refresh_from_db()
    assert batch.status == "failed" and batch.pdf is None and batch.finished_at
    assert batch.error == (
        "part 2 of 3 (report cards 3-4) failed: RuntimeError: the layout engine ran out of memory"
    )
    assert dict(batch.parts.values_list("seq", "status")) == {1: "done", 2: "failed", 3: "failed"}
    assert not batch.parts.filter(pdf__isnull=False).exists()
    # and the page says why, with no download
    client.force_login(superuser)
    url = f"/school/{w.hs_school.pk}/report-card-batches/{batch.pk}/"
    state = client.get(url, {"format": "json"}).json()
    assert state["status"] == "failed" and "part 2 of 3" in state["error"]
    assert state["download"] is None
    assert (
        client.get(f"/school/{w.hs_school.pk}/report-card-batches/{batch.pk}.pdf").status_code
        == 404
    )


@pytest.mark.django_db
def test_r32_watchdog_requeues_a_vanished_part_then_gives_up(sent, settings):
    settings.REPORT_CARD_PART_ATTEMPTS = 2
    # given a batch whose first part was claimed by a worker that was killed (no lock held)
    w = _school_of_five()
    batch = _split(w)
    first, second, third = batch.parts.order_by("seq")
    ReportCardBatchPart.objects.filter(pk=first.pk).update(status="running", attempts=1)
    # and a second part being rendered right now by a live worker (its lock held)
    ReportCardBatchPart.objects.filter(pk=second.pk).update(status="running", attempts=1)
    live = locks.ProcessLock(batches.PART_NAMESPACE, second.pk)
    assert live.acquire()
    sent.clear()
    try:
        # when the watchdog looks
        stats = batches.report_card_batches_watchdog()
        # then the vanished part is queued and sent again; the live one is left alone
        assert stats == {"requeued": 1, "failed": 0, "resent": 0}
        assert sent == [("grading.tasks.build_report_card_part", (first.pk,))]
        first.refresh_from_db()
        assert first.status == "queued" and "worker stopped" in first.error
        assert batch.parts.get(pk=second.pk).status == "running"
        # and the part's second attempt renders it
        assert batches.report_card_part_build(part_id=first.pk) == "done"
        assert batch.parts.get(pk=first.pk).attempts == 2
        # when that worker is killed too, the watchdog gives up: the batch fails
        ReportCardBatchPart.objects.filter(pk=third.pk).update(status="running", attempts=2)
        stats = batches.report_card_batches_watchdog()
    finally:
        live.release()
    assert stats == {"requeued": 0, "failed": 1, "resent": 0}
    batch.refresh_from_db()
    assert batch.status == "failed"
    assert "part 3 of 3 (report cards 5-5) failed" in batch.error
    assert "Gave up after 2 attempts" in batch.error


@pytest.mark.django_db
def test_r32_batch_page_runs_the_watchdog_and_resends_lost_tasks(client, superuser, sent):
    import datetime as dt

    from django.utils import timezone

    # given a batch whose worker died mid-part and whose other tasks the broker lost
    w = _school_of_five()
    batch = _split(w)
    first = batch.parts.get(seq=1)
    ReportCardBatchPart.objects.filter(pk=first.pk).update(status="running", attempts=1)
    long_ago = timezone.now() - dt.timedelta(hours=1)
    batch.parts.exclude(pk=first.pk).update(queued_at=long_ago)
    sent.clear()
    client.force_login(superuser)
    # when someone looks at the batch's page
    state = client.get(
        f"/school/{w.hs_school.pk}/report-card-batches/{batch.pk}/", {"format": "json"}
    ).json()
    # then every part is sent again, and the page shows the parts' progress
    assert sorted(args[0] for _, args in sent) == sorted(batch.parts.values_list("pk", flat=True))
    assert (state["status"], state["parts_done"], state["parts_total"]) == ("running", 0, 3)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "own_school", "status"),
    [
        ("registrar", True, 200),
        ("school_admin", True, 200),
        ("teacher", True, 404),
        ("registrar", False, 404),
    ],
)
def test_r42_batch_page_and_download_by_role_and_school(
    client, sync_parts_of_two, role, own_school, status
):
    from tests.factories import SchoolFactory

    # given a finished batch of Central High
    w = _school_of_five()
    batch = _split(w)
    user = UserFactory()
    StaffRole.objects.create(
        user=user, role=role, school=w.hs_school if own_school else SchoolFactory()
    )
    client.force_login(user)
    # when / then: only the school's registrar and admins see its page and its PDF
    base = f"/school/{w.hs_school.pk}/report-card-batches/{batch.pk}"
    assert client.get(base + "/").status_code == status
    assert client.get(base + ".pdf").status_code == status


@pytest.mark.django_db
def test_r32_batch_students_are_the_report_cards_students_in_their_order(
    django_assert_num_queries,
):
    # given five rostered students, one with a Q4 grade but no roster, one whose roster
    # ended with Q1, and a student rostered at the tech school only
    from tests.factories import RosterFactory

    w = _school_of_five()
    graded_only = w.add_student(first_name="Gil", last_name="Adams", sections=[])
    w.letter(graded_only, "B", term=w.q4)
    gone = w.add_student(first_name="Ray", last_name="Aaron", sections=[])
    RosterFactory(student=gone, section=w.english, end_date=w.q1.end_date)
    tech_only = w.add_student(first_name="Oz", last_name="Abbot", sections=[w.tech_section])
    # when a Q4 batch fixes its students
    with django_assert_num_queries(1):
        ids = report_card_student_ids(term=w.q4)
    # then they are the students of the report cards, in the same (name) order
    cards = report_cards(term=w.q4)
    assert ids == [card["student"].pk for card in cards]
    assert [c["student"].last_name for c in cards][:2] == ["Adams", "Archer"]
    assert gone.pk not in ids and tech_only.pk not in ids and len(ids) == 6
