"""Attendance codes and records (R25-R27)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from schools.errors import field_error
from schools.models import School, Section, Student, TimeStampedModel, comments_limit

ATTENDANCE_COMMENTS_MAX = 500  # R44: characters; the page's maxlength says the same


class Status(models.TextChoices):
    PRESENT = "present", "Present"
    ABSENT = "absent", "Absent"
    TARDY = "tardy", "Tardy"
    EARLY_RELEASE = "early_release", "Early release"


class Excuse(models.TextChoices):
    EXCUSED = "excused", "Excused"
    UNEXCUSED = "unexcused", "Unexcused"
    EXEMPT = "exempt", "Exempt"
    UNKNOWN = "unknown", "Unknown"


class AttendanceCode(TimeStampedModel):
    """R25: a school's attendance code."""

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="attendance_codes")
    code = models.CharField(max_length=10)
    description = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices)
    excuse = models.CharField(max_length=20, choices=Excuse.choices, blank=True)

    class Meta:
        ordering = ["school", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["school", "code"],
                name="attendance_code_unique_in_school",
                violation_error_message="This school already has this code.",
            ),
            models.CheckConstraint(
                condition=(Q(status="present") & Q(excuse=""))
                | (~Q(status="present") & ~Q(excuse="")),
                name="attendance_code_excuse_matches_status",
                violation_error_code="excuse_status",
                violation_error_message="Leave excuse blank for present; choose one for any other status.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} - {self.description or self.get_status_display()}"

    def clean(self) -> None:
        if self.status == Status.PRESENT and self.excuse:
            raise field_error(
                "excuse", "Leave excuse blank when the status is present.", code="excuse_status"
            )
        if self.status and self.status != Status.PRESENT and not self.excuse:
            raise field_error("excuse", "Choose an excuse for this status.", code="excuse_status")


class AttendanceSource(models.TextChoices):
    TEACHER = "teacher", "Teacher"
    EXCHANGE = "exchange", "Exchange"
    CLERK = "clerk", "Clerk"
    IMPORT = "import", "Import"


class Attendance(TimeStampedModel):
    """One student's attendance in one section on one day (R25, R27)."""

    # No index of its own: the unique (student, section, date) constraint serves it.
    student = models.ForeignKey(
        Student, on_delete=models.PROTECT, related_name="attendance", db_index=False
    )
    # No index of its own: the (section, code, date) index leads with it.
    section = models.ForeignKey(
        Section, on_delete=models.PROTECT, related_name="attendance", db_index=False
    )
    date = models.DateField()
    code = models.ForeignKey(AttendanceCode, on_delete=models.PROTECT, related_name="records")
    comments = models.TextField(blank=True, validators=[comments_limit(ATTENDANCE_COMMENTS_MAX)])
    source = models.CharField(
        max_length=10, choices=AttendanceSource.choices, default=AttendanceSource.TEACHER
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    run_id = models.BigIntegerField(null=True, blank=True)
    # R27: an HS record copied from a tech record, and when a clerk resolved it.
    source_record = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="copies"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-date", "section", "student"]
        constraints = [
            models.UniqueConstraint(
                fields=["student", "section", "date"], name="attendance_unique_per_day"
            ),
        ]
        indexes = [
            models.Index(fields=["date", "section"]),
            # R26: a school's students over a date range, read from the index alone.
            models.Index(
                fields=["student", "date"],
                include=["section", "code"],
                name="attendance_student_date_idx",
            ),
            # R27: the exchange's copies on a HS section, without reading every copy in the
            # state or every record the HS took itself.
            models.Index(
                fields=["section", "source_record"],
                condition=models.Q(source="exchange"),
                name="attendance_copies_idx",
            ),
            # R27: a tech section's records of a code (the school's unknown ones) before a
            # day, one descent per section and code, read from the index alone: the nightly
            # exchange probes every linked section, and the unknown records of a school year
            # are a small share of its records.
            models.Index(
                fields=["section", "code", "date"],
                name="attendance_section_code_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.student_id}/{self.section_id}/{self.date}: {self.code_id}"


class AttendanceAction(models.TextChoices):
    """R43: what a history row of an attendance record records."""

    CREATE = "create", "Created"
    UPDATE = "update", "Updated"
    RESOLVE = "resolve", "Resolved"


class AttendanceHistory(models.Model):
    """R43 (like R14 for grades): every change of an attendance record - who or which run,
    when, the old and the new code and comments. Written by the attendance services."""

    record = models.ForeignKey(Attendance, on_delete=models.CASCADE, related_name="history")
    changed_at = models.DateTimeField(auto_now_add=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    run_id = models.BigIntegerField(null=True, blank=True)
    action = models.CharField(max_length=10, choices=AttendanceAction.choices)
    source = models.CharField(max_length=10, choices=AttendanceSource.choices)
    old_code = models.ForeignKey(
        AttendanceCode, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    new_code = models.ForeignKey(
        AttendanceCode, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    old_comments = models.TextField(blank=True)
    new_comments = models.TextField(blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name_plural = "attendance history"

    def __str__(self) -> str:
        return f"{self.record_id}: {self.old_code_id} -> {self.new_code_id}"
