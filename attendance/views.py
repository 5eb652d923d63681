"""Attendance pages (thin): take attendance (R25), the real-time tech report (R26, R37) and
the clerks' unknown-attendance worklist (R27)."""

import csv
import datetime as dt
from collections import Counter
from collections.abc import Iterator

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from attendance import selectors, services
from attendance.forms import DayForm, TechAttendanceForm
from attendance.models import Attendance, AttendanceCode, Status
from schools import access
from schools.models import Section

TECH_ROWS_PER_PAGE = 200  # rows of the R26 report per page
CSV_CHUNK = 2000  # rows read from the database at a time while the CSV streams


# --- Access (R36): deny by default, 404 outside one's scope ------------------------------
def _own_section_or_404(user, section_id: int) -> Section:
    """A teacher takes attendance in their own sections; the school's admins and attendance
    clerks in any of the school's sections; the state admin anywhere."""
    section = get_object_or_404(
        Section.objects.select_related("course__calendar__school"), pk=section_id
    )
    if access.is_state_admin(user) or section.teachers.filter(pk=user.pk).exists():
        return section
    staff = access.user_school_ids(user, {access.SCHOOL_ADMIN, access.ATTENDANCE_CLERK})
    if section.course.calendar.school_id in staff:
        return section
    raise Http404


def _id(raw: str) -> int | None:
    """A posted id, or None when it is not a whole number (str.isdigit() alone lets "²" by)."""
    return int(raw) if raw.isascii() and raw.isdigit() else None


def _error_text(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


# --- R25: take attendance ---------------------------------------------------------------
def _day_step(day: dt.date, days: int) -> dt.date | None:
    """The day before or after, or None at the ends of the calendar (no 500 on 9999-12-31)."""
    try:
        return day + dt.timedelta(days=days)
    except OverflowError:
        return None


@login_required
def section_attendance(request, section_id: int):
    section = _own_section_or_404(request.user, section_id)
    school = section.course.calendar.school
    form = DayForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return render(
            request,
            "attendance/section_attendance.html",
            {"section": section, "school": school, "form": form, "day": None, "rows": []},
            status=400,
        )
    day = form.day()
    # R25: a future day, a weekend or a day outside every term gets a notice, not the form.
    notice = ""
    try:
        services.validate_attendance_day(section=section, date=day)
    except ValidationError as exc:
        notice = _error_text(exc)
    codes = list(AttendanceCode.objects.filter(school=school).order_by("code"))
    code_by_id = {c.pk: c for c in codes}
    roster = [] if notice else list(selectors.section_roster_on(section=section, date=day))
    existing = {a.student_id: a for a in Attendance.objects.filter(section=section, date=day)}
    row_errors: dict[int, str] = {}
    page_error = ""
    chosen: dict[int, int] = {}
    comments: dict[int, str] = {}

    if request.method == "POST" and not notice:
        # R42 (issue 9, item 6): the same refusal as the API - only the section's teacher
        # and the school's attendance clerks record attendance (not its school admin).
        if not access.may_write_section(request.user, Attendance._meta.label, "bulk", section):
            raise PermissionDenied("Your role may not make this change.")
        present = next((c for c in codes if c.status == Status.PRESENT), None)
        all_present = request.POST.get("action") == "all_present"
        entries = []
        filled = 0
        for r in roster:
            sid = r.student_id
            comments[sid] = request.POST.get(f"comments_{sid}", "").strip()
            raw = request.POST.get(f"code_{sid}", "")
            if _id(raw) is not None:
                chosen[sid] = _id(raw)
            elif all_present and present is not None and sid not in existing:
                # "All present" fills only the students not yet marked: a saved absence
                # stays an absence.
                chosen[sid] = present.pk
                filled += 1
            if sid in chosen:
                entries.append(
                    services.Entry(student=sid, code=chosen[sid], comments=comments[sid])
                )
        if all_present and present is None:
            page_error = "This school has no code with status present; ask an admin to add one."
        elif not entries:
            page_error = "Choose a code for at least one student, or use All present."
        else:
            try:
                saved = services.attendance_record_bulk(
                    section=section, date=day, entries=entries, by=request.user
                )
            except ValidationError as exc:
                for err in exc.error_dict.get("entries", []) if hasattr(exc, "error_dict") else []:
                    sid = (err.params or {}).get("student")
                    if sid is not None:
                        row_errors[sid] = str(err.message).split(": ", 1)[-1]
                if not row_errors:
                    page_error = _error_text(exc)
                else:
                    page_error = "Nothing was saved; fix the students marked below."
            else:
                counts = Counter(code_by_id[a.code_id].get_status_display() for a in saved)
                summary = ", ".join(f"{n} {label.lower()}" for label, n in sorted(counts.items()))
                text = f"Saved attendance for {len(saved)} students on {day}: {summary}."
                if all_present:
                    text += (
                        f" All present marked {filled} students not yet marked as present;"
                        " students already marked kept their codes."
                    )
                messages.success(request, text)
                return redirect(f"{request.path}?date={day.isoformat()}")
    elif request.method == "POST":
        page_error = ""  # the notice says why; nothing is saved on such a day

    rows = []
    for r in roster:
        sid = r.student_id
        record = existing.get(sid)
        rows.append(
            {
                "student": r.student,
                "selected": chosen.get(sid) or (record.code_id if record else None),
                "comments": comments.get(sid, record.comments if record else ""),
                "error": row_errors.get(sid, ""),
                "marked": record is not None,
            }
        )
    return render(
        request,
        "attendance/section_attendance.html",
        {
            "section": section,
            "school": school,
            "day": day,
            "form": form,
            "codes": codes,
            "rows": rows,
            "page_error": page_error,
            "notice": notice,
            "unmarked": sum(1 for row in rows if not row["marked"]),
            "previous_day": _day_step(day, -1),
            "next_day": _day_step(day, 1),
        },
        status=400 if page_error or (notice and request.method == "POST") else 200,
    )


# --- R26: real-time tech attendance report ----------------------------------------------


@login_required
def tech_attendance(request, school_id: int):
    # R42: the report table decides, on the page and the CSV alike (404 for other roles).
    form_name = "csv" if request.GET.get("format") == "csv" else "page"
    school = access.report_school_or_404(request.user, "tech-attendance", form_name, school_id)
    today = timezone.localdate()
    data = request.GET.copy()
    data.setdefault("start", (today - dt.timedelta(days=29)).isoformat())
    data.setdefault("end", today.isoformat())
    form = TechAttendanceForm(data)
    page = None
    if form.is_valid():
        params = form.cleaned_data
        rows = selectors.tech_attendance_report(
            school=school,
            start=params["start"],
            end=params["end"],
            student=params.get("student"),
            status=params.get("status") or None,
            excuse=params.get("excuse") or None,
            with_names=True,
        )
        if request.GET.get("format") == "csv":
            # R37: the whole download is disclosed (summed in the database) before it streams.
            services.disclosure_log_tech_attendance(
                reader_school=school,
                rows=rows.disclosed(),
                user=request.user,
                purpose="Page tech-attendance",
            )
            response = StreamingHttpResponse(_tech_attendance_csv(rows), content_type="text/csv")
            response["Content-Disposition"] = (
                f'attachment; filename="tech-attendance-{school.code}-{params["start"]}-'
                f'{params["end"]}.csv"'
            )
            return response
        page = Paginator(rows, TECH_ROWS_PER_PAGE).get_page(request.GET.get("page"))
        services.disclosure_log_tech_attendance(
            reader_school=school, rows=page, user=request.user, purpose="Page tech-attendance"
        )
    csv_query = request.GET.copy()
    csv_query.pop("page", None)
    page_query = csv_query.copy()
    csv_query["format"] = "csv"
    return render(
        request,
        "attendance/tech_attendance.html",
        {
            "school": school,
            "form": form,
            "page": page,
            "rows": page.object_list if page else [],
            "csv_query": csv_query.urlencode(),
            "page_query": page_query.urlencode(),
        },
        status=200 if form.is_valid() else 400,
    )


class _Echo:
    """A file-like object whose ``write`` hands the line back (csv.writer into a stream)."""

    def write(self, value: str) -> str:
        return value


def _tech_attendance_csv(rows) -> Iterator[str]:
    """The R26 report as CSV lines, read from the database in chunks while it streams."""
    writer = csv.writer(_Echo())
    yield writer.writerow(
        ["state_id", "student", "date", "tech_school", "section", "code", "status", "excuse"]
    )
    for r in rows.iter_rows(chunk_size=CSV_CHUNK):
        yield writer.writerow(
            [
                r["state_id"],
                r["student_name"],
                r["date"].isoformat(),
                r["tech_school_name"],
                r["section_label"],
                r["code_label"],
                r["status"],
                r["excuse"],
            ]
        )


# --- R27: the clerks' worklist ----------------------------------------------------------


@login_required
def unknown_attendance(request, school_id: int):
    school = access.report_school_or_404(request.user, "unknown-attendance", "page", school_id)
    codes = list(AttendanceCode.objects.filter(school=school).order_by("code"))
    code_by_id = {c.pk: c for c in codes}
    error = ""
    if request.method == "POST":
        if not access.may(request.user, "attendance.Attendance", "resolve"):
            raise PermissionDenied("Only attendance clerks resolve unknown attendance.")
        one = request.POST.get("resolve", "")
        try:
            if _id(one) is not None:
                code = code_by_id.get(_id(request.POST.get(f"code_{one}", "")))
                if code is None:
                    raise ValidationError("Choose one of the school's codes.", code="no_code")
                record = get_object_or_404(
                    Attendance, pk=int(one), section__course__calendar__school=school
                )
                services.attendance_resolve(record=record, code=code, by=request.user)
                messages.success(request, f"Resolved 1 record as {code.code}.")
            else:
                ids = [i for i in map(_id, request.POST.getlist("ids")) if i is not None]
                code = code_by_id.get(_id(request.POST.get("bulk_code", "")))
                if not ids:
                    raise ValidationError("Tick at least one record.", code="none_selected")
                if code is None:
                    raise ValidationError("Choose one of the school's codes.", code="no_code")
                n = services.attendance_resolve_bulk(
                    record_ids=ids, code=code, by=request.user, school=school
                )
                messages.success(request, f"Resolved {n} records as {code.code}.")
            return redirect(request.path)
        except ValidationError as exc:
            error = _error_text(exc)
    return render(
        request,
        "attendance/unknown_attendance.html",
        {
            "school": school,
            "records": selectors.unknown_worklist(school=school),
            "codes": codes,
            "error": error,
        },
        status=400 if error else 200,
    )
