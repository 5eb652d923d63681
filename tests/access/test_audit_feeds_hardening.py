"""R37 audit and disclosure, R40 change feeds, and API hardening (tokens, sign-in limits,
security headers, oversized bodies)."""

import datetime as dt
import logging

from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from attendance.models import Attendance
from grading.models import Grade
from schools.access import log_disclosure
from schools.models import AuditEntry, DisclosureLog, District, Roster, Tombstone

LONG_AGO = timezone.now() - dt.timedelta(days=30)


def _rows(response):
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    return body["results"] if isinstance(body, dict) and "results" in body else body


# --- R37 -----------------------------------------------------------------------------------


def test_r37_every_api_write_leaves_an_audit_entry_with_field_names_only(world, as_user):
    # given a state admin
    client = as_user("superuser")
    # when they create and then delete a district
    created = client.post("/api/v1/districts/", {"code": "D9", "name": "Nine"}, format="json")
    district_id = created.json()["id"]
    deleted = client.delete(f"/api/v1/districts/{district_id}/")
    # then both are attributable, with field names and no values
    assert created.status_code == 201 and deleted.status_code == 204
    entries = AuditEntry.objects.filter(model="schools.District", object_id=district_id)
    assert {e.action for e in entries} == {"create", "delete"}
    create = entries.get(action="create")
    assert create.user == world.users["superuser"]
    assert create.changes == ["code", "name"]
    assert not District.objects.filter(pk=district_id).exists()


def test_r37_audit_entry_carries_the_school(world, as_user):
    roster = world.home["schools.Roster"]
    response = as_user("school_admin").patch(
        f"/api/v1/rosters/{roster.pk}/", {"end_date": "2026-12-01"}, format="json"
    )
    assert response.status_code == 200
    entry = AuditEntry.objects.get(model="schools.Roster", object_id=roster.pk)
    assert entry.school_id == world.hs1.pk and entry.action == "update"
    assert entry.user == world.users["school_admin"]


def test_r37_log_disclosure_records_internal_keys(world):
    # when the helper records a read of TECH's records by HS1
    row = log_disclosure(
        user=world.users["school_admin"],
        reader_school_id=world.hs1.pk,
        source_school_id=world.tech_school.pk,
        resource="tech-grades",
        student_ids=[world.student_a.pk, world.student_a.pk],
    )
    # then one row with the distinct keys
    assert row.student_ids == [world.student_a.pk]
    assert row.record_count == 1
    assert (
        log_disclosure(
            user=None, reader_school_id=None, source_school_id=None, resource="x", student_ids=[]
        )
        is None
    )


def test_r37_hs_reads_of_tech_grades_are_disclosure_logged(world, as_user):
    # when HS1's teacher lists grades (which include student A's tech grade)
    _rows(as_user("teacher").get("/api/v1/grades/"))
    # then the read of TECH's records is logged against HS1, by key
    log = DisclosureLog.objects.get(source_school=world.tech_school)
    assert log.reader_school_id == world.hs1.pk
    assert log.student_ids == [world.student_a.pk]
    assert log.user == world.users["teacher"]


def test_r37_reading_own_school_is_not_a_disclosure(world, as_user):
    _rows(as_user("tech_admin").get("/api/v1/grades/"))
    assert not DisclosureLog.objects.exists()


def test_r37_no_student_names_in_log_records(world, as_user, caplog):
    # given student A is named "Annabelle Zzyzx"
    client = as_user("teacher")
    with caplog.at_level(logging.DEBUG):
        # when the API is used, including refused and bad requests
        _rows(client.get("/api/v1/grades/"))
        client.get(f"/api/v1/students/{world.student_b.pk}/")
        client.post("/api/v1/rosters/", {"student": world.student_a.pk}, format="json")
        client.patch(f"/api/v1/students/{world.student_a.pk}/", {"last_name": ""}, format="json")
    # then no log record names a student
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "Zzyzx" not in text and "Annabelle" not in text


# --- R40 -----------------------------------------------------------------------------------


def _age_everything():
    for model in (Grade, Attendance, Roster):
        model.objects.update(modified_at=LONG_AGO)


def test_r40_changed_since_on_rosters_includes_ended_rosters(world, as_user):
    # given every roster last changed a month ago
    _age_everything()
    since = (timezone.now() - dt.timedelta(minutes=1)).isoformat()
    roster = world.home["schools.Roster"]
    admin = as_user("school_admin")
    # when HS1 ends one roster, then pulls changes
    ended = admin.patch(f"/api/v1/rosters/{roster.pk}/", {"end_date": "2026-12-01"}, format="json")
    assert ended.status_code == 200
    rows = _rows(admin.get("/api/v1/rosters/", {"changed_since": since}))
    # then only the ended roster comes back, with its end date
    assert [(r["id"], r["end_date"]) for r in rows] == [(roster.pk, "2026-12-01")]
    assert _rows(admin.get("/api/v1/rosters/", {"changed_since": LONG_AGO.isoformat()[:10]}))


def test_r40_changed_since_on_grades_and_attendance(world, as_user):
    _age_everything()
    since = timezone.now() - dt.timedelta(minutes=1)
    grade = world.home["grading.Grade"]
    attendance = world.home["attendance.Attendance"]
    Grade.objects.filter(pk=grade.pk).update(modified_at=timezone.now())
    Attendance.objects.filter(pk=attendance.pk).update(modified_at=timezone.now())
    client = as_user("district_admin")
    grades = _rows(client.get("/api/v1/grades/", {"changed_since": since.isoformat()}))
    records = _rows(client.get("/api/v1/attendance/", {"changed_since": since.isoformat()}))
    assert [g["id"] for g in grades] == [grade.pk]
    assert [a["id"] for a in records] == [attendance.pk]


def test_r40_malformed_changed_since_is_400(world, as_user):
    client = as_user("district_admin")
    for prefix in ("grades", "attendance", "rosters"):
        for bad in ("yesterday", "2026-13-45T00:00:00", "2026-02-30"):
            response = client.get(f"/api/v1/{prefix}/", {"changed_since": bad})
            assert response.status_code == 400, (prefix, bad)
            assert "changed_since" in response.json()


def test_r40_deletions_feed_reports_deleted_rows(world, as_user):
    # given a roster nobody refers to, and no earlier deletions
    Tombstone.objects.all().delete()
    roster = Roster.objects.create(
        student=world.student_a,
        section=world.s1,
        start_date=dt.date(2027, 1, 4),
        end_date=dt.date(2027, 1, 8),  # R48: the student's open roster there stays the one
    )
    since = (timezone.now() - dt.timedelta(seconds=5)).isoformat()
    admin = as_user("school_admin")
    # when it is deleted through the API
    assert admin.delete(f"/api/v1/rosters/{roster.pk}/").status_code == 204
    # then the deletions feed reports it to HS1, filtered by model and time, and not to HS2
    rows = _rows(
        admin.get("/api/v1/deletions/", {"changed_since": since, "model": "schools.Roster"})
    )
    assert [(r["model"], r["object_id"]) for r in rows] == [("schools.Roster", roster.pk)]
    assert not _rows(as_user("hs2_admin").get("/api/v1/deletions/", {"changed_since": since}))
    assert Tombstone.objects.filter(object_id=roster.pk).count() == 1
    assert admin.get("/api/v1/deletions/", {"changed_since": "nope"}).status_code == 400


# --- hardening -----------------------------------------------------------------------------


def test_r36_token_authentication(world):
    token = Token.objects.create(user=world.users["school_admin"])
    good, bad, none = APIClient(), APIClient(), APIClient()
    good.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert good.get("/api/v1/schools/").status_code == 200
    assert bad.get("/api/v1/schools/").status_code == 401
    assert none.get("/api/v1/schools/").status_code == 401


def test_r36_login_is_locked_after_five_failures(world, client):
    # given five failed sign-ins for one user from one address
    for _ in range(5):
        response = client.post("/accounts/login/", {"username": "teacher", "password": "wrong"})
        assert response.status_code == 200
    # when the right password comes next
    response = client.post(
        "/accounts/login/", {"username": "teacher", "password": "pw-for-tests-1"}
    )
    # then still refused, and not signed in
    assert response.status_code == 200
    assert b"Too many failed sign-ins" in response.content
    assert "_auth_user_id" not in client.session


def test_r36_login_works_and_resets_after_success(world, client):
    for _ in range(4):
        client.post("/accounts/login/", {"username": "teacher", "password": "wrong"})
    response = client.post(
        "/accounts/login/", {"username": "teacher", "password": "pw-for-tests-1"}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(world.users["teacher"].pk)


def test_r36_security_headers_on_pages_and_api(world, client, as_user):
    page = client.get("/accounts/login/")
    api = as_user("teacher").get("/api/v1/schools/")
    for response in (page, api):
        assert "default-src 'self'" in response["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
        assert "camera=()" in response["Permissions-Policy"]
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
    assert api["Cache-Control"] == "no-store"


def test_r36_oversized_payload_is_413_not_500(world, as_user, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    before = District.objects.count()
    response = as_user("superuser").post(
        "/api/v1/districts/", {"code": "X", "name": "n" * 5000}, format="json"
    )
    assert response.status_code == 413
    assert District.objects.count() == before


def test_r44_sign_in_limit_counts_every_spelling_of_a_username(world, client):
    # given five failures spread over spellings of one username (case, full-width)
    for spelling in ["teacher", "TEACHER", "Teacher", "ｔｅａｃｈｅｒ", "ＴＥＡＣＨＥＲ"]:
        client.post("/accounts/login/", {"username": spelling, "password": "wrong"})
    # when the full-width spelling comes with the right password
    response = client.post(
        "/accounts/login/", {"username": "ｔｅａｃｈｅｒ", "password": "pw-for-tests-1"}
    )
    # then refused as locked, not signed in
    assert b"Too many failed sign-ins" in response.content
    assert "_auth_user_id" not in client.session


def test_r44_sign_in_limit_is_per_username_from_any_address(world, client):
    for n in range(5):
        client.post(
            "/accounts/login/",
            {"username": "teacher", "password": "wrong"},
            REMOTE_ADDR=f"10.0.0.{n}",
        )
    response = client.post(
        "/accounts/login/",
        {"username": "teacher", "password": "pw-for-tests-1"},
        REMOTE_ADDR="10.0.1.1",
    )
    assert b"Too many failed sign-ins" in response.content
    assert "_auth_user_id" not in client.session


def test_r44_sign_in_limit_is_per_client_address(world, client):
    # given one address that failed for twenty different usernames
    for n in range(20):
        client.post("/accounts/login/", {"username": f"nobody-{n}", "password": "wrong"})
    # when it tries a real account with the right password
    response = client.post(
        "/accounts/login/", {"username": "teacher", "password": "pw-for-tests-1"}
    )
    # then the address is locked; another address still signs in
    assert b"Too many failed sign-ins" in response.content
    other = client.post(
        "/accounts/login/",
        {"username": "teacher", "password": "pw-for-tests-1"},
        REMOTE_ADDR="10.9.9.9",
    )
    assert other.status_code == 302
