from grading.admin import grades, reports, setup  # noqa: F401  (registers the ModelAdmins)
