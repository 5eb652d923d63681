"""Admin configuration for attendance codes and records (R25, R27)."""

from django.contrib import admin

from attendance.models import Attendance, AttendanceCode, AttendanceHistory
from schools.admin_scoping import ScopedAdminMixin, ScopedInlineMixin
from schools.admin_writes import ViewOnlyAdminMixin


class AttendanceHistoryInline(ViewOnlyAdminMixin, ScopedInlineMixin, admin.TabularInline):
    """R43: every change of the record, as grades show theirs (R14). Read-only."""

    model = AttendanceHistory
    fk_name = "record"
    extra = 0
    can_delete = False
    fields = [
        "changed_at",
        "changed_by",
        "action",
        "source",
        "run_id",
        "old_code",
        "new_code",
        "old_comments",
        "new_comments",
    ]
    readonly_fields = fields


@admin.register(AttendanceCode)
class AttendanceCodeAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "description", "school", "status", "excuse"]
    list_filter = ["school", "status", "excuse"]
    search_fields = ["code", "description", "school__name"]
    list_select_related = ["school"]


# Records are taken on the teacher page or the API, which check the day, the roster and the
# code (R25); the admin only shows them.
@admin.register(Attendance)
class AttendanceAdmin(ViewOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["date", "student", "section", "code", "source", "resolved_at"]
    list_filter = ["source", "code__school", "code__excuse", "date"]
    search_fields = ["student__state_id", "code__code"]
    list_select_related = ["student", "section__course", "code"]
    raw_id_fields = ["student", "section", "code", "source_record", "recorded_by", "resolved_by"]
    readonly_fields = ["source", "run_id", "source_record", "resolved_at", "resolved_by"]
    date_hierarchy = "date"
    inlines = [AttendanceHistoryInline]
