"""Score groups, grading tasks, course tasks, windows, grades, honor roll, transcripts.

R4-R16, R30-R35. Model-level rules live in ``clean()`` and constraints; rules that span
several rows (term mask, score-group rows, Term GPA on one task) are checked by the setup
services in ``grading/services`` that every write path calls.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from schools.errors import field_error
from schools.models import Course, School, Section, Student, Term, TimeStampedModel, comments_limit

GRADE_COMMENTS_MAX = 1000  # R44: characters, enforced by full_clean (API, pages, admin alike)

CTE_TERM = "CTE_TERM"
CTE_FINAL = "CTE_FINAL"
CTE_EXAM = "CTE_EXAM"
CTE_CODES = (CTE_TERM, CTE_FINAL, CTE_EXAM)
CTE_NUMERIC = "CTE Numeric"

PERCENT_VALIDATORS = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]


class DistrictOwnedModel(TimeStampedModel):
    """R4: a setup row owned by a district, or by the state when ``district`` is null (the
    state's rows are read-only for everyone but superusers). Score groups, grading tasks and
    credit types share it, and one save service: ``grading.services.district_rows``."""

    name = models.CharField(max_length=100)
    district = models.ForeignKey(
        "schools.District", null=True, blank=True, on_delete=models.PROTECT
    )

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_state(self) -> bool:
        return self.district_id is None


class ScoreGroup(DistrictOwnedModel):
    """R5: an ordered list of rows. ``district`` null = the state's (read-only)."""

    class Meta(DistrictOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["district", "name"],
                name="score_group_name_unique",
                nulls_distinct=False,
                violation_error_message="A score group with this name already exists here.",
            )
        ]

    def __str__(self) -> str:
        return self.name if self.district_id else f"{self.name} (state)"

    @property
    def is_cte_numeric(self) -> bool:
        return self.is_state and self.name == CTE_NUMERIC


class ScoreRow(models.Model):
    group = models.ForeignKey(ScoreGroup, on_delete=models.CASCADE, related_name="rows")
    score = models.CharField(max_length=20)
    min_percent = models.DecimalField(max_digits=5, decimal_places=2, validators=PERCENT_VALIDATORS)
    passing = models.BooleanField(default=True)
    gpa_value = models.DecimalField(
        max_digits=4,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )

    class Meta:
        ordering = ["group", "-min_percent"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "min_percent"],
                name="score_row_min_percent_unique",
                violation_error_message="Give each row a different Min %.",
            ),
            models.UniqueConstraint(
                fields=["group", "score"],
                name="score_row_score_unique",
                violation_error_message="Give each row a different score.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.score} ({self.min_percent}%)"


class GradingTask(DistrictOwnedModel):
    """A grading task; the state's three CTE tasks have ``is_cte`` (R4)."""

    code = models.CharField(max_length=30, blank=True)
    is_cte = models.BooleanField(default=False, editable=False)

    class Meta(DistrictOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["code"],
                condition=~Q(code=""),
                name="grading_task_code_unique",
                violation_error_message="A grading task with this code already exists.",
            )
        ]


class CreditType(DistrictOwnedModel):
    class Meta(DistrictOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["district", "name"],
                name="credit_type_name_unique",
                nulls_distinct=False,
                violation_error_message="A credit type with this name already exists here.",
            )
        ]


class CourseGradingTask(TimeStampedModel):
    """A grading task set up on one course (R6-R11).

    Term mask = the terms with a :class:`CourseTaskTerm` row; active mask = those rows
    with ``active``. One active term per course task is a database constraint (R11).
    """

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="course_tasks")
    grading_task = models.ForeignKey(
        GradingTask, on_delete=models.PROTECT, related_name="course_tasks"
    )
    score_group = models.ForeignKey(
        ScoreGroup, on_delete=models.PROTECT, related_name="course_tasks"
    )
    term_gpa_weight = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    credit = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    credit_type = models.ForeignKey(
        CreditType, null=True, blank=True, on_delete=models.PROTECT, related_name="course_tasks"
    )
    terms = models.ManyToManyField(Term, through="CourseTaskTerm", related_name="course_tasks")

    class Meta:
        ordering = ["course", "grading_task__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "grading_task"],
                name="course_task_once_per_course",
                violation_error_code="task_twice_on_course",
                violation_error_message="This task is already set up on this course.",
            ),
            models.CheckConstraint(
                condition=Q(term_gpa_weight__isnull=True) | Q(term_gpa_weight__gte=0),
                name="term_gpa_weight_not_negative",
                violation_error_message="Term GPA weight cannot be negative.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.grading_task} on {self.course}"


class CourseTaskTerm(models.Model):
    """One term of a course task's term mask; ``active`` = in the active mask (R11)."""

    course_task = models.ForeignKey(
        CourseGradingTask, on_delete=models.CASCADE, related_name="mask"
    )
    term = models.ForeignKey(Term, on_delete=models.CASCADE, related_name="+")
    active = models.BooleanField(default=False)

    class Meta:
        ordering = ["course_task", "term__seq"]
        constraints = [
            models.UniqueConstraint(fields=["course_task", "term"], name="course_task_term_unique"),
            models.UniqueConstraint(
                fields=["course_task"],
                condition=Q(active=True),
                name="one_active_term_per_course_task",
                violation_error_code="two_active_terms",
                violation_error_message="Mark only one term active for this task.",
            ),
        ]


class GradingWindow(TimeStampedModel):
    """R12: while open, ``term`` is the only active term of ``grading_tasks`` at ``school``."""

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="grading_windows")
    term = models.ForeignKey(Term, on_delete=models.CASCADE, related_name="grading_windows")
    grading_tasks = models.ManyToManyField(GradingTask, related_name="grading_windows")
    opens_on = models.DateField()
    closes_on = models.DateField()
    applied_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-opens_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(opens_on__lte=models.F("closes_on")),
                name="grading_window_dates_in_order",
                violation_error_code="dates_out_of_order",
                violation_error_message="The window must open on or before it closes.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.school} {self.term.name} {self.opens_on}-{self.closes_on}"

    def clean(self) -> None:
        if self.opens_on and self.closes_on and self.opens_on > self.closes_on:
            raise field_error(
                "closes_on",
                "Set the closing date on or after the opening date.",
                code="dates_out_of_order",
            )
        if self.term_id and self.school_id and self.term.calendar.school_id != self.school_id:
            raise field_error(
                "term", "Choose a term of this school's calendar.", code="term_of_other_school"
            )


class GradeSource(models.TextChoices):
    TEACHER = "teacher", "Teacher"
    EXCHANGE = "exchange", "Exchange"
    IMPORT = "import", "Import"


class Grade(TimeStampedModel):
    """A posted grade: (student, section, task, term) is unique. R13-R16, R19-R24."""

    # No index of their own: the unique (student, ...) constraint and the (term, section)
    # index serve lookups by student and by term, and every write maintains fewer indexes.
    student = models.ForeignKey(
        Student, on_delete=models.PROTECT, related_name="grades", db_index=False
    )
    section = models.ForeignKey(Section, on_delete=models.PROTECT, related_name="grades")
    grading_task = models.ForeignKey(GradingTask, on_delete=models.PROTECT, related_name="grades")
    term = models.ForeignKey(Term, on_delete=models.PROTECT, related_name="grades", db_index=False)
    percent = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, validators=PERCENT_VALIDATORS
    )
    score = models.CharField(max_length=20, blank=True)
    comments = models.TextField(blank=True, validators=[comments_limit(GRADE_COMMENTS_MAX)])
    source = models.CharField(
        max_length=10, choices=GradeSource.choices, default=GradeSource.TEACHER
    )
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The exchange run that last wrote this grade (no FK: grading does not import exchange).
    run_id = models.BigIntegerField(null=True, blank=True)
    # The tech grade this HS grade was copied from (R19), for readiness and review.
    source_grade = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="copies"
    )

    class Meta:
        ordering = ["section", "student", "grading_task", "term"]
        constraints = [
            models.UniqueConstraint(
                fields=["student", "section", "grading_task", "term"],
                name="grade_unique_per_task_term",
            ),
            models.CheckConstraint(
                condition=Q(percent__isnull=True) | (Q(percent__gte=0) & Q(percent__lte=100)),
                name="grade_percent_in_range",
                violation_error_code="percent_out_of_range",
                violation_error_message="Enter a percent from 0 to 100.",
            ),
        ]
        indexes = [
            models.Index(fields=["term", "section"]),
        ]  # modified_at has its own index (TimeStampedModel)

    def __str__(self) -> str:
        return f"{self.student_id}/{self.section_id}/{self.grading_task_id}/{self.term_id}: {self.score}"


class GradeHistory(models.Model):
    """R14: every change of a grade - who or which run, when, old and new value, why."""

    grade = models.ForeignKey(Grade, on_delete=models.CASCADE, related_name="history")
    changed_at = models.DateTimeField(auto_now_add=True)
    changed_by = models.ForeignKey(  # indexed where set: see Meta.indexes
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    source = models.CharField(max_length=10, choices=GradeSource.choices)
    run_id = models.BigIntegerField(null=True, blank=True)
    old_score = models.CharField(max_length=20, blank=True)
    old_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    new_score = models.CharField(max_length=20, blank=True)
    new_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    reason = models.TextField(blank=True)
    # R43: a change of the comments alone is a change too (old and new value kept).
    old_comments = models.TextField(blank=True)
    new_comments = models.TextField(blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name_plural = "grade history"
        indexes = [
            # Reasons are rare; the exchange looks them up for the grades it writes (R16).
            models.Index(
                fields=["grade"], condition=~Q(reason=""), name="grade_history_reason_idx"
            ),
            # Only a person's change has an author: the exchange's and the imports' tens of
            # thousands of rows a night have none, and a plain index would hold an entry for
            # each of them. Deleting a user still finds their changes through this one.
            models.Index(
                fields=["changed_by"],
                condition=Q(changed_by__isnull=False),
                name="grade_history_changed_by_idx",
            ),
        ]


class HonorRollTier(TimeStampedModel):
    """R31: a tier of a HS's honor roll."""

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="honor_roll_tiers")
    name = models.CharField(max_length=100)
    min_gpa = models.DecimalField(
        max_digits=4, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    min_percent = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, validators=PERCENT_VALIDATORS
    )

    class Meta:
        ordering = ["school", "-min_gpa"]
        constraints = [
            models.UniqueConstraint(
                fields=["school", "name"],
                name="honor_roll_tier_name_unique",
                violation_error_message="This school already has a tier with this name.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.min_gpa})"


class TranscriptLine(TimeStampedModel):
    """R34: a final grade posted to a student's transcript by the HS registrar."""

    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="transcript_lines")
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="transcript_lines")
    school_year = models.PositiveIntegerField()
    source_grade = models.ForeignKey(
        Grade, null=True, blank=True, on_delete=models.SET_NULL, related_name="transcript_lines"
    )
    course_number = models.CharField(max_length=30)
    course_name = models.CharField(max_length=200)
    state_code = models.CharField(max_length=30, blank=True)
    score = models.CharField(max_length=20, blank=True)
    percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    credits_attempted = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0"))
    credits_earned = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0"))
    credit_type = models.CharField(max_length=100, blank=True)
    gpa_value = models.DecimalField(max_digits=4, decimal_places=2, null=True, blank=True)
    gpa_weight = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    needs_review = models.BooleanField(default=False)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["student", "school_year", "course_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["student", "school", "school_year", "course_number"],
                name="transcript_line_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.student_id} {self.school_year} {self.course_number} {self.score}"


class TranscriptLineAction(models.TextChoices):
    """R34: what happened to a transcript line."""

    POSTED = "posted", "Posted"
    UPDATED = "updated", "Updated"
    ACCEPTED = "accepted", "New value accepted"
    KEPT = "kept", "Posted value kept"


class TranscriptLineHistory(models.Model):
    """R34: the registrar's decisions on a line whose final grade changed after posting."""

    line = models.ForeignKey(TranscriptLine, on_delete=models.CASCADE, related_name="history")
    changed_at = models.DateTimeField(auto_now_add=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=20, choices=TranscriptLineAction.choices)
    old_score = models.CharField(max_length=20, blank=True)
    old_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    new_score = models.CharField(max_length=20, blank=True)
    new_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]


class ReportCardBatch(models.Model):
    """R32: one school's report cards for a term as one PDF, built by a django-q2 task.

    The page shows ``done`` of ``total`` while it runs and a download link when it is done.
    The PDF is kept in the row (a few MB for a large school) so no shared file storage is
    needed between the web servers and the cluster.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="+")
    term = models.ForeignKey(Term, on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    pdf = models.BinaryField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Report cards {self.school} {self.term.name} ({self.status})"


class ReportCardBatchPart(models.Model):
    """R32: one part of a batch: the report cards of ``student_ids`` (a slice of the batch's
    students, in its order), rendered by its own django-q2 task into its own PDF.

    A part is claimed by a conditional update (queued -> running) under a process-bound lock,
    so a task delivered twice renders once and the watchdog knows a dead worker's part; the
    parts' PDFs are joined in ``seq`` order into the batch's PDF and then dropped.
    """

    batch = models.ForeignKey(ReportCardBatch, on_delete=models.CASCADE, related_name="parts")
    seq = models.PositiveIntegerField()
    student_ids = models.JSONField(default=list)
    status = models.CharField(
        max_length=10,
        choices=ReportCardBatch.Status.choices,
        default=ReportCardBatch.Status.QUEUED,
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    pdf = models.BinaryField(null=True, blank=True, editable=False)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["batch", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "seq"], name="report_card_part_seq_unique")
        ]

    def __str__(self) -> str:
        return f"Report card batch {self.batch_id} part {self.seq} ({self.status})"


class IdempotencyKey(models.Model):
    """R49: a write answered under a client's ``Idempotency-Key``: the same key with the same
    body gets this answer again (nothing written); with another body, a clear error."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    body_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"
