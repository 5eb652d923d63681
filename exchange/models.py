"""KTS links and exchange runs (R17-R29, R38, R39)."""

from django.conf import settings
from django.db import models

from schools.errors import coded_error, field_error
from schools.models import School, Section, Student, TimeStampedModel


class KtsLink(TimeStampedModel):
    """R17: a HS section of a KTS course paired with a tech section of a KTS course."""

    hs_section = models.OneToOneField(Section, on_delete=models.CASCADE, related_name="kts_link")
    tech_section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="kts_links_in")

    class Meta:
        ordering = ["tech_section", "hs_section"]
        verbose_name = "KTS link"

    def __str__(self) -> str:
        return f"{self.hs_section} -> {self.tech_section}"

    def clean(self) -> None:
        if not (self.hs_section_id and self.tech_section_id):
            return
        hs_course = self.hs_section.course
        tech_course = self.tech_section.course
        errors = {}
        if hs_course.calendar.school.kind != "high_school":
            errors["hs_section"] = "Choose a section of a high school."
        elif not hs_course.is_kts:
            errors["hs_section"] = f"Mark course {hs_course.number} as a KTS course first."
        if tech_course.calendar.school.kind != "technical_school":
            errors["tech_section"] = "Choose a section of a technical school."
        elif not tech_course.is_kts:
            errors["tech_section"] = f"Mark course {tech_course.number} as a KTS course first."
        if errors:
            raise coded_error(errors, code="kts_link_invalid")
        if hs_course.calendar.school_year != tech_course.calendar.school_year:
            raise field_error(
                "tech_section",
                "Link sections of the same school year.",
                code="school_year_mismatch",
            )


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    ABANDONED = "abandoned", "Abandoned"  # R45: its process died; the next run took over
    CANCELLED = "cancelled", "Cancelled"  # R45: an operator cancelled it


class RunTrigger(models.TextChoices):
    """What started a run (R28): shown on the dashboard; a scheduled run refused by the
    lock is started again (R47)."""

    MANUAL = "manual", "Manual"
    SCHEDULE = "schedule", "Schedule"
    PAGE = "page", "Dashboard page"
    API = "api", "API"
    ADMIN = "admin", "Admin"
    COMMAND = "command", "Command line"
    BENCH = "bench", "Benchmark"
    TEST = "test", "Test"


class ExchangeRun(models.Model):
    """R28/R29: one exchange run with its counts per flow and outcome."""

    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    as_of = models.DateField()
    dry_run = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    trigger = models.CharField(max_length=20, choices=RunTrigger.choices, default=RunTrigger.MANUAL)
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # R45: an inline run (the command, sync mode) lives in one process holding its lock; a
    # cluster run lives in its parts' tasks.
    inline = models.BooleanField(default=False)
    # R47: a scheduled run refused because another run held the lock; started again (once)
    # when that run ends.
    retry_pending = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Run {self.pk} ({self.as_of}, {self.status})"

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class RunPart(models.Model):
    """One technical school's share of a run; committed atomically (R29)."""

    run = models.ForeignKey(ExchangeRun, on_delete=models.CASCADE, related_name="parts")
    tech_school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # R46: claims so far (bounded), when its task was last sent, and when a retry is due.
    attempts = models.PositiveSmallIntegerField(default=0)
    queued_at = models.DateTimeField(null=True, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "tech_school"]
        constraints = [
            models.UniqueConstraint(fields=["run", "tech_school"], name="run_part_unique"),
        ]


class Flow(models.TextChoices):
    ENROLLMENTS = "enrollments", "Enrollments"
    GRADES = "grades", "Grades"
    ATTENDANCE = "attendance", "Attendance"


class Action(models.TextChoices):
    ADDED = "added", "Added"
    UPDATED = "updated", "Updated"
    UNCHANGED = "unchanged", "Unchanged"
    SKIPPED = "skipped", "Skipped"
    ENDED = "ended", "Ended"
    REMOVED = "removed", "Removed"


class Reason(models.TextChoices):
    NOT_ROSTERED = "not_rostered", "Student not rostered in the HS section"
    NO_HS_TASK = "no_hs_task", "HS course lacks this CTE task"
    NO_ACTIVE_TERM = "no_active_term", "HS task has no single active term"
    TERM_OUT_OF_RANGE = "term_out_of_range", "HS active term outside the tech term"
    SCORE_UNTRANSLATABLE = "score_untranslatable", "Percent cannot be translated"
    NO_UNKNOWN_CODE = "no_unknown_code", "HS has no unknown attendance code"
    NO_MATCHING_CODE = "no_matching_code", "HS has no code with the same status and excuse"
    RESOLVED = "resolved", "Already resolved by a clerk"


# What a run shows (the admin's page and the API), after its id: one list for both.
RUN_FIELDS = (
    "status",
    "as_of",
    "dry_run",
    "trigger",
    "requested_by",
    "created_at",
    "started_at",
    "finished_at",
    "counts",
    "error",
)


class ExchangeOutcome(models.Model):
    """R21: one record's outcome in one run. Keys only - no student names (R37).

    A log written tens of thousands of rows a night: its keys are plain columns without
    database foreign-key constraints (checking them at each part's commit cost more than
    writing the rows), and only the run's index - every page and the API read a run's
    outcomes; an index per key more than doubled the cost of writing them (0.79 s against
    0.38 s for 80,000 rows). Deletions still cascade or clear them through the ORM: deleting
    a school, a student or a section, which is rare, scans the log once.
    """

    run = models.ForeignKey(  # indexed by the (run, flow, action) index below
        ExchangeRun,
        on_delete=models.CASCADE,
        related_name="outcomes",
        db_constraint=False,
        db_index=False,
    )
    tech_school = models.ForeignKey(
        School,
        null=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    flow = models.CharField(max_length=12, choices=Flow.choices)
    action = models.CharField(max_length=10, choices=Action.choices)
    reason = models.CharField(max_length=25, choices=Reason.choices, blank=True)
    student = models.ForeignKey(
        Student,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    hs_section = models.ForeignKey(
        Section,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    source_id = models.BigIntegerField(null=True)
    target_id = models.BigIntegerField(null=True)
    message = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["run", "id"]
        indexes = [models.Index(fields=["run", "flow", "action"])]


class FlowWatermark(models.Model):
    """R22: what a flow found for one tech school, and a fingerprint of every row version it
    read to find it (PostgreSQL row ids and ``xmin``). A later run whose fingerprint is the
    same reads the same rows, so it replays the stored outcomes instead of deciding them all
    again; any change to any of those rows - an edit, an insert, a delete - changes the
    fingerprint, and the flow runs in full. It only makes a run faster, never changes it."""

    tech_school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="+")
    flow = models.CharField(max_length=12, choices=Flow.choices)
    school_year = models.PositiveIntegerField()
    fingerprint = models.CharField(max_length=80)
    # The enrollment flow's result holds from this day on; the grade flow's on any day.
    as_of = models.DateField()
    unchanged = models.PositiveIntegerField(default=0)
    outcomes = models.JSONField(default=list, blank=True)  # the outcomes to replay
    # The grade flow's fingerprint taken apart by student, so that a run after a change
    # decides only the students whose rows changed: {"g": [count, sum] of the rows of no
    # student, "s": {student: [count, sum, HS grades it found as they should be]}}.
    # Empty: no parts kept (the enrollment flow, or a watermark stored by older code).
    by_student = models.JSONField(default=dict, blank=True)
    run = models.ForeignKey(
        ExchangeRun, null=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    updated_at = models.DateTimeField(auto_now=True)
    # PostgreSQL: the snapshot the fingerprint was taken in (``pg_snapshot`` text) and the
    # transaction that stored it, so that the input journal (:class:`InputChange`) tells
    # whether any input changed since without taking the fingerprint again. Empty: stored
    # by older code or elsewhere; the fingerprint decides.
    snapshot = models.TextField(blank=True, default="")
    xact = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tech_school", "flow", "school_year"], name="flow_watermark_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.flow} watermark of school {self.tech_school_id} ({self.school_year})"


class InputChange(models.Model):
    """R22: the input journal. PostgreSQL triggers on every table the watermarked flows read
    (``exchange/migrations/0011_input_journal.py``) add a row for each statement that
    writes one: the tech schools whose inputs it touched (a grade or roster by its section:
    the section's own tech school and the tech schools linked to it; ``None``, every school,
    for the setup tables), and the writing transaction. A stored watermark whose snapshot
    saw every journal row of its school since is still exact: the run replays it without
    taking its fingerprint (:mod:`exchange.flows.journal`). Written only by the triggers;
    pruned at each run's start once no watermark needs a row."""

    tech_school_id = models.BigIntegerField(null=True)  # None: every tech school
    # A change only the grade flow reads (grades, tasks, term masks, score rows, terms).
    grades_only = models.BooleanField()
    xact = models.BigIntegerField()  # the writing transaction (PostgreSQL xid8)
    created_at = models.DateTimeField()  # the trigger's clock

    class Meta:
        indexes = [models.Index(fields=["tech_school_id", "xact"], name="input_change_idx")]

    def __str__(self) -> str:
        return f"input change of school {self.tech_school_id or 'all'} by {self.xact}"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    REFUSED = "refused", "Refused"
    FAILED = "failed", "Failed"


class Import(models.Model):
    """R50: one OneRoster CSV import with its counts per file and action, and its errors."""

    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    dry_run = models.BooleanField(default=False)
    file_name = models.CharField(max_length=255, blank=True)
    # The uploaded zip waits here until the task reads it (cleared once read).
    payload = models.BinaryField(null=True, blank=True, editable=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # {"orgs": {"added": n, "updated": n, "ended": n, "unchanged": n}, ...}
    counts = models.JSONField(default=dict, blank=True)
    # [{"file", "line", "sourced_id", "field", "message"}]
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Import {self.pk} ({self.status})"


class SourcedUser(models.Model):
    """R50: a staff user imported from a district's OneRoster ``users.csv`` (sourcedId kept
    per district, like the ``sourced_id`` columns of the schools models)."""

    district = models.ForeignKey("schools.District", on_delete=models.CASCADE, related_name="+")
    sourced_id = models.CharField(max_length=255)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sourced_ids"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["sourced_id", "district"], name="sourced_user_unique_in_district"
            ),
        ]
