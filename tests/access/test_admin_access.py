"""R36/R37 in the admin: issuing API tokens, the disclosure log for district admins, and
sign-in limiting on the admin's login page."""

from rest_framework.authtoken.models import Token

from schools.access import log_disclosure
from schools.models import DisclosureLog


def test_r36_admin_action_issues_a_new_api_token(world, client):
    # given a state admin and a teacher with an old token
    old = Token.objects.create(user=world.users["teacher"])
    client.force_login(world.users["superuser"])
    # when the "Issue API token" action runs on the teacher
    response = client.post(
        "/admin/auth/user/",
        {"action": "issue_api_token", "_selected_action": [world.users["teacher"].pk]},
        follow=True,
    )
    # then a new token replaces the old one and is shown once
    token = Token.objects.get(user=world.users["teacher"])
    assert token.key != old.key
    assert token.key in response.content.decode()


def test_r37_district_admin_reads_own_districts_disclosure_log_only(world, client):
    # given disclosures read by HS1 (D1) and by HS2 (D2)
    mine = log_disclosure(
        user=None,
        reader_school_id=world.hs1.pk,
        source_school_id=world.tech_school.pk,
        resource="tech-attendance",
        student_ids=[world.student_a.pk],
    )
    theirs = log_disclosure(
        user=None,
        reader_school_id=world.hs2.pk,
        source_school_id=world.tech_school.pk,
        resource="tech-attendance",
        student_ids=[world.student_b.pk],
    )
    admin = world.users["district_admin"]
    admin.is_staff = True
    admin.save()
    client.force_login(admin)
    # when the district admin opens the disclosure log
    listing = client.get("/admin/schools/disclosurelog/")
    # then only D1's row, read-only
    assert listing.status_code == 200
    shown = {obj.pk for obj in listing.context["cl"].result_list}
    assert shown == {mine.pk}
    assert client.get(f"/admin/schools/disclosurelog/{theirs.pk}/change/").status_code in (302, 404)
    assert client.get("/admin/schools/disclosurelog/add/").status_code == 403
    assert DisclosureLog.objects.count() == 2


def test_r37_teacher_with_staff_flag_cannot_open_the_disclosure_log(world, client):
    teacher = world.users["teacher"]
    teacher.is_staff = True
    teacher.save()
    client.force_login(teacher)
    # R42: is_staff grants nothing by itself - the admin sends them to its sign-in page
    response = client.get("/admin/schools/disclosurelog/")
    assert response.status_code == 302 and response.url.startswith("/admin/login/")


def test_r36_admin_login_is_locked_after_five_failures(world, client):
    for _ in range(5):
        client.post("/admin/login/", {"username": "state", "password": "wrong"})
    response = client.post("/admin/login/", {"username": "state", "password": "pw-for-tests-1"})
    assert response.status_code == 200
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session
