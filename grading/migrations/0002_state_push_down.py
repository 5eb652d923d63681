"""R4: the state's CTE grading tasks and the CTE Numeric score group (idempotent)."""

from decimal import Decimal

from django.db import migrations

CTE_TASKS = [
    ("CTE_TERM", "CTE Term Grade"),
    ("CTE_FINAL", "CTE Final Grade"),
    ("CTE_EXAM", "CTE Final Exam"),
]
CTE_NUMERIC_ROWS = [
    ("A", Decimal("90"), True, Decimal("4")),
    ("B", Decimal("80"), True, Decimal("3")),
    ("C", Decimal("70"), True, Decimal("2")),
    ("D", Decimal("60"), True, Decimal("1")),
    ("F", Decimal("0"), False, Decimal("0")),
]


def push_down(apps, schema_editor):
    GradingTask = apps.get_model("grading", "GradingTask")
    ScoreGroup = apps.get_model("grading", "ScoreGroup")
    ScoreRow = apps.get_model("grading", "ScoreRow")
    for code, name in CTE_TASKS:
        GradingTask.objects.update_or_create(
            code=code, defaults={"name": name, "district": None, "is_cte": True}
        )
    group, _ = ScoreGroup.objects.get_or_create(name="CTE Numeric", district=None)
    for score, min_percent, passing, gpa in CTE_NUMERIC_ROWS:
        ScoreRow.objects.update_or_create(
            group=group, score=score,
            defaults={"min_percent": min_percent, "passing": passing, "gpa_value": gpa},
        )


class Migration(migrations.Migration):
    dependencies = [("grading", "0001_initial")]
    operations = [migrations.RunPython(push_down, migrations.RunPython.noop)]
