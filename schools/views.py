"""The home page: links to the pages each user may use (R36 roles), built by path."""

from dataclasses import dataclass, field

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from schools import access
from schools.models import Role, School, SchoolKind, Section, StaffRole


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
    }


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "schools/home.html", home_links(request.user))
