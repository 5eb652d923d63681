"""Pages of the exchange: runs dashboard, a run's skipped outcomes, readiness (R28, R29, R38).
Thin: reads come from ``exchange.selectors``, writes from ``exchange.services``."""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from exchange import selectors, services
from exchange.flows.grades import FIX
from exchange.models import ExchangeRun
from schools.access import is_state_admin, may, scope_queryset
from schools.models import School


def _staff(user) -> bool:
    return user.is_active and (user.is_staff or user.is_superuser)


def staff_required(view):
    """Anonymous users go to the login page; a signed-in user without access gets 403."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not _staff(request.user):
            raise PermissionDenied("The exchange pages are for district and state staff.")
        return view(request, *args, **kwargs)

    return wrapped


@staff_required
def dashboard(request):
    runs = selectors.runs_for_dashboard()
    chart = [
        {
            "id": r.pk,
            "label": str(r.as_of),
            "counts": {
                a: sum(c.get(a, 0) for c in (r.counts or {}).values())
                for a in ("added", "updated", "skipped", "ended")
            },
        }
        for r in reversed(runs)
    ]
    return render(
        request,
        "exchange/dashboard.html",
        {
            "runs": runs,
            "chart": chart,
            "flows": ["enrollments", "grades", "attendance"],
            "may_cancel": _may_cancel(request.user),
        },
    )


@staff_required
@require_POST
def run_now(request):
    """A dry run for today (R39), started from the dashboard."""
    run = services.exchange_run_create(
        as_of=timezone.localdate(), dry_run=True, trigger="page", by=request.user
    )
    if settings.Q_CLUSTER.get("sync"):
        run = services.exchange_run_start(run_id=run.pk, inline=True)
    else:
        from django_q.tasks import async_task

        async_task("exchange.tasks.start_run", run.pk, task_name=f"exchange-run-{run.pk}")
    messages.success(request, f"Dry run {run.pk} started ({run.status}).")
    return redirect("exchange:dashboard")


def _may_cancel(user) -> bool:
    """R45: state and district admins cancel runs (the role that may start one)."""
    return is_state_admin(user) or may(user, "exchange.ExchangeRun", "create")


@staff_required
@require_POST
def cancel_run(request, pk: int):
    """R45: cancel a queued or stuck run from the dashboard."""
    if not _may_cancel(request.user):
        raise PermissionDenied("Only state and district admins cancel exchange runs.")
    run = get_object_or_404(scope_queryset(request.user, ExchangeRun.objects.all()), pk=pk)
    try:
        services.exchange_run_cancel(run=run, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Run {run.pk} cancelled.")
    return redirect("exchange:dashboard")


@staff_required
def run_detail(request, pk: int):
    run = get_object_or_404(ExchangeRun, pk=pk)
    outcomes = [
        {"o": o, "fix": FIX.get(o.reason, o.message)}
        for o in selectors.skipped_outcomes(run=run)[:1000]
    ]
    return render(
        request,
        "exchange/run_detail.html",
        {"run": run, "outcomes": outcomes, "parts": run.parts.select_related("tech_school")},
    )


@staff_required
def readiness(request):
    school_id = request.GET.get("school", "")
    school = None
    report = []
    if school_id.isascii() and school_id.isdigit():
        school = get_object_or_404(School, pk=school_id)
        report = selectors.readiness_report(school=school)
    return render(
        request,
        "exchange/readiness.html",
        {"school": school, "report": report, "schools": School.objects.order_by("name")},
    )
