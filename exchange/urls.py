from django.urls import path

from exchange import views

app_name = "exchange"

urlpatterns = [
    path("exchange/", views.dashboard, name="dashboard"),
    path("exchange/run-now/", views.run_now, name="run-now"),
    path("exchange/runs/<int:pk>/", views.run_detail, name="run-detail"),
    path("exchange/runs/<int:pk>/cancel/", views.cancel_run, name="run-cancel"),
    path("exchange/readiness/", views.readiness, name="readiness"),
]
