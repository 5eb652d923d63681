"""R51: ``manage.py export_oneroster --school CODE PATH`` writes the school's OneRoster 1.2
CSV zip (rostering and gradebook files)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from exchange.oneroster.exporter import export_zip
from schools.models import School


class Command(BaseCommand):
    help = "Export one school as a OneRoster 1.2 CSV zip."

    def add_arguments(self, parser):
        parser.add_argument("path", help="The zip file to write")
        parser.add_argument("--school", required=True, help="The school's code")
        parser.add_argument("--district", help="The district's code (when codes repeat)")

    def handle(self, *args, path, school, district=None, **options):
        schools = School.objects.filter(code=school).select_related("district")
        if district:
            schools = schools.filter(district__code=district)
        found = list(schools[:2])
        if not found:
            raise CommandError(f"No school has code {school!r}.")
        if len(found) > 1:
            raise CommandError(f"Several districts have a school {school!r}; add --district.")
        data = export_zip(found[0])
        Path(path).write_bytes(data)
        self.stdout.write(f"Wrote {path} ({len(data):,} bytes) for {found[0]}.")
