"""R36 on the endpoints outside the router's CRUD: reports, custom actions, history.

HS2's admin asks about HS1's school, student and records; the answer must never carry them.
"""

import pytest

OUT_OF_SCOPE = (400, 403, 404)


def _paths(w):
    a, hs1, q1 = w.student_a.pk, w.hs1.pk, w.q1[0].pk
    return [
        f"/api/v1/reports/report-card/?student={a}&term={q1}",
        f"/api/v1/reports/honor-roll/?school={hs1}&term={q1}",
        f"/api/v1/reports/eligibility/?school={hs1}&term={q1}",
        f"/api/v1/reports/stale-grades/?school={hs1}",
        f"/api/v1/reports/readiness/?school={hs1}",
        f"/api/v1/reports/tech-attendance/?school={hs1}&start=2026-08-10&end=2026-12-18",
        f"/api/v1/students/{a}/cumulative-gpa/",
        f"/api/v1/grades/{w.home['grading.Grade'].pk}/history/",
        f"/api/v1/attendance/unknown/?school={hs1}",
        f"/api/v1/exchange/runs/{w.home['exchange.ExchangeRun'].pk}/",
        f"/api/v1/exchange/runs/{w.home['exchange.ExchangeRun'].pk}/outcomes/",
    ]


def _is_empty(body) -> bool:
    if isinstance(body, dict) and "results" in body:
        return not body["results"]
    return body in ([], {})


@pytest.mark.parametrize("index", range(11))
def test_r36_other_school_reports_and_actions_answer_not_found(world, as_user, index):
    # given HS2's admin; when they ask about HS1's school / student / records
    path = _paths(world)[index]
    response = as_user("hs2_admin").get(path)
    # then refused (or an empty answer), never HS1's data
    assert response.status_code in OUT_OF_SCOPE or (
        response.status_code == 200 and _is_empty(response.json())
    ), (path, response.status_code, response.content[:300])


def test_r36_custom_write_actions_follow_the_role_table(world, as_user):
    window = world.home["grading.GradingWindow"]
    record = world.home["attendance.Attendance"]
    # a teacher may not apply a grading window, post transcripts or start a run
    teacher = as_user("teacher")
    assert teacher.post(f"/api/v1/grading-windows/{window.pk}/apply/").status_code == 403
    assert teacher.post("/api/v1/transcripts/post/", {}, format="json").status_code == 403
    assert teacher.post("/api/v1/exchange/runs/", {}, format="json").status_code == 403
    # a registrar may not resolve attendance; a clerk may try (400: no code given)
    assert as_user("registrar").post(
        f"/api/v1/attendance/{record.pk}/resolve/", {}
    ).status_code in (403, 404)
    assert as_user("attendance_clerk").post(
        f"/api/v1/attendance/{record.pk}/resolve/", {}, format="json"
    ).status_code not in (403, 404)
    # a registrar may post transcripts (400: no school given)
    assert as_user("registrar").post(
        "/api/v1/transcripts/post/", {}, format="json"
    ).status_code not in (403, 404)


def test_r36_registrar_cannot_post_another_schools_transcripts(world, as_user):
    from grading.models import TranscriptLine

    before = TranscriptLine.objects.count()
    response = as_user("registrar").post(
        "/api/v1/transcripts/post/",
        {"school": world.hs2.pk, "calendar": world.cal2.pk},
        format="json",
    )
    assert response.status_code in (400, 403, 404), response.content[:300]
    assert TranscriptLine.objects.count() == before


def test_r36_school_admin_cannot_apply_another_schools_window(world, as_user):
    window = world.away["grading.GradingWindow"]
    response = as_user("school_admin").post(f"/api/v1/grading-windows/{window.pk}/apply/")
    assert response.status_code == 404
