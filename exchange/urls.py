from django.urls import path

from exchange import views
from exchange.oneroster import views as oneroster_views

app_name = "exchange"

urlpatterns = [
    path("exchange/", views.dashboard, name="dashboard"),
    path("exchange/run-now/", views.run_now, name="run-now"),
    path("exchange/runs/<int:pk>/", views.run_detail, name="run-detail"),
    path("exchange/runs/<int:pk>/cancel/", views.cancel_run, name="run-cancel"),
    path("exchange/readiness/", views.readiness, name="readiness"),
    path("exchange/imports/", oneroster_views.imports, name="imports"),
    path("exchange/imports/<int:pk>/", oneroster_views.import_detail, name="import-detail"),
]
