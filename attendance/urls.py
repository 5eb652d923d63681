from django.urls import path

from attendance import views

urlpatterns = [
    path(
        "teacher/sections/<int:section_id>/attendance/",
        views.section_attendance,
        name="section-attendance",
    ),
    path(
        "school/<int:school_id>/tech-attendance/",
        views.tech_attendance,
        name="tech-attendance",
    ),
    path(
        "school/<int:school_id>/unknown-attendance/",
        views.unknown_attendance,
        name="unknown-attendance",
    ),
]
