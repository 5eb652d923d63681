"""R15: the weekly e-mail to teachers whose tech sections have stale grades."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.conf import settings
from django.contrib.auth.models import User
from django.core import mail
from django.template.loader import render_to_string
from django.utils import timezone

from grading.selectors.stale import StaleSection, stale_sections


def stale_grade_reminders_send(*, as_of: dt.date | None = None) -> int:
    """R15: e-mail each teacher of a stale tech section once, listing their stale sections.

    Teachers without an e-mail address are skipped. Returns the number of e-mails sent.
    Safe to run twice (it only reads and sends).
    """
    as_of = as_of or timezone.localdate()
    by_teacher: dict[int, list[StaleSection]] = defaultdict(list)
    teachers: dict[int, User] = {}
    for item in stale_sections(as_of=as_of):
        for teacher in item.section.teachers.all():
            if teacher.email:
                teachers[teacher.pk] = teacher
                by_teacher[teacher.pk].append(item)
    messages = []
    for teacher_id, items in by_teacher.items():
        teacher = teachers[teacher_id]
        context = {"teacher": teacher, "items": items, "as_of": as_of}
        messages.append(
            mail.EmailMessage(
                subject=render_to_string("grading/email/stale_grades_subject.txt", context).strip(),
                body=render_to_string("grading/email/stale_grades_body.txt", context),
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[teacher.email],
            )
        )
    if not messages:
        return 0
    with mail.get_connection() as connection:
        return connection.send_messages(messages) or 0
