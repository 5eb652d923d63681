"""R12 and R15: the daily grading-window job and the weekly stale-grades reminder."""

from django.db import migrations


def create_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="grading-windows-daily",
        defaults={
            "func": "grading.tasks.apply_grading_windows",
            "schedule_type": "D",
            "repeats": -1,
        },
    )
    Schedule.objects.update_or_create(
        name="stale-grades-weekly",
        defaults={
            "func": "grading.tasks.email_stale_grade_reminders",
            "schedule_type": "W",
            "repeats": -1,
        },
    )


def remove_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name__in=["grading-windows-daily", "stale-grades-weekly"]).delete()


class Migration(migrations.Migration):
    dependencies = [("grading", "0002_state_push_down"), ("django_q", "0018_task_success_index")]
    operations = [migrations.RunPython(create_schedules, remove_schedules)]
