"""R47: the grading schedules keep a night-time ``next_run`` (daily at 00:15, weekly on
Monday at 06:00 local time) whatever time the first cluster starts. Idempotent."""

import datetime as dt
import zoneinfo

from django.conf import settings
from django.db import migrations


def _next_local(hour: int, minute: int, weekday: int | None = None) -> dt.datetime:
    tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    now = dt.datetime.now(tz)
    at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    while at <= now or (weekday is not None and at.weekday() != weekday):
        at += dt.timedelta(days=1)
    return at


def set_next_runs(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name="grading-windows-daily").update(next_run=_next_local(0, 15))
    Schedule.objects.filter(name="stale-grades-weekly").update(next_run=_next_local(6, 0, 0))


class Migration(migrations.Migration):
    dependencies = [
        ("grading", "0006_report_card_batch"),
        ("django_q", "0018_task_success_index"),
    ]
    operations = [migrations.RunPython(set_next_runs, migrations.RunPython.noop)]
