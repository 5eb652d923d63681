"""R41: staff management stays inside one's scope - in the API and the admin alike.

Issue 9 finding 1 (account takeover across districts) and finding 3 (a section's teachers
from another school, a school admin changing its school's kind).
"""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from schools.models import School, StaffRole
from schools.services.courses import section_set_teachers
from tests.factories import UserFactory

UNKNOWN_ID = 987654321


def _staff_role_error(response):
    body = response.json()
    return response.status_code, sorted(body), [e for e in body.get("user", [])]


def _mixed_user(world):
    """A teacher at HS1 (D1) who also teaches at HS2 (D2): outside D1's admin's scope."""
    user = UserFactory(username="mixed-teacher")
    StaffRole.objects.create(user=user, role="teacher", school=world.hs1)
    StaffRole.objects.create(user=user, role="teacher", school=world.hs2)
    return user


def _admin_client(world, name):
    user = world.users[name]
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("target", ["tech_admin", "superuser", "mixed"])
def test_r41_staff_roles_api_refuses_a_user_outside_the_district_like_an_unknown_id(
    world, as_user, target
):
    # given a district admin of D1 and a user they do not manage
    mixed = _mixed_user(world)
    user = mixed if target == "mixed" else world.users[target]
    client = as_user("district_admin")
    before = StaffRole.objects.count()
    # when they give that user a role at their own school, and an unknown id the same role
    payload = {"role": "teacher", "school": world.hs1.pk}
    taken = client.post("/api/v1/staff-roles/", {**payload, "user": user.pk}, format="json")
    unknown = client.post("/api/v1/staff-roles/", {**payload, "user": UNKNOWN_ID}, format="json")
    # then both answer the same 400 (ids cannot be enumerated) and nothing is written
    assert taken.status_code == unknown.status_code == 400
    assert taken.json()["user"][0].replace(str(user.pk), "N") == unknown.json()["user"][0].replace(
        str(UNKNOWN_ID), "N"
    )
    assert StaffRole.objects.count() == before


def test_r41_staff_roles_api_patch_cannot_move_a_role_to_an_outside_user(world, as_user):
    # given the HS1 teacher's role, which the district admin manages
    role = world.home["schools.StaffRole"]
    client = as_user("district_admin")
    # when they point it at the superuser
    response = client.patch(
        f"/api/v1/staff-roles/{role.pk}/", {"user": world.users["superuser"].pk}, format="json"
    )
    # then 400 and the role still belongs to the teacher
    assert response.status_code == 400
    role.refresh_from_db()
    assert role.user == world.users["teacher"]


def test_r41_a_user_with_a_role_elsewhere_is_out_of_scope_404_in_the_api(world, as_user):
    # given a teacher who also teaches in another district
    mixed = _mixed_user(world)
    home_role = mixed.staff_roles.get(school=world.hs1)
    client = as_user("district_admin")
    # when the D1 admin reads, changes and deletes that user's D1 role
    read = client.get(f"/api/v1/staff-roles/{home_role.pk}/")
    patch = client.patch(f"/api/v1/staff-roles/{home_role.pk}/", {"role": "registrar"})
    delete = client.delete(f"/api/v1/staff-roles/{home_role.pk}/")
    listed = client.get("/api/v1/staff-roles/", {"page_size": 1000}).json()["results"]
    # then not found, like an unknown id, and untouched
    assert read.status_code == patch.status_code == delete.status_code == 404
    assert client.get(f"/api/v1/staff-roles/{UNKNOWN_ID}/").status_code == 404
    assert home_role.pk not in {row["id"] for row in listed}
    home_role.refresh_from_db()
    assert home_role.role == "teacher"


@pytest.mark.parametrize("target", ["tech_admin", "superuser", "mixed"])
def test_r41_admin_password_page_of_an_outside_user_is_404_like_an_unknown_id(world, target):
    # given a district admin in the admin site and a user outside their scope
    mixed = _mixed_user(world)
    user = mixed if target == "mixed" else world.users[target]
    client = _admin_client(world, "district_admin")
    data = {"password1": "another-Pass-77", "password2": "another-Pass-77"}
    # when they open and post the user's password page (and an unknown id's)
    url = reverse("admin:auth_user_password_change", args=[user.pk])
    unknown_url = reverse("admin:auth_user_password_change", args=[UNKNOWN_ID])
    page, post = client.get(url), client.post(url, data)
    unknown = client.post(unknown_url, data)
    change = client.get(reverse("admin:auth_user_change", args=[user.pk]))
    unknown_change = client.get(reverse("admin:auth_user_change", args=[UNKNOWN_ID]))
    # then the same 404 (and the same redirect for the change page); the password is unchanged
    assert page.status_code == post.status_code == unknown.status_code == 404
    assert change.status_code == unknown_change.status_code == 302
    user.refresh_from_db()
    assert not user.check_password("another-Pass-77")


def test_r41_admin_user_list_holds_managed_users_only(world):
    # given a teacher with roles in two districts and a user without any role
    mixed = _mixed_user(world)
    client = _admin_client(world, "district_admin")
    # when the district admin lists users
    listed = set(client.get(reverse("admin:auth_user_changelist")).context["cl"].queryset)
    # then own-district staff and role-less users show; superuser, tech and mixed users do not
    assert world.users["teacher"] in listed and world.users["no_role"] in listed
    assert not listed & {world.users["superuser"], world.users["tech_admin"], mixed}


def test_r41_district_admin_cannot_make_a_superuser_in_the_admin(world):
    # given a district admin and a teacher of their district
    client = _admin_client(world, "district_admin")
    teacher = world.users["teacher"]
    url = reverse("admin:auth_user_change", args=[teacher.pk])
    form = client.get(url).context["adminform"].form
    # when they post the change form with is_superuser on
    data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
    data.update(
        {
            "username": teacher.username,
            "is_superuser": "on",
            "is_active": "on",
            "staff_roles-TOTAL_FORMS": "0",
            "staff_roles-INITIAL_FORMS": "0",
            "staff_roles-MIN_NUM_FORMS": "0",
            "staff_roles-MAX_NUM_FORMS": "1000",
        }
    )
    data.pop("last_login", None), data.pop("date_joined", None)
    client.post(url, data)
    # then the teacher is no superuser
    teacher.refresh_from_db()
    assert not teacher.is_superuser


def _hs2_teacher():
    user = UserFactory(username="hs2-teacher")
    return user


def test_r41_school_admin_cannot_put_another_schools_teacher_on_a_section(world, as_user):
    # given a teacher of HS2 (another district)
    hs2_teacher = _hs2_teacher()
    StaffRole.objects.create(user=hs2_teacher, role="teacher", school=world.hs2)
    # when HS1's school admin makes them a teacher of HS1's section
    response = as_user("school_admin").patch(
        f"/api/v1/sections/{world.s1.pk}/", {"teachers": [hs2_teacher.pk]}, format="json"
    )
    # then 400, and the section keeps its teachers
    assert response.status_code == 400
    assert hs2_teacher not in world.s1.teachers.all()


def test_r41_section_teacher_without_a_role_at_the_school_is_a_coded_error(world, as_user):
    # given a person teaching at HS2 only, and the state admin (who sees everyone)
    hs2_teacher = _hs2_teacher()
    StaffRole.objects.create(user=hs2_teacher, role="teacher", school=world.hs2)
    # when the state admin puts them on HS1's section: API, service and admin
    api = as_user("superuser").patch(
        f"/api/v1/sections/{world.s1.pk}/", {"teachers": [hs2_teacher.pk]}, format="json"
    )
    with pytest.raises(ValidationError) as service:
        section_set_teachers(section=world.s1, teachers=[hs2_teacher])
    client = Client()
    client.force_login(world.users["superuser"])
    admin = client.post(
        reverse("admin:schools_section_change", args=[world.s1.pk]),
        {"course": world.s1.course_id, "number": world.s1.number, "teachers": [hs2_teacher.pk]},
    )
    # then the same code everywhere, and nothing changed
    assert api.status_code == 400 and api.json()["teachers"]
    assert service.value.error_dict["teachers"][0].code == "teacher_not_at_school"
    assert admin.status_code == 200
    errors = admin.context["adminform"].form.errors.as_data()["teachers"]
    assert errors[0].code == "teacher_not_at_school"
    assert list(world.s1.teachers.all()) == [world.users["teacher"]]


def test_r41_a_teacher_with_a_role_at_the_school_may_be_set(world, as_user):
    # given the HS1 colleague (a teacher at HS1)
    colleague = world.s1b.teachers.get()
    # when the school admin adds them to S1
    response = as_user("school_admin").patch(
        f"/api/v1/sections/{world.s1.pk}/",
        {"teachers": [world.users["teacher"].pk, colleague.pk]},
        format="json",
    )
    # then it is saved
    assert response.status_code == 200, response.content
    assert set(world.s1.teachers.all()) == {world.users["teacher"], colleague}


@pytest.mark.parametrize("role", ["school_admin", "district_admin"])
@pytest.mark.parametrize(("field", "value"), [("kind", "technical_school"), ("district", "d2")])
def test_r41_school_district_and_kind_are_the_state_admins(world, as_user, role, field, value):
    # given HS1's school or district admin
    value = world.d2.pk if value == "d2" else value
    # when they change the school's kind or district
    response = as_user(role).patch(
        f"/api/v1/schools/{world.hs1.pk}/", {field: value}, format="json"
    )
    # then 400 with the code, and nothing changed
    assert response.status_code == 400
    assert School.objects.get(pk=world.hs1.pk).kind == "high_school"
    assert School.objects.get(pk=world.hs1.pk).district == world.d1


def test_r41_school_kind_is_read_only_in_the_admin_but_the_state_admin_changes_it(world, as_user):
    # given a district admin on HS1's admin page
    client = _admin_client(world, "district_admin")
    page = client.get(reverse("admin:schools_school_change", args=[world.hs1.pk]))
    # then kind and district are read-only there
    assert {"kind", "district"} <= set(page.context["adminform"].readonly_fields)
    # and the state admin may change the kind through the API
    response = as_user("superuser").patch(
        f"/api/v1/schools/{world.hs2.pk}/", {"kind": "technical_school"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert School.objects.get(pk=world.hs2.pk).kind == "technical_school"


def test_r41_district_admin_adds_a_school_only_in_own_district_in_the_admin(world):
    # given the district admin of D1 on the admin's add-school page
    client = _admin_client(world, "district_admin")
    url = reverse("admin:schools_school_add")
    data = {"code": "NEW", "name": "New HS", "kind": "high_school"}
    # when they add a school to D1, and one to D2
    own = client.post(url, {**data, "district": world.d1.pk})
    other = client.post(url, {**data, "code": "NEW2", "district": world.d2.pk})
    # then D1's is saved and D2's is refused with nothing written
    assert own.status_code == 302
    assert School.objects.filter(code="NEW", district=world.d1).exists()
    assert other.status_code == 200
    assert not School.objects.filter(code="NEW2").exists()
