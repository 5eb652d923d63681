"""R28: ``manage.py run_exchange [--as-of YYYY-MM-DD] [--dry-run] [--full]`` in the
foreground. ``--full`` forgets every stored watermark first (R22), so that the run reads and
decides every record - after data was written with PostgreSQL's triggers off, which the
input journal cannot see."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from exchange.flows import watermark
from exchange.models import RunStatus, RunTrigger
from exchange.services import exchange_run

BAR = 30


class Command(BaseCommand):
    help = "Run the KTS exchange now, in the foreground (one part per technical school)."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=dt.date.fromisoformat, help="YYYY-MM-DD (today)")
        parser.add_argument(
            "--dry-run", action="store_true", help="Compute every outcome; write only the run."
        )
        parser.add_argument(
            "--full",
            action="store_true",
            help="Forget every stored watermark first: read and decide every record.",
        )

    def handle(self, *args, as_of=None, dry_run=False, full=False, **options):
        as_of = as_of or timezone.localdate()
        if full and dry_run:
            raise CommandError("--full forgets the stored watermarks; a dry run writes nothing.")
        if full:
            forgotten = watermark.forget_all()
            self.stdout.write(f"Forgot {forgotten} stored watermark(s).")

        def progress(done: int, total: int, part) -> None:
            filled = BAR * done // total
            self.stdout.write(
                f"\r[{'#' * filled}{'.' * (BAR - filled)}] {done}/{total} tech schools"
                f" (school {part.tech_school_id}: {part.status})",
                ending="\n" if done == total else "",
            )
            self.stdout.flush()

        run = exchange_run(
            as_of=as_of, dry_run=dry_run, trigger=RunTrigger.COMMAND, inline=True, progress=progress
        )
        self.stdout.write(
            f"Run {run.pk} as of {run.as_of}{' (dry run)' if run.dry_run else ''}: {run.status}"
        )
        actions = sorted({a for counts in run.counts.values() for a in counts})
        if actions:
            self.stdout.write(f"{'flow':<12}" + "".join(f"{a:>11}" for a in actions))
            for flow, counts in run.counts.items():
                self.stdout.write(
                    f"{flow:<12}" + "".join(f"{counts.get(a, 0):>11}" for a in actions)
                )
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"The exchange run failed: {run.error or run.status}")
