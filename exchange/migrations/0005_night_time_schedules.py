"""R46, R47: the exchange's schedules keep night-time ``next_run`` values, whatever time the
first cluster starts (a schedule created without one runs ~30 s after that start and then
repeats at that time of day), and the watchdog re-queues lost parts every two minutes.
Idempotent (update_or_create)."""

import datetime as dt
import zoneinfo

from django.conf import settings
from django.db import migrations


def _next_local(hour: int, minute: int) -> dt.datetime:
    tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    now = dt.datetime.now(tz)
    at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return at if at > now else at + dt.timedelta(days=1)


def create_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="exchange-nightly",
        defaults={
            "func": "exchange.tasks.nightly_exchange",
            "schedule_type": "C",
            "cron": "30 1 * * *",
            "repeats": -1,
            "next_run": _next_local(1, 30),
        },
    )
    Schedule.objects.update_or_create(
        name="exchange-watchdog",
        defaults={
            "func": "exchange.tasks.watchdog",
            "schedule_type": "I",
            "minutes": 2,
            "repeats": -1,
        },
    )


def remove_schedules(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="exchange-watchdog").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("exchange", "0004_run_process_lock_and_part_claims"),
        ("django_q", "0018_task_success_index"),
    ]
    operations = [migrations.RunPython(create_schedules, remove_schedules)]
