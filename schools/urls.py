from django.urls import path

from schools import views

urlpatterns = [
    path("", views.home, name="home"),
    path("students/", views.student_search_page, name="student-search"),
    path("students/<int:pk>/", views.student_page, name="student-page"),
]
