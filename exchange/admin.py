"""Admin configuration of the exchange (R17, R28, R29, R38)."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from exchange.models import RUN_FIELDS, ExchangeOutcome, ExchangeRun, KtsLink, RunPart, RunTrigger
from schools.admin_scoping import ScopedAdminMixin, ScopedInlineMixin
from schools.admin_writes import ViewOnlyAdminMixin


@admin.register(KtsLink)
class KtsLinkAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["hs_section", "tech_section", "modified_at"]
    raw_id_fields = ["hs_section", "tech_section"]
    search_fields = ["hs_section__course__number", "tech_section__course__number"]
    list_filter = ["tech_section__course__calendar__school_year"]


class RunPartInline(ScopedInlineMixin, admin.TabularInline):
    model = RunPart
    extra = 0
    can_delete = False
    readonly_fields = ["tech_school", "status", "started_at", "finished_at", "counts", "error"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.action(description="Run the exchange now (today; the selection is ignored)")
def run_exchange_now(modeladmin, request, queryset):
    from django.conf import settings

    from exchange.services import exchange_run_request, exchange_run_start

    try:  # R44: one real run at a time
        run = exchange_run_request(
            as_of=timezone.localdate(), dry_run=False, trigger=RunTrigger.ADMIN, by=request.user
        )
    except ValidationError as exc:
        modeladmin.message_user(request, " ".join(exc.messages), messages.ERROR)
        return
    if settings.Q_CLUSTER.get("sync"):
        exchange_run_start(run_id=run.pk, inline=True)
    else:
        from django_q.tasks import async_task

        async_task("exchange.tasks.start_run", run.pk, task_name=f"exchange-run-{run.pk}")
    modeladmin.message_user(request, f"Exchange run {run.pk} queued.", messages.SUCCESS)


@admin.action(description="Cancel the selected queued or running runs")
def cancel_runs(modeladmin, request, queryset):
    """R45: cancel stuck runs from the admin too."""
    from exchange.services import exchange_run_cancel

    done = 0
    for run in queryset.filter(status__in=["queued", "running"]):
        try:
            exchange_run_cancel(run=run, by=request.user)
            done += 1
        except ValidationError:  # finished meanwhile
            pass
    modeladmin.message_user(request, f"{done} run(s) cancelled.", messages.SUCCESS)


@admin.register(ExchangeRun)
class ExchangeRunAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["id", "as_of", "status", "dry_run", "trigger", "started_at", "duration"]
    list_filter = ["status", "dry_run", "trigger"]
    readonly_fields = [*RUN_FIELDS, "outcomes_link"]
    inlines = [RunPartInline]
    actions = [run_exchange_now, cancel_runs]

    def has_add_permission(self, request):
        return False

    @admin.display(description="Outcomes")
    def outcomes_link(self, obj):
        url = reverse("admin:exchange_exchangeoutcome_changelist") + f"?run__id__exact={obj.pk}"
        return format_html(
            '<a href="{}">All outcomes</a> · <a href="{}">Skipped, with the fix</a>',
            url,
            reverse("exchange:run-detail", args=[obj.pk]),
        )

    def get_urls(self):
        return [
            path(
                "readiness/",
                self.admin_site.admin_view(
                    lambda request: redirect(
                        reverse("exchange:readiness") + "?" + request.GET.urlencode()
                    )
                ),
                name="exchange_readiness",
            ),
            *super().get_urls(),
        ]


@admin.register(ExchangeOutcome)
class ExchangeOutcomeAdmin(ViewOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["run", "tech_school", "flow", "action", "reason", "student", "hs_section"]
    list_filter = ["flow", "action", "reason"]
    raw_id_fields = ["run", "student", "hs_section", "tech_school"]
    list_select_related = ["run", "tech_school", "student", "hs_section__course"]
