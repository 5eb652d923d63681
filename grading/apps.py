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
