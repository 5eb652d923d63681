"""R22: the input journal - PostgreSQL triggers on every table the watermarked flows read
record, per statement, the tech schools whose inputs it touched (see ``InputChange``).

The grades and rosters are journaled by section: the section's own tech school and the tech
schools whose sections are linked to it. Every other input table (links, sections, courses,
calendars, schools, terms, grading tasks, course tasks, term masks, score rows) is set-up
that changes rarely: a statement on it journals every tech school (``NULL``). ``grades_only``
marks what only the grade flow reads. Other databases keep no journal (nor a watermark)."""

from django.db import migrations, models

JOURNAL_ALL = """
CREATE OR REPLACE FUNCTION exchange_input_changed_all() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO exchange_inputchange (tech_school_id, grades_only, xact, created_at)
    VALUES (NULL, TG_ARGV[0]::boolean, pg_current_xact_id()::text::bigint, clock_timestamp());
    RETURN NULL;
END $$;
"""

JOURNAL_BY_SECTION = """
CREATE OR REPLACE FUNCTION exchange_input_changed_by_section() RETURNS trigger
LANGUAGE plpgsql
-- one plan kept for the session: planning the look-up (about 1 ms) cost five times running it
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    sections bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT section_id) INTO sections FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT section_id) INTO sections FROM old_rows;
    ELSE
        SELECT array_agg(DISTINCT section_id) INTO sections
        FROM (SELECT section_id FROM old_rows UNION ALL SELECT section_id FROM new_rows) c;
    END IF;
    IF sections IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO exchange_inputchange (tech_school_id, grades_only, xact, created_at)
    SELECT tech.school_id, TG_ARGV[0]::boolean, pg_current_xact_id()::text::bigint,
           clock_timestamp()
    FROM (
        SELECT cal.school_id FROM schools_section s
        JOIN schools_course c ON c.id = s.course_id
        JOIN schools_calendar cal ON cal.id = c.calendar_id
        WHERE s.id = ANY(sections)
        UNION
        SELECT cal.school_id FROM exchange_ktslink l
        JOIN schools_section s ON s.id = l.tech_section_id
        JOIN schools_course c ON c.id = s.course_id
        JOIN schools_calendar cal ON cal.id = c.calendar_id
        WHERE l.hs_section_id = ANY(sections)
    ) tech
    JOIN schools_school sch ON sch.id = tech.school_id AND sch.kind = 'technical_school';
    RETURN NULL;
END $$;
"""

# table -> whether only the grade flow reads it
BY_SECTION = {"grading_grade": True, "schools_roster": False}
SETUP = {
    "grading_gradingtask": True,
    "grading_coursegradingtask": True,
    "grading_coursetaskterm": True,
    "grading_scorerow": True,
    "schools_term": True,
    "exchange_ktslink": False,
    "schools_section": False,
    "schools_course": False,
    "schools_calendar": False,
    "schools_school": False,
}


def _statements():
    yield JOURNAL_ALL
    yield JOURNAL_BY_SECTION
    for table, only in BY_SECTION.items():
        arg = "'true'" if only else "'false'"
        for event, referencing in (
            ("INSERT", "NEW TABLE AS new_rows"),
            ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("DELETE", "OLD TABLE AS old_rows"),
        ):
            yield (
                f"CREATE TRIGGER exchange_input_{event.lower()} AFTER {event} ON {table}"
                f" REFERENCING {referencing} FOR EACH STATEMENT"
                f" EXECUTE FUNCTION exchange_input_changed_by_section({arg})"
            )
        yield (
            f"CREATE TRIGGER exchange_input_truncate AFTER TRUNCATE ON {table}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION exchange_input_changed_all({arg})"
        )
    for table, only in SETUP.items():
        arg = "'true'" if only else "'false'"
        yield (
            f"CREATE TRIGGER exchange_input_all AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
            f" ON {table} FOR EACH STATEMENT EXECUTE FUNCTION exchange_input_changed_all({arg})"
        )


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in _statements():
            schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in BY_SECTION:
        for event in ("insert", "update", "delete", "truncate"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS exchange_input_{event} ON {table}")
    for table in SETUP:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS exchange_input_all ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS exchange_input_changed_by_section()")
    schema_editor.execute("DROP FUNCTION IF EXISTS exchange_input_changed_all()")


class Migration(migrations.Migration):
    dependencies = [
        ("exchange", "0010_outcome_keys_unindexed"),
        ("grading", "0012_history_author_index"),
        ("schools", "0007_redundant_indexes_dropped"),
    ]

    operations = [
        migrations.AddField(
            model_name="flowwatermark",
            name="snapshot",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.AddField(
            model_name="flowwatermark",
            name="xact",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name="InputChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("tech_school_id", models.BigIntegerField(null=True)),
                ("grades_only", models.BooleanField()),
                ("xact", models.BigIntegerField()),
                ("created_at", models.DateTimeField()),
            ],
            options={
                "indexes": [
                    models.Index(fields=["tech_school_id", "xact"], name="input_change_idx")
                ],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
