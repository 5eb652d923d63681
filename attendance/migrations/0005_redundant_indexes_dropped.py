import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('attendance', '0004_attendance_report_and_copies_indexes'),
        ('schools', '0007_redundant_indexes_dropped'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='attendance',
            name='attendance_modified_idx',
        ),
        # Only the field's own index goes (the unique constraint or a composite index
        # leading with the column serves its lookups); the foreign key stays as it is.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='attendance',
                    name='student',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='attendance', to='schools.student'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "attendance_attendance_student_id_94863613"',
                    reverse_sql='CREATE INDEX IF NOT EXISTS "attendance_attendance_student_id_94863613" ON "attendance_attendance" ("student_id")',
                ),
            ],
        ),
    ]
