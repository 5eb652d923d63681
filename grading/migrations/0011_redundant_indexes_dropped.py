import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('grading', '0010_report_card_batch_parts'),
        ('schools', '0007_redundant_indexes_dropped'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='grade',
            name='grade_modified_idx',
        ),
        # Only the field's own index goes (the unique constraint or a composite index
        # leading with the column serves its lookups); the foreign key stays as it is.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='grade',
                    name='student',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='grades', to='schools.student'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "grading_grade_student_id_737d7784"',
                    reverse_sql='CREATE INDEX IF NOT EXISTS "grading_grade_student_id_737d7784" ON "grading_grade" ("student_id")',
                ),
            ],
        ),
        # Only the field's own index goes (the unique constraint or a composite index
        # leading with the column serves its lookups); the foreign key stays as it is.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='grade',
                    name='term',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='grades', to='schools.term'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "grading_grade_term_id_10962ab2"',
                    reverse_sql='CREATE INDEX IF NOT EXISTS "grading_grade_term_id_10962ab2" ON "grading_grade" ("term_id")',
                ),
            ],
        ),
    ]
