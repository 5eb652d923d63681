"""/api/v1/: every app registers its resources on one router."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from attendance import api as attendance_api
from exchange import api as exchange_api
from grading import api as grading_api
from schools import api as schools_api
from schools import feeds_api

router = DefaultRouter()
extra_urls = [*feeds_api.urlpatterns]  # R40 deletions feed
for module in (schools_api, grading_api, attendance_api, exchange_api):
    module.register(router)
    extra_urls += getattr(module, "urlpatterns", [])

urlpatterns = [*extra_urls, path("", include(router.urls))]
