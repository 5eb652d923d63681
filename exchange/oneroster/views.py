"""The OneRoster upload page for district and state admins (R50). Thin."""

from __future__ import annotations

from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render

from exchange.oneroster import services


class UploadForm(forms.Form):
    file = forms.FileField(help_text="A zip of the OneRoster 1.2 CSV files with manifest.csv.")
    dry_run = forms.BooleanField(required=False, initial=True, label="Dry run (write nothing)")


def importer_required(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not services.may_import(request.user):
            raise PermissionDenied("District and state admins import OneRoster sets.")
        return view(request, *args, **kwargs)

    return wrapped


@importer_required
def imports(request):
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        record = services.oneroster_import_create(
            payload=upload.read(),
            file_name=upload.name or "",
            dry_run=form.cleaned_data["dry_run"],
            by=request.user,
        )
        record = services.oneroster_import_queue(record)
        messages.success(request, f"Import {record.pk} is {record.status}.")
        return redirect("exchange:import-detail", pk=record.pk)
    recent = services.imports_visible_to(request.user)[:20]
    return render(request, "exchange/imports.html", {"form": form, "imports": recent})


@importer_required
def import_detail(request, pk: int):
    record = get_object_or_404(services.imports_visible_to(request.user), pk=pk)
    return render(
        request,
        "exchange/import_detail.html",
        {"record": record, "actions": services.ACTIONS},
    )
