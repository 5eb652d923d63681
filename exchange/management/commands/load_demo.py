"""``python manage.py load_demo``: load the demo districts, schools, people and grades.

Idempotent: a second run finds every row by its natural key and changes nothing.
"""

import time

from django.core.management.base import BaseCommand

from exchange.demo import DEMO_PASSWORD, demo_load

BAR_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Load the demo data (a Kentucky Tech System district with two technical schools, a "
        "county with three high schools, about 200 students). Safe to run again."
    )

    def handle(self, *args, **options) -> None:
        started = time.monotonic()
        tty = self.stdout.isatty()

        def progress(done: int, total: int, label: str) -> None:
            filled = BAR_WIDTH * done // total
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            line = f"[{bar}] {100 * done // total:3d}%  {label}"
            if tty:
                # Redraw the one line in place on a terminal.
                self.stdout.write(f"\r{line:<70}", ending="\n" if done == total else "")
                self.stdout.flush()
            else:
                self.stdout.write(line)

        result = demo_load(progress=progress)
        self.stdout.write(
            self.style.SUCCESS(f"Demo data ready in {time.monotonic() - started:.1f} s.")
        )
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password for every one: {DEMO_PASSWORD})")
        width_user = max(len(login.username) for login in result.logins)
        width_role = max(len(login.role) for login in result.logins)
        for login in result.logins:
            self.stdout.write(
                f"  {login.username:<{width_user}}  {login.role:<{width_role}}  {login.school}"
            )
