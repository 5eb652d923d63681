"""R32: a report-card batch is rendered in parts, each by its own django-q2 task; the
watchdog schedule re-queues the parts of a killed worker every two minutes. Idempotent."""

import django.db.models.deletion
from django.db import migrations, models


def create_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name="report-card-batches-watchdog",
        defaults={
            "func": "grading.tasks.report_card_batches_watchdog",
            "schedule_type": "I",
            "minutes": 2,
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(
        name="report-card-batches-watchdog"
    ).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('grading', '0009_district_owned_rows_and_transcript_action_choices'),
        ('django_q', '0018_task_success_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='ReportCardBatchPart',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('seq', models.PositiveIntegerField()),
                ('student_ids', models.JSONField(default=list)),
                ('status', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('done', 'Done'), ('failed', 'Failed')], default='queued', max_length=10)),
                ('attempts', models.PositiveSmallIntegerField(default=0)),
                ('error', models.TextField(blank=True)),
                ('pdf', models.BinaryField(blank=True, null=True)),
                ('queued_at', models.DateTimeField(blank=True, null=True)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('batch', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='parts', to='grading.reportcardbatch')),
            ],
            options={
                'ordering': ['batch', 'seq'],
                'constraints': [models.UniqueConstraint(fields=('batch', 'seq'), name='report_card_part_seq_unique')],
            },
        ),
        migrations.RunPython(create_schedule, remove_schedule),
    ]
