import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('schools', '0006_data_versions'),
    ]

    operations = [
        # Only the field's own index goes (the unique constraint or a composite index
        # leading with the column serves its lookups); the foreign key stays as it is.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='roster',
                    name='section',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='rosters', to='schools.section'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "schools_roster_section_id_e781f004"',
                    reverse_sql='CREATE INDEX IF NOT EXISTS "schools_roster_section_id_e781f004" ON "schools_roster" ("section_id")',
                ),
            ],
        ),
        # Only the field's own index goes (the unique constraint or a composite index
        # leading with the column serves its lookups); the foreign key stays as it is.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='roster',
                    name='student',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='rosters', to='schools.student'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "schools_roster_student_id_664dd811"',
                    reverse_sql='CREATE INDEX IF NOT EXISTS "schools_roster_student_id_664dd811" ON "schools_roster" ("student_id")',
                ),
            ],
        ),
    ]
