from django.apps import AppConfig


class SchoolsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "schools"

    def ready(self) -> None:
        from django.core import checks

        from schools import access, rules

        rules.register()
        _register_report_inputs()
        checks.register(access.check_access_table, checks.Tags.models)


def _register_report_inputs() -> None:
    """Issue 13: the rows of these models are read by cached reports (``schools.versions``)."""
    from schools import models, versions

    versions.register_inputs(
        models.School,
        models.Calendar,
        models.Term,
        models.Course,
        models.Section,
        models.Student,
        models.Enrollment,
        models.Roster,
    )
