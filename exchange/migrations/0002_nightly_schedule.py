"""R28: the nightly exchange schedule (idempotent; catch_up is off in Q_CLUSTER)."""

from django.db import migrations


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="exchange-nightly",
        defaults={
            "func": "exchange.tasks.nightly_exchange",
            "schedule_type": "C",
            "cron": "30 1 * * *",
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="exchange-nightly").delete()


class Migration(migrations.Migration):
    dependencies = [("exchange", "0001_initial"), ("django_q", "0018_task_success_index")]
    operations = [migrations.RunPython(create_schedule, remove_schedule)]
