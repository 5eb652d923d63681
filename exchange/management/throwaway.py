"""The guard of the benchmark commands that fill a database with generated data."""

from django.core.management.base import CommandError

from schools.models import Student


def require_empty_throwaway(yes: bool, *, example: str = "") -> None:
    """Refuse unless ``--yes`` confirms a throwaway database and it holds no students yet."""
    if not yes:
        named = f" (e.g. {example})" if example else ""
        raise CommandError(
            "This fills the database with generated data. Point DATABASE_URL at a "
            f"throwaway database{named} and pass --yes."
        )
    if Student.objects.exists():
        raise CommandError("The database already holds students; use an empty one.")
