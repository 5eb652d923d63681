"""Rows only their service writes (grades R14, attendance R25/R43, their histories, the
exchange's outcomes) are shown by the admin, never added or changed there, even by the
state admin."""

import pytest
from django.contrib import admin
from django.test import RequestFactory

from attendance.models import Attendance, AttendanceHistory
from exchange.models import ExchangeOutcome
from grading.models import Grade, GradeHistory

pytestmark = pytest.mark.django_db

VIEW_ONLY = [Attendance, Grade, ExchangeOutcome]
HISTORY_INLINES = {Attendance: [AttendanceHistory], Grade: [GradeHistory], ExchangeOutcome: []}


@pytest.mark.parametrize("model", VIEW_ONLY, ids=lambda m: m.__name__)
def test_r14_r43_the_admin_refuses_to_add_a_service_written_row(admin_client_su, model):
    # given the state admin
    meta = model._meta
    # when they open the add page
    response = admin_client_su.get(f"/admin/{meta.app_label}/{meta.model_name}/add/")
    # then it is refused and nothing is written
    assert response.status_code == 403
    assert model.objects.count() == 0


@pytest.mark.parametrize("model", VIEW_ONLY, ids=lambda m: m.__name__)
def test_r14_r43_no_service_written_row_is_changeable_in_the_admin(superuser, model):
    # given the state admin's request
    request = RequestFactory().get("/admin/")
    request.user = superuser
    model_admin = admin.site._registry[model]
    # then the admin and its history inlines may view, never add or change
    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    inlines = model_admin.get_inline_instances(request)
    assert [inline.model for inline in inlines] == HISTORY_INLINES[model]
    for inline in inlines:
        assert not inline.has_add_permission(request, None)
        assert not inline.has_change_permission(request)
