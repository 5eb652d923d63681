"""The OneRoster upload page for district and state admins (R50). Thin."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from exchange.oneroster import services


class UploadForm(forms.Form):
    file = forms.FileField(help_text="A zip of the OneRoster 1.2 CSV files with manifest.csv.")
    dry_run = forms.BooleanField(required=False, initial=True, label="Dry run (write nothing)")


View = Callable[..., HttpResponse]


def importer_required(view: View) -> View:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not services.may_import(request.user):
            raise PermissionDenied("District and state admins import OneRoster sets.")
        return view(request, *args, **kwargs)

    return wrapped


@importer_required
def imports(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        record = services.oneroster_import_upload(
            upload=form.cleaned_data["file"],
            dry_run=form.cleaned_data["dry_run"],
            by=request.user,
        )
        messages.success(request, f"Import {record.pk} is {record.status}.")
        return redirect("exchange:import-detail", pk=record.pk)
    recent = services.imports_visible_to(request.user)[:20]
    return render(request, "exchange/imports.html", {"form": form, "imports": recent})


@importer_required
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    record = get_object_or_404(services.imports_visible_to(request.user), pk=pk)
    return render(
        request,
        "exchange/import_detail.html",
        {"record": record, "actions": services.ACTIONS},
    )
