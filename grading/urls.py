from grading.views import reports, teacher

urlpatterns = [*teacher.urlpatterns, *reports.urlpatterns]
