from django.apps import AppConfig


class GradingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "grading"

    def ready(self) -> None:
        from grading import (
            access,
            student_blocks,  # noqa: F401  (registers the student page blocks, R52)
        )

        access.register()
        _register_report_inputs()


def _register_report_inputs() -> None:
    """Issue 13: the rows of these models are read by cached reports (``schools.versions``):
    saving or deleting one through the one write path bumps the ``setup`` version."""
    from grading import models
    from schools import versions

    versions.register_inputs(
        models.ScoreGroup,
        models.ScoreRow,
        models.GradingTask,
        models.CreditType,
        models.CourseGradingTask,
        models.CourseTaskTerm,
        models.HonorRollTier,
        models.Grade,  # deleted through record_delete (admin); writes bump its own version
    )
