"""Organisations, calendars and people (SPEC R1-R3, R36).

Validation lives here (``clean()`` and constraints); every write goes through a service that
calls ``full_clean()`` so the admin, the API, the pages and the exchange give the same answer.
"""

import datetime as dt

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Q
from django.utils.deconstruct import deconstructible

from schools.error_codes import SchoolsErrorCode
from schools.errors import coded_error


@deconstructible
class CommentsLimit(MaxLengthValidator):
    """R44: a comment's length limit, checked by ``full_clean`` so every write path (API,
    pages, admin, imports) refuses an over-long comment the same way."""

    code = SchoolsErrorCode.COMMENTS_TOO_LONG
    message = "Keep comments to %(limit_value)d characters or fewer (this one has %(show_value)d)."


def comments_limit(limit: int) -> CommentsLimit:
    return CommentsLimit(limit)


def sourced_id_field() -> models.CharField:
    """R50: the OneRoster sourcedId a row was imported from (null when entered by hand)."""
    return models.CharField(max_length=255, null=True, blank=True, editable=False)


def sourced_id_unique(model: str, *scope: str) -> models.UniqueConstraint:
    """R50: a sourcedId names one ``model`` row (within ``scope``: its parent)."""
    return models.UniqueConstraint(
        fields=["sourced_id", *scope],
        condition=Q(sourced_id__isnull=False),
        name=f"{model}_sourced_id_unique",
        violation_error_message=f"Another {model} was imported with this sourcedId.",
    )


def dates_in_order(model: str, condition: Q | None = None) -> models.CheckConstraint:
    """R2: the row starts on or before its end date (``condition``: the default Q, or one
    that also lets an open end through)."""
    return models.CheckConstraint(
        condition=condition or Q(start_date__lte=models.F("end_date")),
        name=f"{model}_dates_in_order",
        violation_error_code="dates_out_of_order",
        violation_error_message=f"The {model} must start on or before its end date.",
    )


def check_dates_in_order(start: dt.date | None, end: dt.date | None) -> None:
    """R2: the end date is not before the start date (``full_clean``'s side of
    :func:`dates_in_order`, shown next to the end date)."""
    if start and end and start > end:
        raise coded_error(
            {"end_date": "Set the end date on or after the start date."},
            code="dates_out_of_order",
        )


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        abstract = True


class District(TimeStampedModel):
    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)
    sourced_id = sourced_id_field()

    class Meta:
        ordering = ["name"]
        constraints = [
            sourced_id_unique("district"),
        ]

    def __str__(self) -> str:
        return self.name


class SchoolKind(models.TextChoices):
    HIGH_SCHOOL = "high_school", "High school"
    TECHNICAL_SCHOOL = "technical_school", "Technical school"


class School(TimeStampedModel):
    """R1: a school belongs to a district and has a kind."""

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="schools")
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=SchoolKind.choices)
    # R27: the optional unknown-attendance sync, off by default.
    unknown_attendance_sync = models.BooleanField(default=False)
    sourced_id = sourced_id_field()
    # R32: printed under the school's name on official report cards.
    address = models.TextField(blank=True, max_length=500)

    class Meta:
        ordering = ["name"]
        constraints = [
            sourced_id_unique("school", "district"),
            models.UniqueConstraint(
                fields=["district", "code"],
                name="school_code_unique_in_district",
                violation_error_message="This district already has a school with this code.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_technical(self) -> bool:
        return self.kind == SchoolKind.TECHNICAL_SCHOOL


class Calendar(TimeStampedModel):
    """R2: one calendar per school and school year (the year it ends)."""

    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="calendars")
    school_year = models.PositiveIntegerField(help_text="The year the school year ends, e.g. 2027.")
    name = models.CharField(max_length=200)
    start_date = models.DateField()
    end_date = models.DateField()
    sourced_id = sourced_id_field()

    class Meta:
        ordering = ["-school_year", "school__name"]
        constraints = [
            sourced_id_unique("calendar", "school"),
            models.UniqueConstraint(
                fields=["school", "school_year"],
                name="one_calendar_per_school_year",
                violation_error_message="This school already has a calendar for this school year.",
            ),
            dates_in_order("calendar"),
        ]

    def __str__(self) -> str:
        return f"{self.school} {self.school_year - 1}-{str(self.school_year)[-2:]}"

    def clean(self) -> None:
        check_dates_in_order(self.start_date, self.end_date)
        if self.school_year and self.end_date and self.end_date.year != self.school_year:
            raise coded_error(
                {
                    "school_year": "School year is the year the calendar ends; it must match the end date."
                },
                code="school_year_mismatch",
            )


class Term(TimeStampedModel):
    """R2: terms have no overlap, lie inside the calendar, and sequence order = date order."""

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="terms")
    name = models.CharField(max_length=50)
    seq = models.PositiveSmallIntegerField()
    start_date = models.DateField()
    end_date = models.DateField()
    sourced_id = sourced_id_field()

    class Meta:
        ordering = ["calendar", "seq"]
        constraints = [
            sourced_id_unique("term", "calendar"),
            models.UniqueConstraint(
                fields=["calendar", "seq"],
                name="term_seq_unique_in_calendar",
                violation_error_message="This calendar already has a term with this sequence.",
            ),
            models.UniqueConstraint(
                fields=["calendar", "name"],
                name="term_name_unique_in_calendar",
                violation_error_message="This calendar already has a term with this name.",
            ),
            dates_in_order("term"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.calendar})"

    def contains(self, other: "Term") -> bool:
        """R19: ``other`` lies within this term."""
        return self.start_date <= other.start_date and other.end_date <= self.end_date

    def clean(self) -> None:
        if not (self.start_date and self.end_date and self.calendar_id):
            return
        check_dates_in_order(self.start_date, self.end_date)
        cal = self.calendar
        if self.start_date < cal.start_date or self.end_date > cal.end_date:
            raise coded_error(
                f"Keep the term inside its calendar ({cal.start_date} to {cal.end_date}).",
                code="term_outside_calendar",
            )
        others = Term.objects.filter(calendar_id=self.calendar_id).exclude(pk=self.pk)
        overlap = others.filter(
            start_date__lte=self.end_date, end_date__gte=self.start_date
        ).first()
        if overlap:
            raise coded_error(
                f"Change the dates: they overlap {overlap.name} ({overlap.start_date} to "
                f"{overlap.end_date}).",
                code="terms_overlap",
            )
        if self.seq is not None:
            misordered = others.filter(
                Q(seq__lt=self.seq, start_date__gt=self.start_date)
                | Q(seq__gt=self.seq, start_date__lt=self.start_date)
            ).first()
            if misordered:
                raise coded_error(
                    {
                        "seq": f"Number terms in date order: {misordered.name} (sequence "
                        f"{misordered.seq}) starts {misordered.start_date}."
                    },
                    code="term_seq_out_of_order",
                )


class Course(TimeStampedModel):
    calendar = models.ForeignKey(Calendar, on_delete=models.PROTECT, related_name="courses")
    number = models.CharField(max_length=30)
    name = models.CharField(max_length=200)
    state_code = models.CharField(max_length=30, blank=True)
    is_kts = models.BooleanField(default=False, help_text="Takes part in the KTS data exchange.")
    sourced_id = sourced_id_field()

    class Meta:
        ordering = ["calendar", "number"]
        constraints = [
            sourced_id_unique("course", "calendar"),
            models.UniqueConstraint(
                fields=["calendar", "number"],
                name="course_number_unique_in_calendar",
                violation_error_message="This calendar already has a course with this number.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"

    @property
    def school(self) -> School:
        return self.calendar.school


class Section(TimeStampedModel):
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="sections")
    number = models.CharField(max_length=30)
    teachers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="sections")
    sourced_id = sourced_id_field()

    class Meta:
        ordering = ["course", "number"]
        constraints = [
            sourced_id_unique("section", "course"),
            models.UniqueConstraint(
                fields=["course", "number"],
                name="section_number_unique_in_course",
                violation_error_message="This course already has a section with this number.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.course.number}-{self.number} {self.course.name}"

    def clean_teachers(self, teachers=None, *, course=None) -> None:
        """R41: every teacher of a section holds a teacher role at the section's school.

        The admin form, the API and the services call this with the teachers about to be
        set (default: the saved ones) - many-to-many values are not there in ``clean()``."""
        course = course or (self.course if self.course_id else None)
        if course is None:
            return
        if teachers is None:
            teachers = self.teachers.all() if self.pk else []
        ids = {getattr(t, "pk", t) for t in teachers}
        if not ids:
            return
        allowed = set(
            StaffRole.objects.filter(
                role=Role.TEACHER, school_id=course.calendar.school_id, user_id__in=ids
            ).values_list("user_id", flat=True)
        )
        if ids - allowed:
            raise coded_error(
                {
                    "teachers": "Choose teachers who hold a teacher role at this section's "
                    "school; give the person that role first."
                },
                code="teacher_not_at_school",
            )


class Student(TimeStampedModel):
    """R3: identified statewide by ``state_id``."""

    state_id = models.CharField(max_length=20, unique=True)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    birth_date = models.DateField(null=True, blank=True)
    sourced_id = sourced_id_field()

    class Meta:
        ordering = ["last_name", "first_name"]
        # Students are matched on state_id (R3); the sourcedId is kept for export and look-ups.
        indexes = [models.Index(fields=["sourced_id"], name="student_sourced_id_idx")]

    def __str__(self) -> str:
        return f"{self.last_name}, {self.first_name} ({self.state_id})"


class ServiceType(models.TextChoices):
    PRIMARY = "primary", "Primary"
    SECONDARY = "secondary", "Secondary"


class Enrollment(TimeStampedModel):
    """R3: at most one primary enrollment per school year; secondary ones at tech schools."""

    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="enrollments")
    calendar = models.ForeignKey(Calendar, on_delete=models.PROTECT, related_name="enrollments")
    # Copied from the calendar so the database can hold R3's one-primary rule.
    school_year = models.PositiveIntegerField(editable=False)
    service_type = models.CharField(max_length=10, choices=ServiceType.choices)
    grade_level = models.CharField(max_length=4, blank=True)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    sourced_id = sourced_id_field()

    class Meta:
        ordering = ["student", "calendar"]
        constraints = [
            sourced_id_unique("enrollment", "calendar"),
            models.UniqueConstraint(
                fields=["student", "school_year"],
                condition=Q(service_type="primary"),
                name="one_primary_enrollment_per_year",
                violation_error_code="second_primary_enrollment",
                violation_error_message="The student already has a primary enrollment this school year.",
            ),
            models.UniqueConstraint(
                fields=["student", "calendar"],
                name="one_enrollment_per_calendar",
                violation_error_message="The student is already enrolled in this calendar.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.student} @ {self.calendar} ({self.service_type})"

    def save(self, *args, **kwargs):
        # Derived copy of the calendar's year, not a side effect.
        if self.calendar_id:
            self.school_year = self.calendar.school_year
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.calendar_id:
            self.school_year = self.calendar.school_year
        check_dates_in_order(self.start_date, self.end_date)
        if not (self.calendar_id and self.student_id and self.service_type):
            return
        school = self.calendar.school
        if self.service_type == ServiceType.PRIMARY and school.is_technical:
            raise coded_error(
                {
                    "service_type": "Enroll at a technical school as secondary; the primary "
                    "enrollment belongs to the home high school."
                },
                code="primary_at_tech_school",
            )
        if self.service_type == ServiceType.PRIMARY:
            clash = (
                Enrollment.objects.filter(
                    student_id=self.student_id,
                    school_year=self.calendar.school_year,
                    service_type=ServiceType.PRIMARY,
                )
                .exclude(pk=self.pk)
                .select_related("calendar__school")
                .first()
            )
            if clash:
                raise coded_error(
                    {
                        "service_type": f"The student already has a primary enrollment at "
                        f"{clash.calendar.school} this school year; make this one secondary."
                    },
                    code="second_primary_enrollment",
                )


class Roster(TimeStampedModel):
    """A student in a section from ``start_date`` to ``end_date`` (open-ended when null)."""

    # No index of their own: the unique (student, section, start) constraint and the
    # (section, student) index serve lookups by either.
    student = models.ForeignKey(
        Student, on_delete=models.PROTECT, related_name="rosters", db_index=False
    )
    section = models.ForeignKey(
        Section, on_delete=models.PROTECT, related_name="rosters", db_index=False
    )
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    sourced_id = sourced_id_field()

    class Meta:
        ordering = ["section", "student"]
        constraints = [
            sourced_id_unique("roster", "section"),
            models.UniqueConstraint(
                fields=["student", "section", "start_date"],
                name="roster_unique_start",
                violation_error_message="The student is already rostered in this section from this date.",
            ),
            # R48: a student holds at most one open roster per section.
            models.UniqueConstraint(
                fields=["student", "section"],
                condition=Q(end_date__isnull=True),
                name="roster_one_open_per_section",
                violation_error_code="roster_already_open",
                violation_error_message="The student already has an open roster in this "
                "section; end it before adding another.",
            ),
            dates_in_order(
                "roster",
                Q(end_date__isnull=True) | Q(start_date__lte=models.F("end_date")),
            ),
        ]
        indexes = [models.Index(fields=["section", "student"])]

    def __str__(self) -> str:
        return f"{self.student} in {self.section}"

    def clean(self) -> None:
        check_dates_in_order(self.start_date, self.end_date)
        if not (self.student_id and self.section_id and self.start_date):
            return
        calendar = self.section.course.calendar
        if not (calendar.start_date <= self.start_date <= calendar.end_date):
            raise coded_error(
                {
                    "start_date": f"Start the roster inside the calendar ({calendar.start_date} to "
                    f"{calendar.end_date})."
                },
                code="roster_outside_calendar",
            )
        if not Enrollment.objects.filter(student_id=self.student_id, calendar=calendar).exists():
            raise coded_error(
                {
                    "student": f"Enroll the student at {calendar.school} for {calendar.school_year} "
                    "before rostering them."
                },
                code="student_not_enrolled",
            )
        overlapping = (
            Roster.objects.filter(student_id=self.student_id, section_id=self.section_id)
            .exclude(pk=self.pk)
            .filter(Q(end_date__isnull=True) | Q(end_date__gte=self.start_date))
        )
        if self.end_date:
            overlapping = overlapping.filter(start_date__lte=self.end_date)
        if overlapping.exists():
            raise coded_error(
                "The student is already rostered in this section for these dates; end that "
                "roster first.",
                code="roster_overlap",
            )

    def is_active_on(self, day) -> bool:
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)


class Role(models.TextChoices):
    DISTRICT_ADMIN = "district_admin", "District admin"
    SCHOOL_ADMIN = "school_admin", "School admin"
    TEACHER = "teacher", "Teacher"
    ATTENDANCE_CLERK = "attendance_clerk", "Attendance clerk"
    REGISTRAR = "registrar", "Registrar"


class StaffRole(TimeStampedModel):
    """R36: a user's role, scoped to a district (district admin) or a school (the others)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_roles"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    district = models.ForeignKey(
        District, null=True, blank=True, on_delete=models.CASCADE, related_name="staff_roles"
    )
    school = models.ForeignKey(
        School, null=True, blank=True, on_delete=models.CASCADE, related_name="staff_roles"
    )

    class Meta:
        ordering = ["user", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role", "district", "school"],
                name="staff_role_unique",
                violation_error_message="The user already has this role here.",
                nulls_distinct=False,
            ),
            models.CheckConstraint(
                condition=(Q(role="district_admin", district__isnull=False, school__isnull=True))
                | (~Q(role="district_admin") & Q(school__isnull=False, district__isnull=True)),
                name="staff_role_scope_matches_role",
                violation_error_code="role_scope",
                violation_error_message="A district admin needs a district (no school); every other role needs a school (no district).",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} - {self.get_role_display()} @ {self.school or self.district}"

    def clean(self) -> None:
        if self.role == Role.DISTRICT_ADMIN:
            if not self.district_id or self.school_id:
                raise coded_error(
                    {"district": "Choose the district this admin manages, and leave school blank."},
                    code="role_scope",
                )
        elif self.role:
            if not self.school_id or self.district_id:
                raise coded_error(
                    {"school": "Choose the school for this role, and leave district blank."},
                    code="role_scope",
                )


class DisclosureLog(models.Model):
    """R37: each read of another school's records (FERPA 99.32). Internal keys only, no names."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    reader_school = models.ForeignKey(
        School, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_school = models.ForeignKey(
        School, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    resource = models.CharField(max_length=50)
    student_ids = models.JSONField(default=list, help_text="Internal student keys disclosed.")
    record_count = models.PositiveIntegerField(default=0)
    purpose = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at"]


class Tombstone(models.Model):
    """R40: a deleted record, so change feeds (``changed_since``) can report deletions."""

    model = models.CharField(max_length=50, db_index=True)
    object_id = models.BigIntegerField()
    school = models.ForeignKey(School, null=True, on_delete=models.SET_NULL, related_name="+")
    deleted_at = models.DateTimeField(auto_now_add=True, db_index=True)
    deleted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-deleted_at"]


class AuditEntry(models.Model):
    """R37: who changed what through the API. Field names only - no values, no names."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    run_id = models.BigIntegerField(null=True, blank=True)
    action = models.CharField(max_length=30)
    model = models.CharField(max_length=50, db_index=True)
    object_id = models.BigIntegerField(null=True, blank=True)
    school = models.ForeignKey(School, null=True, on_delete=models.SET_NULL, related_name="+")
    changes = models.JSONField(default=list, blank=True, help_text="Names of the fields sent.")

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"


class DataVersion(models.Model):
    """A version of data that cached reports read (``schools/versions.py``, issue 13): the
    writing transaction replaces ``version`` with a new random number, so a cache entry
    stored under an older one is never found again."""

    key = models.CharField(max_length=50, primary_key=True)
    # The school whose grades the key versions (null for ``setup``); a plain number, not a
    # foreign key: a version outlives nothing and must not hold up a school's deletion.
    school_id = models.BigIntegerField(null=True, db_index=True)
    version = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.key} = {self.version}"
