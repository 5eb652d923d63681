"""Forms of the attendance pages (thin: the services validate)."""

import datetime as dt

from django import forms
from django.utils import timezone

from attendance.models import Excuse, Status


class DayForm(forms.Form):
    date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def day(self) -> dt.date:
        if self.is_valid() and self.cleaned_data.get("date"):
            return self.cleaned_data["date"]
        return timezone.localdate()


class TechAttendanceForm(forms.Form):
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    student = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    status = forms.ChoiceField(choices=[("", "Any status"), *Status.choices], required=False)
    excuse = forms.ChoiceField(choices=[("", "Any excuse"), *Excuse.choices], required=False)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", "Choose an end date on or after the start date.")
        elif data.get("start") and data.get("end") and (data["end"] - data["start"]).days > 366:
            self.add_error("end", "Ask for at most one year at a time.")
        return data
