"""R42: reports by role, one table for every form; pages check role and scope as the API does.

Issue 9 finding 2 (school reports leaked to clerks and teachers) and finding 8 (pages checked
``is_staff``; a school admin was refused the admin site and the readiness report).
"""

import pytest
from django.test import Client

from exchange.models import ExchangeRun

READERS = ["registrar", "school_admin", "district_admin", "superuser"]
REFUSED = ["attendance_clerk", "teacher", "hs2_admin", "tech_admin", "no_role"]


def _client(world, name):
    client = Client()
    client.force_login(world.users[name])
    return client


def _forms(world):
    """Every form of the three school reports for HS1 and its first quarter."""
    hs, term, student = world.hs1.pk, world.q1[0].pk, world.student_a.pk
    q = {"school": hs, "term": term}
    return {
        "honor-roll page": (f"/school/{hs}/honor-roll/", {"term": term}),
        "honor-roll csv": (f"/school/{hs}/honor-roll/", {"term": term, "download": "csv"}),
        "honor-roll api": ("/api/v1/reports/honor-roll/", q),
        "eligibility page": (f"/school/{hs}/eligibility/", {"term": term}),
        "eligibility api": ("/api/v1/reports/eligibility/", q),
        "report-card page": (f"/students/{student}/report-card/{term}/", {}),
        "report-card api": ("/api/v1/reports/report-card/", {"student": student, "term": term}),
        "batch pdf": (f"/school/{hs}/honor-roll/report-cards.pdf", {"term": term}),
    }


@pytest.mark.parametrize("name", REFUSED)
def test_r42_school_reports_are_404_on_every_form_for_clerks_teachers_and_outsiders(world, name):
    # given a user who is not HS1's registrar or admin
    client = _client(world, name)
    # when they open every form of HS1's report cards, honor roll and eligibility
    answers = {
        form: client.get(url, params).status_code for form, (url, params) in _forms(world).items()
    }
    # then every one answers 404 (the API's 403 for a user without any role aside)
    expected = {form: 404 for form in answers}
    if name == "no_role":
        expected.update({f: 403 for f in answers if f.endswith("api")})
    assert answers == expected


@pytest.mark.parametrize("name", READERS)
def test_r42_school_reports_open_for_registrar_and_admins(world, name):
    # given HS1's registrar, school admin, district admin or the state admin
    client = _client(world, name)
    # when they open every form but the (slow) batch PDF
    forms = {k: v for k, v in _forms(world).items() if k != "batch pdf"}
    answers = {form: client.get(url, params).status_code for form, (url, params) in forms.items()}
    # then all answer 200
    assert answers == {form: 200 for form in forms}


def test_r42_batch_report_card_pdf_opens_for_the_registrar(world):
    # given HS1's registrar
    url, params = _forms(world)["batch pdf"]
    # when they download the batch PDF
    response = _client(world, "registrar").get(url, params)
    # then it is a PDF
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")


def _staff_teacher(world):
    teacher = world.users["teacher"]
    teacher.is_staff = True
    teacher.save(update_fields=["is_staff"])
    return _client(world, "teacher")


def test_r42_is_staff_teacher_cannot_open_exchange_pages_or_queue_runs(world):
    # given a teacher made is_staff in the admin
    client = _staff_teacher(world)
    run = world.home["exchange.ExchangeRun"]
    runs_before = ExchangeRun.objects.count()
    # when they open the exchange pages, other schools' readiness and start a run
    dashboard = client.get("/exchange/")
    detail = client.get(f"/exchange/runs/{run.pk}/")
    readiness = client.get("/exchange/readiness/")
    other = client.get("/exchange/readiness/", {"school": world.hs2.pk})
    own = client.get("/exchange/readiness/", {"school": world.hs1.pk})
    run_now = client.post("/exchange/run-now/")
    api = _api_readiness(world, "teacher", world.hs1.pk)
    # then every one is refused and no run was queued
    assert dashboard.status_code == detail.status_code == readiness.status_code == 403
    assert other.status_code == own.status_code == run_now.status_code == 403
    assert api == 404
    assert ExchangeRun.objects.count() == runs_before


def _api_readiness(world, name, school_id):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(world.users[name])
    return client.get("/api/v1/reports/readiness/", {"school": school_id}).status_code


def test_r42_school_admin_reaches_admin_setup_and_own_readiness(world):
    # given HS1's school admin, not is_staff (as the demo's central-principal)
    principal = world.users["school_admin"]
    assert not principal.is_staff
    client = _client(world, "school_admin")
    # when they open the admin, their setup lists and the readiness report
    index = client.get("/admin/")
    setup = [
        client.get(f"/admin/{path}/")
        for path in (
            "schools/course",
            "grading/coursegradingtask",
            "grading/gradingwindow",
            "exchange/ktslink",
            "attendance/attendancecode",
            "grading/honorrolltier",
        )
    ]
    readiness = client.get("/exchange/readiness/")
    own = client.get("/exchange/readiness/", {"school": world.hs1.pk})
    other = client.get("/exchange/readiness/", {"school": world.hs2.pk})
    # then the admin and their own school's readiness open; another school's is 404
    assert index.status_code == 200
    assert [r.status_code for r in setup] == [200] * len(setup)
    assert readiness.status_code == own.status_code == 200
    assert [s.pk for s in readiness.context["schools"]] == [world.hs1.pk]
    assert other.status_code == 404
    assert _api_readiness(world, "school_admin", world.hs1.pk) == 200
    assert _api_readiness(world, "school_admin", world.hs2.pk) == 404
    # and the exchange runs stay the district's
    assert client.get("/exchange/").status_code == 403


def test_r42_district_admin_without_is_staff_opens_exchange_pages(world):
    # given the district admin (roles decide, not is_staff)
    client = _client(world, "district_admin")
    run = world.home["exchange.ExchangeRun"]
    # when they open the runs pages
    dashboard = client.get("/exchange/")
    detail = client.get(f"/exchange/runs/{run.pk}/")
    # then they are in
    assert dashboard.status_code == detail.status_code == 200


@pytest.mark.parametrize(("name", "allowed"), [("school_admin", False), ("teacher", True)])
def test_r42_attendance_page_saves_only_for_roles_the_api_allows(world, name, allowed):
    # given HS1's school admin (the API refuses them attendance writes) and S1's teacher
    from attendance.models import Attendance

    client = _client(world, name)
    day = "2026-09-16"
    url = f"/teacher/sections/{world.s1.pk}/attendance/?date={day}"
    code = world.home["attendance.AttendanceCode"]
    # when they save a code for the rostered student
    response = client.post(url, {"action": "save", f"code_{world.student_a.pk}": code.pk})
    # then the school admin is refused (403) and nothing is written; the teacher saves
    saved = Attendance.objects.filter(section=world.s1, date=day).count()
    if allowed:
        assert response.status_code == 302
        assert saved == 1
    else:
        assert response.status_code == 403
        assert saved == 0


def test_r42_admin_sign_in_goes_by_role_not_is_staff(world):
    # given HS1's school admin (not is_staff) and a teacher made is_staff
    teacher = world.users["teacher"]
    teacher.is_staff = True
    teacher.save(update_fields=["is_staff"])
    principal, staff_teacher = Client(), Client()
    # when both sign in on the admin's own sign-in page
    ok = principal.post(
        "/admin/login/?next=/admin/", {"username": "school-admin", "password": "pw-for-tests-1"}
    )
    refused = staff_teacher.post(
        "/admin/login/?next=/admin/", {"username": "teacher", "password": "pw-for-tests-1"}
    )
    # then the school admin is in and the teacher is not
    assert ok.status_code == 302 and principal.get("/admin/").status_code == 200
    assert refused.status_code == 200 and "_auth_user_id" not in staff_teacher.session
