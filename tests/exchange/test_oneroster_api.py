"""OneRoster imports through the API, the upload page and the command (R50, R41)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from exchange.models import Import
from exchange.oneroster.files import set_files, write_folder, zip_bytes
from exchange.oneroster.sample import sample_files
from schools.models import District, Roster, StaffRole, Student
from tests.factories import DistrictFactory, SchoolFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _sync_queue(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def upload(files=None, name="pine.zip"):
    return SimpleUploadedFile(name, zip_bytes(set_files(files or sample_files())))


def district_admin(district):
    user = UserFactory()
    StaffRole.objects.create(user=user, role="district_admin", district=district)
    return user


def test_r50_api_upload_queues_an_import_and_reports_counts(api):
    # when
    response = api.post("/api/v1/imports/oneroster/", {"file": upload()}, format="multipart")
    # then
    assert response.status_code == 202
    body = api.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert body["status"] == "succeeded" and body["dry_run"] is False
    assert body["counts"]["enrollments"]["added"] == 28
    assert body["errors"] == []
    assert Roster.objects.count() == 24
    assert Import.objects.get().payload is None  # the upload is not kept once read


def test_r50_api_dry_run_writes_nothing(api):
    response = api.post(
        "/api/v1/imports/oneroster/", {"file": upload(), "dry_run": "true"}, format="multipart"
    )
    body = api.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert (body["status"], body["dry_run"]) == ("succeeded", True)
    assert body["counts"]["users"]["added"] == 15
    assert not Student.objects.exists() and not District.objects.exists()


def test_r50_api_refused_set_lists_each_problem(api):
    files = sample_files()
    files["users"][4]["identifier"] = ""
    response = api.post("/api/v1/imports/oneroster/", {"file": upload(files)}, format="multipart")
    body = api.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert body["status"] == "refused"
    assert body["errors"] == [
        {
            "file": "users.csv",
            "line": 6,
            "sourced_id": files["users"][4]["sourcedId"],
            "field": "identifier",
            "message": "Give the student's state student id in identifier (R3).",
        }
    ]
    assert not Student.objects.exists()


def test_r41_district_admin_imports_only_their_own_district():
    # given the Pine district exists and an admin of another district
    pine = DistrictFactory(code="PINE", sourced_id="org-pine")
    other = DistrictFactory(code="OTHER")
    outsider = district_admin(other)
    client = client_for(outsider)
    # when the outsider uploads Pine's set
    response = client.post("/api/v1/imports/oneroster/", {"file": upload()}, format="multipart")
    # then it is refused, each Pine org named, nothing written
    body = client.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert body["status"] == "refused"
    assert {(e["file"], e["sourced_id"]) for e in body["errors"]} == {
        ("orgs.csv", "org-pine"),
        ("orgs.csv", "org-prhs"),
        ("orgs.csv", "org-pehs"),
    }
    assert not Student.objects.exists() and not pine.schools.exists()
    # and Pine's own admin may import it
    client = client_for(district_admin(pine))
    response = client.post("/api/v1/imports/oneroster/", {"file": upload()}, format="multipart")
    assert client.get(f"/api/v1/imports/{response.json()['id']}/").json()["status"] == "succeeded"


def test_r41_district_admin_cannot_create_a_new_district():
    outsider = district_admin(DistrictFactory(code="OTHER"))
    client = client_for(outsider)
    response = client.post("/api/v1/imports/oneroster/", {"file": upload()}, format="multipart")
    body = client.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert body["status"] == "refused"
    assert not District.objects.filter(code="PINE").exists()


def test_r50_other_roles_may_not_import_and_imports_are_private(api):
    # given an import by the state admin
    response = api.post("/api/v1/imports/oneroster/", {"file": upload()}, format="multipart")
    import_id = response.json()["id"]
    school = SchoolFactory()
    teacher = UserFactory()
    StaffRole.objects.create(user=teacher, role="school_admin", school=school)
    client = client_for(teacher)
    # then a school admin gets 403 on both, a district admin 404 on another's import
    assert (
        client.post(
            "/api/v1/imports/oneroster/", {"file": upload()}, format="multipart"
        ).status_code
        == 403
    )
    assert client.get(f"/api/v1/imports/{import_id}/").status_code == 403
    other = client_for(district_admin(school.district))
    assert other.get(f"/api/v1/imports/{import_id}/").status_code == 404
    assert APIClient().get(f"/api/v1/imports/{import_id}/").status_code in (401, 403)
    assert Import.objects.count() == 1


def test_r50_upload_page_shows_status_counts_and_errors(client, superuser):
    client.force_login(superuser)
    files = sample_files()
    files["enrollments"][5]["classSourcedId"] = "cls-gone"
    page = client.get("/exchange/imports/")
    assert page.status_code == 200
    response = client.post(
        "/exchange/imports/", {"file": upload(files), "dry_run": ""}, follow=True
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "refused" in html and "cls-gone" not in html  # the row is named by its own sourcedId
    assert files["enrollments"][5]["sourcedId"] in html and "enrollments.csv" in html
    assert not Roster.objects.exists()


def test_r50_upload_page_is_for_admins_only(client):
    school = SchoolFactory()
    clerk = UserFactory()
    StaffRole.objects.create(user=clerk, role="registrar", school=school)
    assert client.get("/exchange/imports/").status_code == 302  # to the login page
    client.force_login(clerk)
    assert client.get("/exchange/imports/").status_code == 403


def test_r50_command_imports_a_folder_and_exits_non_zero_when_refused(tmp_path, capsys):
    # given
    good = write_folder(tmp_path / "good", set_files(sample_files()))
    files = sample_files()
    files["academicSessions"][0]["schoolYear"] = "27"
    bad = write_folder(tmp_path / "bad", set_files(files))
    # when / then
    call_command("import_oneroster", str(good))
    assert "succeeded" in capsys.readouterr().out
    assert Student.objects.count() == 12
    with pytest.raises(CommandError):
        call_command("import_oneroster", str(bad))
    out = capsys.readouterr().out
    assert "academicSessions.csv:2 sy-2027 schoolYear" in out


def test_r37_an_import_is_attributed_by_one_audit_entry(api, superuser):
    from schools.models import AuditEntry

    response = api.post("/api/v1/imports/oneroster/", {"file": upload()}, format="multipart")
    entry = AuditEntry.objects.get(action="import")
    assert (entry.user, entry.object_id, entry.model) == (
        superuser,
        response.json()["id"],
        "exchange.Import",
    )
    assert "enrollments.csv" in entry.changes
    # a dry run and an unchanged re-import write no entry
    api.post("/api/v1/imports/oneroster/", {"file": upload()}, format="multipart")
    api.post(
        "/api/v1/imports/oneroster/", {"file": upload(), "dry_run": "true"}, format="multipart"
    )
    assert AuditEntry.objects.filter(action="import").count() == 1


def test_r50_an_upload_that_is_not_a_zip_is_refused_with_a_message(api):
    bad = SimpleUploadedFile("pine.csv", b"sourcedId,name\n1,x\n")
    response = api.post("/api/v1/imports/oneroster/", {"file": bad}, format="multipart")
    body = api.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert body["status"] == "refused"
    assert body["errors"][0]["message"].startswith("Give a zip file or a folder")
    assert not District.objects.exists()


def test_r50_a_disabled_staff_user_is_imported_inactive(tmp_path, api):
    from django.contrib.auth import get_user_model

    files = sample_files()
    files["users"][1]["enabledUser"] = "false"  # the PRHS teacher
    api.post("/api/v1/imports/oneroster/", {"file": upload(files)}, format="multipart")
    assert not get_user_model().objects.get(username="prhs-teacher").is_active
