"""Admin for organisations, calendars and people (R1-R3, R36). Configuration only: the
ModelForms run ``full_clean()``, the same validation as the services and the API."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from schools.admin_scoping import ScopedAdminMixin, ScopedInlineMixin
from schools.models import (
    Calendar,
    Course,
    District,
    Enrollment,
    Roster,
    School,
    Section,
    StaffRole,
    Student,
    Term,
)


@admin.register(District)
class DistrictAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "code"]
    search_fields = ["name", "code"]


@admin.register(School)
class SchoolAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "code", "district", "kind", "unknown_attendance_sync", "readiness"]
    list_filter = ["district", "kind", "unknown_attendance_sync"]
    list_select_related = ["district"]
    search_fields = ["name", "code"]
    readonly_fields = ["readiness"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and not request.user.is_superuser:
            fields += ["district", "kind"]  # R41: the state admin's decision
        return fields

    @admin.display(description="Exchange readiness (R38)")
    def readiness(self, obj):
        # By URL: the readiness report lives in the exchange app, which schools never imports.
        if obj is None or obj.pk is None:
            return "—"
        return format_html(
            '<a href="/exchange/readiness/?school={}">What would skip tonight</a>', obj.pk
        )


class TermInline(ScopedInlineMixin, admin.TabularInline):
    model = Term
    extra = 0
    fields = ["seq", "name", "start_date", "end_date"]


@admin.register(Calendar)
class CalendarAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "school", "school_year", "start_date", "end_date"]
    list_filter = ["school_year", "school__district", "school"]
    list_select_related = ["school"]
    search_fields = ["name", "school__name"]
    autocomplete_fields = ["school"]
    inlines = [TermInline]


@admin.register(Term)
class TermAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "seq", "calendar", "start_date", "end_date"]
    list_filter = ["calendar__school_year", "calendar__school__district", "calendar__school"]
    list_select_related = ["calendar__school"]
    search_fields = ["name", "calendar__name", "calendar__school__name"]
    autocomplete_fields = ["calendar"]


@admin.register(Course)
class CourseAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["number", "name", "calendar", "state_code", "is_kts"]
    list_filter = [
        "is_kts",
        "calendar__school_year",
        "calendar__school__district",
        "calendar__school",
    ]
    list_select_related = ["calendar__school"]
    search_fields = ["number", "name", "state_code"]
    autocomplete_fields = ["calendar"]


class SectionForm(forms.ModelForm):
    """R41: the teachers hold a teacher role at the section's school (same coded error as
    the API and the services)."""

    def clean(self):
        cleaned = super().clean()
        course = cleaned.get("course")
        if course is not None and "teachers" in cleaned:
            try:
                self.instance.clean_teachers(cleaned["teachers"], course=course)
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned


@admin.register(Section)
class SectionAdmin(ScopedAdminMixin, admin.ModelAdmin):
    form = SectionForm
    list_display = ["__str__", "course", "number"]
    list_filter = [
        "course__is_kts",
        "course__calendar__school_year",
        "course__calendar__school__district",
        "course__calendar__school",
    ]
    list_select_related = ["course__calendar__school"]
    search_fields = ["number", "course__number", "course__name"]
    autocomplete_fields = ["course", "teachers"]


@admin.register(Student)
class StudentAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["state_id", "last_name", "first_name", "birth_date"]
    search_fields = ["state_id", "last_name", "first_name"]


@admin.register(Enrollment)
class EnrollmentAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["student", "calendar", "service_type", "grade_level", "start_date", "end_date"]
    list_filter = [
        "service_type",
        "school_year",
        "calendar__school__district",
        "calendar__school",
    ]
    list_select_related = ["student", "calendar__school"]
    search_fields = ["student__state_id", "student__last_name", "student__first_name"]
    autocomplete_fields = ["student", "calendar"]


@admin.register(Roster)
class RosterAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["student", "section", "start_date", "end_date"]
    list_filter = [
        "section__course__calendar__school_year",
        "section__course__calendar__school__district",
        "section__course__calendar__school",
    ]
    list_select_related = ["student", "section__course"]
    search_fields = ["student__state_id", "student__last_name", "section__course__number"]
    autocomplete_fields = ["student", "section"]


@admin.register(StaffRole)
class StaffRoleAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["user", "role", "district", "school"]
    list_filter = ["role", "district", "school"]
    list_select_related = ["user", "district", "school"]
    search_fields = ["user__username", "user__email"]
    autocomplete_fields = ["user", "school"]


from schools import admin_access  # noqa: E402,F401  (R36/R37: tokens, disclosure log, audit)
