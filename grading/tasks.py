"""django-q2 entry points: thin, safe to run twice (R12, R15)."""


def apply_grading_windows() -> dict[str, int]:
    """R12, daily: open today's grading windows and close the ones that have closed."""
    from django.utils import timezone

    from grading.services.grading_windows import grading_window_apply

    return grading_window_apply(today=timezone.localdate())


def email_stale_grade_reminders() -> int:
    """R15, weekly: e-mail each teacher of a tech section without CTE Term Grades this week."""
    from grading.services.stale_grade_reminders import stale_grade_reminders_send

    return stale_grade_reminders_send()


def build_report_card_batch(batch_id: int) -> str:
    """R32, on demand: split one school's batch report card PDF into parts and send them
    (safe to run twice)."""
    from grading.services.report_card_batches import report_card_batch_build

    return report_card_batch_build(batch_id=batch_id)


def build_report_card_part(part_id: int) -> str:
    """R32: render one part of a batch; the last part joins the batch's PDF (safe to run
    twice)."""
    from grading.services.report_card_batches import report_card_part_build

    return report_card_part_build(part_id=part_id)


def report_card_batches_watchdog() -> dict[str, int]:
    """R32, every two minutes: re-queue the parts of killed workers, fail them when their
    attempts are used, send lost tasks again."""
    from grading.services.report_card_batches import report_card_batches_watchdog as watchdog

    return watchdog()
