from django.apps import AppConfig


class SchoolsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "schools"

    def ready(self) -> None:
        from django.core import checks

        from schools import access, rules

        rules.register()
        checks.register(access.check_access_table, checks.Tags.models)
