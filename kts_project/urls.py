from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from schools.login import LoginView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", LoginView.as_view(), name="login"),  # limited attempts (R36)
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("kts_project.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("", include("schools.urls")),
    path("", include("grading.urls")),
    path("", include("attendance.urls")),
    path("", include("exchange.urls")),
]

handler404 = "schools.api_common.not_found"  # JSON under /api/ (documented in the schema)
