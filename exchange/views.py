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
from exchange.models import ExchangeRun, RunStatus, RunTrigger
from schools import access
from schools.access import is_state_admin, may, scope_queryset
from schools.models import School


def _signed_in(view):
    """Anonymous users go to the login page (then the view decides, by role)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapped


def runs_required(view):
    """R42: the runs pages ask the access table exactly as the API does (who reads exchange
    runs: district and state admins); ``is_staff`` grants nothing. Others get 403."""

    @_signed_in
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not access.may_read(request.user, ExchangeRun._meta.label):
            raise PermissionDenied("The exchange pages are for district and state admins.")
        return view(request, *args, **kwargs)

    return wrapped


@runs_required
def dashboard(request):
    runs = selectors.runs_for_dashboard()
    chart = [
        {
            "id": r.pk,
            "label": str(r.as_of),
            "dry_run": r.dry_run,
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
            "may_run": may_run_for_real(request.user),
            "following": next(
                (r.pk for r in runs if r.status in (RunStatus.QUEUED, RunStatus.RUNNING)), None
            ),
            "flows": ["enrollments", "grades", "attendance"],
            "may_cancel": _may_cancel(request.user),
        },
    )


def may_run_for_real(user) -> bool:
    """A real run on demand is the state's and the district admins' (R28, R36)."""
    return access.is_state_admin(user) or access.may(user, "exchange.ExchangeRun", "create")


@runs_required
@require_POST
def run_now(request):
    """Start a run for today from the dashboard: a dry run (R39) by default, a real run
    (state and district admins, after ticking the confirmation) with ``dry_run=0``."""
    if not access.may(request.user, ExchangeRun._meta.label, "create"):
        raise PermissionDenied("Your role may not start exchange runs.")
    dry_run = request.POST.get("dry_run", "1") != "0"
    if not dry_run:
        if not may_run_for_real(request.user):
            raise PermissionDenied("Only state and district admins start a real run.")
        if request.POST.get("confirm") != "yes":
            messages.error(
                request,
                "Tick the confirmation to start a real run: it writes enrollments, grades "
                "and attendance at the high schools.",
            )
            return redirect("exchange:dashboard")
    try:
        # R44: the same refusals as the API (one real run at a time).
        run = services.exchange_run_request(
            as_of=timezone.localdate(), dry_run=dry_run, trigger=RunTrigger.PAGE, by=request.user
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("exchange:dashboard")
    if settings.Q_CLUSTER.get("sync"):
        run = services.exchange_run_start(run_id=run.pk, inline=True)
    else:
        from django_q.tasks import async_task

        async_task("exchange.tasks.start_run", run.pk, task_name=f"exchange-run-{run.pk}")
    kind = "Dry run" if dry_run else "Run"
    messages.success(request, f"{kind} {run.pk} started ({run.status}).")
    return redirect("exchange:dashboard")


def _may_cancel(user) -> bool:
    """R45: state and district admins cancel runs (the role that may start one)."""
    return is_state_admin(user) or may(user, "exchange.ExchangeRun", "create")


@runs_required
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


@runs_required
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


@_signed_in
def readiness(request):
    """R38/R42: a school's readiness report, for its school admin, the district's admins and
    the state admin (the same table as ``GET reports/readiness/``)."""
    school_ids = access.report_school_ids(request.user, "readiness", "page")
    if not school_ids:
        raise PermissionDenied("The readiness report is for school and district admins.")
    school_id = request.GET.get("school", "")
    school = None
    report = []
    if school_id.isascii() and school_id.isdigit():
        school = access.report_school_or_404(request.user, "readiness", "page", school_id)
        report = selectors.readiness_report(school=school)
    return render(
        request,
        "exchange/readiness.html",
        {
            "school": school,
            "report": report,
            "schools": School.objects.filter(pk__in=school_ids).order_by("name"),
        },
    )
