"""R4 (the state's push-down is read-only) and R5 (score group rows) through the services,
the admin and the API."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from grading.models import CTE_TERM, CreditType, GradingTask, ScoreGroup, ScoreRow
from grading.services.credit_types import credit_type_save
from grading.services.grading_tasks import grading_task_delete, grading_task_save
from grading.services.score_groups import score_group_save
from tests.factories import (
    CreditTypeFactory,
    DistrictFactory,
    UserFactory,
    cte_numeric,
    cte_task,
)

pytestmark = pytest.mark.django_db

LETTERS = [
    {"score": "A", "min_percent": "90.00", "passing": True, "gpa_value": "4.00"},
    {"score": "B", "min_percent": "80.00", "passing": True, "gpa_value": "3.00"},
    {"score": "F", "min_percent": "0.00", "passing": False, "gpa_value": "0.00"},
]


# --- R4 ------------------------------------------------------------------------------------


def test_r4_cte_task_cannot_be_renamed_or_deleted_even_by_superuser(superuser):
    task = cte_task(CTE_TERM)
    with pytest.raises(ValidationError) as exc:
        grading_task_save(task=task, name="Renamed", code=CTE_TERM, by=superuser)
    assert exc.value.code == "state_row_read_only"
    with pytest.raises(ValidationError):
        grading_task_delete(task=task, by=superuser)
    task.refresh_from_db()
    assert task.name == "CTE Term Grade"


def test_r4_cte_numeric_rows_cannot_be_edited(superuser):
    group = cte_numeric()
    with pytest.raises(ValidationError) as exc:
        score_group_save(group=group, name=group.name, district=None, rows=LETTERS, by=superuser)
    assert exc.value.code == "state_row_read_only"
    assert group.rows.count() == 5


def test_r4_district_user_cannot_create_state_rows_but_district_rows():
    user = UserFactory(is_staff=True)
    with pytest.raises(ValidationError) as exc:
        credit_type_save(credit_type=None, name="State thing", district=None, by=user)
    assert exc.value.error_dict["district"][0].code == "state_row_read_only"
    district = DistrictFactory()
    assert credit_type_save(credit_type=None, name="Local", district=district, by=user).pk
    assert not CreditType.objects.filter(name="State thing").exists()


def test_r4_superuser_may_edit_non_cte_state_rows(superuser):
    ct = CreditTypeFactory(name="Elective")
    credit_type_save(credit_type=ct, name="Elective credit", district=None, by=superuser)
    ct.refresh_from_db()
    assert ct.name == "Elective credit"


def test_r4_api_refuses_rename_and_delete_of_cte_task(api):
    task = cte_task(CTE_TERM)
    rename = api.patch(f"/api/v1/grading-tasks/{task.pk}/", {"name": "X"}, format="json")
    delete = api.delete(f"/api/v1/grading-tasks/{task.pk}/")
    assert rename.status_code == 400 and delete.status_code == 400
    assert "provided by the state" in rename.json()["non_field_errors"][0]
    task.refresh_from_db()
    assert task.name == "CTE Term Grade"
    listed = api.get("/api/v1/grading-tasks/?is_cte=true").json()
    assert listed["count"] == 3 and all(r["is_cte"] for r in listed["results"])


def test_r4_api_refuses_editing_cte_numeric_rows(api):
    group = cte_numeric()
    resp = api.put(
        f"/api/v1/score-groups/{group.pk}/",
        {"name": group.name, "district": None, "rows": LETTERS},
        format="json",
    )
    assert resp.status_code == 400
    assert api.delete(f"/api/v1/score-groups/{group.pk}/").status_code == 400
    assert group.rows.count() == 5


def test_r4_api_is_cte_is_read_only(api):
    district = DistrictFactory()
    resp = api.post(
        "/api/v1/grading-tasks/",
        {"name": "Quarter Grade", "code": "QG", "district": district.pk, "is_cte": True},
        format="json",
    )
    assert resp.status_code == 201
    assert resp.json()["is_cte"] is False


def test_r4_admin_cte_rows_read_only_and_state_rows_for_superusers_only(admin_client_su, client):
    task = cte_task(CTE_TERM)
    url = reverse("admin:grading_gradingtask_change", args=[task.pk])
    resp = admin_client_su.post(url, {"name": "Renamed", "code": CTE_TERM})
    assert resp.status_code == 403 or "Renamed" not in GradingTask.objects.values_list(
        "name", flat=True
    )
    task.refresh_from_db()
    assert task.name == "CTE Term Grade"
    # a district admin (staff, full model permissions) still cannot change a state credit type
    from django.contrib.auth.models import Permission

    from schools.models import StaffRole

    staff = UserFactory(is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="grading"))
    StaffRole.objects.create(user=staff, role="district_admin", district=DistrictFactory())
    client.force_login(staff)
    state_ct = CreditTypeFactory(name="State CT")
    client.post(reverse("admin:grading_credittype_change", args=[state_ct.pk]), {"name": "Mine"})
    state_ct.refresh_from_db()
    assert state_ct.name == "State CT"
    refused = client.post(
        reverse("admin:grading_credittype_add"), {"name": "New state", "district": ""}
    )
    assert refused.status_code == 200
    assert not CreditType.objects.filter(name="New state").exists()


# --- R5 ------------------------------------------------------------------------------------


def test_r5_score_group_rows_accepted_and_replaced_as_a_whole():
    district = DistrictFactory()
    group = score_group_save(group=None, name="Letters", district=district, rows=LETTERS)
    assert group.rows.count() == 3
    score_group_save(group=group, name="Letters", district=district, rows=LETTERS[1:])
    assert sorted(group.rows.values_list("score", flat=True)) == ["B", "F"]


@pytest.mark.parametrize(
    ("rows", "code"),
    [
        ([], "score_group_empty"),
        (
            [{**LETTERS[0]}, {**LETTERS[1], "min_percent": "90"}, LETTERS[2]],
            "min_percent_not_unique",
        ),
        (LETTERS[:2], "no_zero_row"),
        ([LETTERS[0], {**LETTERS[1], "score": "A"}, LETTERS[2]], "score_not_unique"),
    ],
)
def test_r5_bad_rows_refused(rows, code):
    district = DistrictFactory()
    with pytest.raises(ValidationError) as exc:
        score_group_save(group=None, name="Bad", district=district, rows=rows)
    assert exc.value.error_dict["rows"][0].code == code
    assert not ScoreGroup.objects.filter(name="Bad").exists()


def test_r5_update_with_bad_rows_keeps_old_rows():
    district = DistrictFactory()
    group = score_group_save(group=None, name="Letters", district=district, rows=LETTERS)
    with pytest.raises(ValidationError):
        score_group_save(group=group, name="Letters", district=district, rows=LETTERS[:2])
    assert group.rows.count() == 3


def test_r5_api_score_group_nested_rows(api):
    district = DistrictFactory()
    resp = api.post(
        "/api/v1/score-groups/",
        {"name": "Letters", "district": district.pk, "rows": LETTERS},
        format="json",
    )
    assert resp.status_code == 201, resp.content
    gid = resp.json()["id"]
    assert {r["score"] for r in resp.json()["rows"]} == {"A", "B", "F"}
    bad = api.put(
        f"/api/v1/score-groups/{gid}/",
        {"name": "Letters", "district": district.pk, "rows": LETTERS[:2]},
        format="json",
    )
    assert bad.status_code == 400 and "rows" in bad.json()
    assert ScoreRow.objects.filter(group_id=gid).count() == 3
    assert api.get(f"/api/v1/score-groups/?district={district.pk}").json()["count"] == 1


def test_r5_api_bad_row_values_are_400(api):
    district = DistrictFactory()
    resp = api.post(
        "/api/v1/score-groups/",
        {
            "name": "Letters",
            "district": district.pk,
            "rows": [{**LETTERS[0], "min_percent": "150"}, LETTERS[2]],
        },
        format="json",
    )
    assert resp.status_code == 400
    assert not ScoreGroup.objects.filter(name="Letters").exists()


def rows_post(rows, name="Letters", district=None):
    data = {
        "name": name,
        "district": district.pk if district else "",
        "rows-TOTAL_FORMS": str(len(rows)),
        "rows-INITIAL_FORMS": "0",
        "rows-MIN_NUM_FORMS": "0",
        "rows-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            if key == "passing":
                if value:
                    data[f"rows-{i}-passing"] = "on"
            else:
                data[f"rows-{i}-{key}"] = value
    return data


def test_r5_admin_score_group_with_rows(admin_client_su):
    district = DistrictFactory()
    resp = admin_client_su.post(
        reverse("admin:grading_scoregroup_add"), rows_post(LETTERS, district=district)
    )
    assert resp.status_code == 302, resp.content.decode()[:2000]
    group = ScoreGroup.objects.get(name="Letters")
    assert group.rows.get(score="F").min_percent == Decimal("0")


def test_r5_admin_refuses_group_without_zero_row(admin_client_su):
    district = DistrictFactory()
    resp = admin_client_su.post(
        reverse("admin:grading_scoregroup_add"), rows_post(LETTERS[:2], district=district)
    )
    assert resp.status_code == 200
    assert "Min % 0" in resp.content.decode()
    assert not ScoreGroup.objects.filter(name="Letters").exists()


def test_r4_admin_changelists_render(admin_client_su):
    for name in ("scoregroup", "gradingtask", "credittype", "coursegradingtask", "gradingwindow"):
        assert admin_client_su.get(reverse(f"admin:grading_{name}_changelist")).status_code == 200
    page = admin_client_su.get(reverse("admin:grading_scoregroup_change", args=[cte_numeric().pk]))
    assert page.status_code == 200  # view-only for CTE Numeric


def test_r12_admin_add_pages_render(admin_client_su):
    for name in (
        "schools_course",
        "schools_calendar",
        "schools_section",
        "schools_roster",
        "grading_scoregroup",
        "grading_gradingwindow",
        "grading_gradingtask",
    ):
        assert admin_client_su.get(reverse(f"admin:{name}_add")).status_code == 200, name
