from django.apps import AppConfig


class AttendanceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "attendance"

    def ready(self) -> None:
        from attendance import (
            access,
            student_blocks,  # noqa: F401  (registers the student page blocks, R52)
        )

        access.register()
