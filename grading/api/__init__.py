"""grading's API: setup resources, grades, reports and transcripts."""

from grading.api import grades, reports, setup


def register(router) -> None:
    setup.register(router)
    grades.register(router)
    reports.register(router)


urlpatterns = [*setup.urlpatterns, *grades.urlpatterns, *reports.urlpatterns]
