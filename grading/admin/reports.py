"""Admin for honor roll tiers and transcript lines (R31, R34): configuration and review."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from grading.models import HonorRollTier, TranscriptLine, TranscriptLineHistory
from grading.services.transcripts import transcript_line_accept, transcript_line_keep
from schools.admin_scoping import ScopedAdminMixin, ScopedInlineMixin


@admin.register(HonorRollTier)
class HonorRollTierAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "school", "min_gpa", "min_percent"]
    list_filter = ["school"]
    search_fields = ["name", "school__name"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "school":
            kwargs["queryset"] = db_field.related_model.objects.filter(kind="high_school")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class TranscriptLineHistoryInline(ScopedInlineMixin, admin.TabularInline):
    model = TranscriptLineHistory
    extra = 0
    can_delete = False
    readonly_fields = [
        "changed_at",
        "changed_by",
        "action",
        "old_score",
        "old_percent",
        "new_score",
        "new_percent",
    ]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TranscriptLine)
class TranscriptLineAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Lines are written only by posting (R34); the admin reviews them."""

    list_display = [
        "student",
        "school",
        "school_year",
        "course_number",
        "course_name",
        "score",
        "percent",
        "credits_earned",
        "needs_review",
    ]
    list_filter = ["needs_review", "school", "school_year"]
    search_fields = ["student__state_id", "student__last_name", "course_number", "course_name"]
    list_select_related = ["student", "school"]
    inlines = [TranscriptLineHistoryInline]
    actions = ["accept_new_value", "keep_posted_value"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def _decide(self, request, queryset, service, done: str) -> None:
        ok = 0
        for line in queryset.filter(needs_review=True):
            try:
                service(line=line, by=request.user)
                ok += 1
            except ValidationError as exc:
                self.message_user(request, f"{line}: {' '.join(exc.messages)}", messages.ERROR)
        self.message_user(request, f"{ok} line(s) {done}.")

    @admin.action(description="Accept the corrected final grade (needs review)")
    def accept_new_value(self, request, queryset):
        self._decide(request, queryset, transcript_line_accept, "updated to the new final grade")

    @admin.action(description="Keep the posted value (needs review)")
    def keep_posted_value(self, request, queryset):
        self._decide(request, queryset, transcript_line_keep, "kept as posted")
