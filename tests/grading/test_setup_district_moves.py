"""R6/R10/R4: a district's score group, grading task or credit type that course tasks use
cannot be moved to another district (the course tasks would then use another district's row,
which the course task check refuses)."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from grading.models import CTE_FINAL, CourseGradingTask, CreditType, GradingTask, ScoreGroup
from grading.services.credit_types import credit_type_save
from grading.services.grading_tasks import grading_task_save
from grading.services.score_groups import score_group_save
from tests.factories import (
    CalendarFactory,
    CourseFactory,
    CreditTypeFactory,
    DistrictFactory,
    cte_numeric,
    cte_task,
    quarters,
)
from tests.grading.test_setup_course_tasks import district_group, save

pytestmark = pytest.mark.django_db

ROWS = [
    {"score": s, "min_percent": m, "passing": m > 0, "gpa_value": g}
    for s, m, g in zip("ABCDF", (90, 80, 70, 60, 0), (4, 3, 2, 1, 0), strict=True)
]


@pytest.fixture
def hs_course():
    course = CourseFactory(is_kts=True, calendar=CalendarFactory())
    quarters(course.calendar)
    return course


def test_r6_score_group_used_on_a_course_cannot_move_to_another_district(hs_course, superuser):
    # given a district score group used on a KTS course of its district
    district = hs_course.calendar.school.district
    group = district_group(district)
    save(hs_course, "CTE_TERM", score_group=group)
    other = DistrictFactory()
    # when it is moved to another district, or to the state
    for target in (other, None):
        with pytest.raises(ValidationError) as exc:
            score_group_save(group=group, name=group.name, district=target, rows=ROWS, by=superuser)
        # then it is refused on district and nothing changes
        assert exc.value.error_dict["district"][0].code == "in_use_other_district"
        group.refresh_from_db()
        assert group.district_id == district.pk


def test_r6_unused_score_group_may_move(hs_course, superuser):
    # given a district score group no course uses
    group = district_group(hs_course.calendar.school.district)
    other = DistrictFactory()
    # when it is moved to another district
    score_group_save(group=group, name=group.name, district=other, rows=ROWS)
    # then it is saved
    assert ScoreGroup.objects.get(pk=group.pk).district_id == other.pk


def test_r10_credit_type_used_on_a_course_cannot_move_to_another_district(hs_course, superuser):
    # given a district credit type on the course's CTE Final Grade
    district = hs_course.calendar.school.district
    credit_type = CreditTypeFactory(name="CTE", district=district)
    save(hs_course, CTE_FINAL, credit=Decimal("1"), credit_type=credit_type)
    # when it is moved to another district
    with pytest.raises(ValidationError) as exc:
        credit_type_save(
            credit_type=credit_type, name="CTE", district=DistrictFactory(), by=superuser
        )
    # then it is refused and nothing changes
    assert exc.value.error_dict["district"][0].code == "in_use_other_district"
    assert CreditType.objects.get(pk=credit_type.pk).district_id == district.pk
    # and moving it to the state is fine (R10: the course's district or the state)
    credit_type_save(credit_type=credit_type, name="CTE", district=None, by=superuser)
    assert CreditType.objects.get(pk=credit_type.pk).district_id is None


def test_r4_grading_task_used_on_a_course_cannot_move_to_another_district(superuser):
    # given a district task on a non-KTS course of that district
    course = CourseFactory(is_kts=False, calendar=CalendarFactory())
    quarters(course.calendar)
    district = course.calendar.school.district
    task = GradingTask.objects.create(name="Semester", district=district)
    save(course, task, score_group=cte_numeric())
    # when it is moved to another district
    with pytest.raises(ValidationError) as exc:
        grading_task_save(task=task, name="Semester", district=DistrictFactory(), by=superuser)
    # then it is refused and nothing changes
    assert exc.value.error_dict["district"][0].code == "in_use_other_district"
    assert GradingTask.objects.get(pk=task.pk).district_id == district.pk
    assert CourseGradingTask.objects.filter(grading_task=task).count() == 1
    assert cte_task(CTE_FINAL).district_id is None


def test_r6_api_refuses_moving_a_used_score_group(api, hs_course):
    # given a district score group used on a KTS course
    group = district_group(hs_course.calendar.school.district)
    save(hs_course, "CTE_TERM", score_group=group)
    # when the API moves it to another district
    response = api.patch(
        f"/api/v1/score-groups/{group.pk}/", {"district": DistrictFactory().pk}, format="json"
    )
    # then 400 on district, nothing saved
    assert response.status_code == 400
    assert "district" in response.json()
    group.refresh_from_db()
    assert group.district_id == hs_course.calendar.school.district_id


def test_r10_admin_refuses_moving_a_used_credit_type(admin_client_su, hs_course):
    # given a district credit type on the course's CTE Final Grade
    district = hs_course.calendar.school.district
    credit_type = CreditTypeFactory(name="CTE", district=district)
    save(hs_course, CTE_FINAL, credit=Decimal("1"), credit_type=credit_type)
    # when the admin form moves it to another district
    url = reverse("admin:grading_credittype_change", args=[credit_type.pk])
    resp = admin_client_su.post(url, {"name": "CTE", "district": DistrictFactory().pk})
    # then the form shows the error and nothing changes
    assert resp.status_code == 200
    assert "Keep this credit type in its district" in resp.content.decode()
    assert CreditType.objects.get(pk=credit_type.pk).district_id == district.pk
