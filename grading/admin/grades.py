"""Grades in the admin: read-only, with their history (R14).

Grades are posted on the teacher pages, the API or by the exchange, all through
grading/services/grades.py; the admin only shows them, so no write skips the rules.
"""

from django.contrib import admin

from grading.models import Grade, GradeHistory
from schools.admin_scoping import ScopedAdminMixin, ScopedInlineMixin
from schools.admin_writes import ViewOnlyAdminMixin


class GradeHistoryInline(ViewOnlyAdminMixin, ScopedInlineMixin, admin.TabularInline):
    model = GradeHistory
    extra = 0
    can_delete = False
    fields = [
        "changed_at",
        "changed_by",
        "source",
        "run_id",
        "old_score",
        "old_percent",
        "new_score",
        "new_percent",
        "old_comments",
        "new_comments",
        "reason",
    ]
    readonly_fields = fields


@admin.register(Grade)
class GradeAdmin(ViewOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "student",
        "section",
        "grading_task",
        "term",
        "score",
        "percent",
        "source",
        "modified_at",
    ]
    list_filter = [
        "source",
        "grading_task",
        "term__name",
        ("term__calendar__school", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["student__state_id", "section__course__number"]
    list_select_related = ["student", "section__course", "grading_task", "term__calendar__school"]
    date_hierarchy = "modified_at"
    inlines = [GradeHistoryInline]
    readonly_fields = [
        "student",
        "section",
        "grading_task",
        "term",
        "percent",
        "score",
        "comments",
        "source",
        "posted_by",
        "run_id",
        "source_grade",
        "created_at",
        "modified_at",
    ]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
