"""R50: ``manage.py import_oneroster PATH [--dry-run]`` - a OneRoster 1.2 CSV set (zip or
folder) in the foreground; exits non-zero with the report when the set is refused."""

from django.core.management.base import BaseCommand, CommandError

from exchange.models import ImportStatus
from exchange.oneroster.reader import FILES
from exchange.oneroster.services import ACTIONS, oneroster_import_path

BAR = 30


class Command(BaseCommand):
    help = "Import a district's OneRoster 1.2 CSV set (a zip or a folder)."

    def add_arguments(self, parser):
        parser.add_argument("path", help="A zip file or a folder with manifest.csv")
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would change; write nothing."
        )

    def handle(self, *args, path, dry_run=False, **options):
        done = []

        def progress(name: str, rows: int) -> None:
            done.append(name)
            filled = BAR * len(done) // len(FILES)
            self.stdout.write(f"[{'#' * filled}{'.' * (BAR - filled)}] {name}: {rows:,} rows read")
            self.stdout.flush()

        record = oneroster_import_path(path=path, dry_run=dry_run, progress=progress)
        label = " (dry run: nothing written)" if record.dry_run else ""
        self.stdout.write(f"Import {record.pk}{label}: {record.status}")
        if record.counts:
            self.stdout.write(f"{'file':<22}" + "".join(f"{a:>12}" for a in ACTIONS))
            for name, counts in record.counts.items():
                self.stdout.write(
                    f"{name + '.csv':<22}" + "".join(f"{counts.get(a, 0):>12}" for a in ACTIONS)
                )
        for e in record.errors:
            self.stdout.write(
                f"{e['file'] or '-'}:{e['line'] or '-'} {e['sourced_id'] or '-'} "
                f"{e['field'] or '-'}: {e['message']}"
            )
        if record.status != ImportStatus.SUCCEEDED:
            raise CommandError(
                f"The set was refused: {len(record.errors)} problem(s) listed above; nothing "
                "was written."
            )
