"""R4: score groups, grading tasks and credit types are one kind of row - owned by a district
or by the state - with one save and one delete (``grading.services.district_rows``)."""

import inspect

import pytest
from django.core.exceptions import ValidationError

from grading.models import CreditType, DistrictOwnedModel, GradingTask, ScoreGroup
from grading.services import course_tasks
from grading.services.district_rows import district_row_delete, district_row_save
from tests.factories import DistrictFactory, UserFactory

pytestmark = pytest.mark.django_db

KINDS = [ScoreGroup, GradingTask, CreditType]


@pytest.mark.parametrize("model", KINDS)
def test_r4_every_kind_is_a_district_owned_row(model):
    # then: one base gives each kind its name, its district and "is it the state's"
    assert issubclass(model, DistrictOwnedModel)
    assert model(name="X").is_state
    assert not model(name="X", district=DistrictFactory()).is_state


@pytest.mark.parametrize("model", KINDS)
def test_r4_one_save_refuses_a_state_row_to_a_district_user_and_writes_nothing(model):
    # given a staff user who is not the state admin
    user = UserFactory()
    before = model.objects.count()

    # when they save a row without a district (the state's)
    with pytest.raises(ValidationError) as exc:
        district_row_save(row=model(), name="State row", district=None, by=user)

    # then it is refused with the same code for every kind, and nothing is written
    assert exc.value.error_dict["district"][0].code == "state_row_read_only"
    assert model.objects.count() == before


@pytest.mark.parametrize("model", KINDS)
def test_r4_one_save_writes_a_district_row_and_one_delete_removes_it(model):
    # given a district and a district user
    district, user = DistrictFactory(), UserFactory()

    # when the row is saved, then deleted
    row = district_row_save(row=model(), name="Ours", district=district, by=user)
    saved = model.objects.get(pk=row.pk)
    district_row_delete(row=saved, users="course tasks", by=user)

    # then it was written with its district, and is gone
    assert (saved.name, saved.district_id) == ("Ours", district.pk)
    assert not model.objects.filter(pk=row.pk).exists()


def test_r6_to_r11_each_course_task_check_cites_its_rule():
    # then: the long validator is a list of named checks, each saying which rule it holds
    assert len(course_tasks.COURSE_TASK_CHECKS) >= 8
    for check in course_tasks.COURSE_TASK_CHECKS:
        doc = inspect.getdoc(check) or ""
        assert check.__name__.startswith("check_"), check
        assert any(f"R{n}" in doc for n in range(4, 12)), check.__name__
