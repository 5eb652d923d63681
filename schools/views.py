"""The home page: links to the pages each user may use (R36 roles), built by path."""

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from schools import access
from schools.access import scope_queryset, scoped_get_or_404
from schools.models import (
    Enrollment,
    Role,
    Roster,
    School,
    SchoolKind,
    Section,
    StaffRole,
    Student,
)
from schools.student_page import blocks_for, home_panels_for, may_search, student_search


@dataclass
class Link:
    label: str
    url: str


@dataclass
class LinkGroup:
    title: str
    links: list[Link] = field(default_factory=list)


# Which of a high school's pages each role works in (the pages themselves check access).
SCHOOL_PAGES = [
    ("Tech attendance (real time)", "tech-attendance", {Role.SCHOOL_ADMIN, Role.ATTENDANCE_CLERK}),
    (
        "Unknown attendance worklist",
        "unknown-attendance",
        {Role.SCHOOL_ADMIN, Role.ATTENDANCE_CLERK},
    ),
    ("Honor roll", "honor-roll", {Role.SCHOOL_ADMIN, Role.REGISTRAR}),
    ("Athletic eligibility", "eligibility", {Role.SCHOOL_ADMIN, Role.REGISTRAR}),
    ("Transcript posting", "transcripts", {Role.SCHOOL_ADMIN, Role.REGISTRAR}),
]
ALL_SCHOOL_ROLES = {Role.SCHOOL_ADMIN, Role.ATTENDANCE_CLERK, Role.REGISTRAR}


def school_links(school: School, roles: set[str]) -> LinkGroup:
    group = LinkGroup(title=school.name)
    for label, slug, allowed in SCHOOL_PAGES:
        if roles & allowed:
            group.links.append(Link(label, f"/school/{school.pk}/{slug}/"))
    return group


def home_links(user) -> dict:
    """The home page's content for ``user``: admin tools, their schools, their sections."""
    roles = list(StaffRole.objects.filter(user=user).select_related("school", "district"))
    district_ids = {r.district_id for r in roles if r.role == Role.DISTRICT_ADMIN}
    is_admin = user.is_superuser or bool(district_ids)

    # R42: links by role, as the pages decide; is_staff grants nothing by itself.
    admin = LinkGroup(title="Administration")
    if access.admin_site_allowed(user):
        admin.links.append(Link("Setup (admin site)", "/admin/"))
    if is_admin:
        admin.links.append(Link("Exchange runs", "/exchange/"))
    if access.REPORTS.get("readiness") and access.report_school_ids(user, "readiness", "page"):
        admin.links.append(Link("Exchange readiness", "/exchange/readiness/"))
    if is_admin:
        admin.links.append(Link("Load your district (OneRoster)", "/exchange/imports/"))
        admin.links.append(Link("API documentation", "/api/docs/"))

    # School pages: every HS for a superuser, the district's HSs for a district admin,
    # otherwise the HSs named in the user's school roles.
    school_roles: dict[int, set[str]] = {}
    high_schools = School.objects.filter(kind=SchoolKind.HIGH_SCHOOL).order_by("name")
    if user.is_superuser:
        schools = list(high_schools)
        school_roles = {s.pk: set(ALL_SCHOOL_ROLES) for s in schools}
    else:
        schools = list(high_schools.filter(district_id__in=district_ids))
        school_roles = {s.pk: set(ALL_SCHOOL_ROLES) for s in schools}
        for r in roles:
            if r.school_id and r.school.kind == SchoolKind.HIGH_SCHOOL and r.role != Role.TEACHER:
                if r.school_id not in school_roles:
                    schools.append(r.school)
                school_roles.setdefault(r.school_id, set()).add(r.role)
    school_groups = [school_links(s, school_roles[s.pk]) for s in schools]
    school_groups = [g for g in school_groups if g.links]

    sections = list(
        Section.objects.filter(teachers=user)
        .select_related("course__calendar__school")
        .order_by("course__calendar__school__name", "course__number", "number")
    )
    is_teacher = bool(sections) or any(r.role == Role.TEACHER for r in roles)
    return {
        "admin": admin if admin.links else None,
        "school_groups": school_groups,
        "is_teacher": is_teacher,
        "sections": sections,
        "roles": roles,
        "panels": home_panels_for(user=user),
    }


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "schools/home.html", home_links(request.user))


# --- R52: find a student, the student page -------------------------------------------------


@login_required
def student_search_page(request: HttpRequest) -> HttpResponse:
    """``/students/?q=``: the students the user may see, 25 a page."""
    if not may_search(request.user):
        raise Http404
    query = (request.GET.get("q") or "").strip()[:100]
    results = student_search(user=request.user, query=query)
    page = Paginator(results, 25).get_page(request.GET.get("page"))
    if query and page.paginator.count == 1 and not request.GET.get("page"):
        return redirect("student-page", pk=page.object_list[0].pk)
    return render(
        request,
        "schools/student_search.html",
        {"query": query, "page": page, "q_param": urlencode({"q": query})},
    )


@login_required
def student_page(request: HttpRequest, pk: int) -> HttpResponse:
    """``/students/<id>/``: enrollments, sections, grades, report cards, transcript and
    attendance, each block for the roles of R42; out of scope answers 404 (R36)."""
    student = scoped_get_or_404(request.user, Student.objects.all(), pk=pk)
    enrollments = (
        scope_queryset(request.user, Enrollment.objects.filter(student=student))
        .select_related("calendar__school")
        .order_by("-school_year", "service_type", "calendar__school__name")
        .distinct()
    )
    rosters = (
        scope_queryset(request.user, Roster.objects.filter(student=student))
        .select_related("section__course__calendar__school")
        .prefetch_related("section__teachers")
        .order_by("-section__course__calendar__school_year", "section__course__number")
        .distinct()
    )
    return render(
        request,
        "schools/student.html",
        {
            "student": student,
            "enrollments": list(enrollments),
            "rosters": list(rosters),
            "blocks": blocks_for(user=request.user, student=student),
        },
    )
