import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('attendance', '0005_redundant_indexes_dropped'),
        ('schools', '0007_redundant_indexes_dropped'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='attendance',
            index=models.Index(fields=['section', 'code', 'date'], name='attendance_section_code_idx'),
        ),
        # The section's own index goes (the new one leads with the column and serves its
        # lookups); the foreign key stays as it is.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='attendance',
                    name='section',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='attendance', to='schools.section'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "attendance_attendance_section_id_ded4af75"',
                    reverse_sql='CREATE INDEX IF NOT EXISTS "attendance_attendance_section_id_ded4af75" ON "attendance_attendance" ("section_id")',
                ),
            ],
        ),
    ]
