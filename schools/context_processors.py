"""The top navigation: each link only for the users who can use it (R36, R42)."""

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from schools import access
from schools.models import Role, SchoolKind, StaffRole

# A high school's pages by role, in menu order: (label, path under /school/<id>/, roles).
SCHOOL_MENU = [
    ("Tech attendance", "tech-attendance", {Role.SCHOOL_ADMIN, Role.ATTENDANCE_CLERK}),
    ("Unknown attendance", "unknown-attendance", {Role.SCHOOL_ADMIN, Role.ATTENDANCE_CLERK}),
    ("Honor roll", "honor-roll", {Role.SCHOOL_ADMIN, Role.REGISTRAR}),
    ("Eligibility", "eligibility", {Role.SCHOOL_ADMIN, Role.REGISTRAR}),
    ("Transcripts", "transcripts", {Role.SCHOOL_ADMIN, Role.REGISTRAR}),
]


def nav_links_for(user) -> list[tuple[str, str]]:
    """``(label, url)`` of the top-nav links ``user`` may open: every role gets the pages of
    its role (one query). A user with a role at several high schools reaches them from the
    home page; with one high school the menu links straight to that school's pages."""
    if not user.is_authenticated:
        return []
    roles = list(
        StaffRole.objects.filter(user=user).values_list("role", "school_id", "school__kind")
    )
    names = {r for r, _, _ in roles}
    links = []
    if Role.TEACHER in names or user.is_superuser or user.sections.exists():
        links.append(("My sections", "/teacher/"))
    hs_roles: dict[int, set[str]] = {}
    for role, school_id, kind in roles:
        if school_id and kind == SchoolKind.HIGH_SCHOOL and role != Role.TEACHER:
            hs_roles.setdefault(school_id, set()).add(role)
    if len(hs_roles) == 1:
        ((school_id, held),) = hs_roles.items()
        for label, slug, allowed in SCHOOL_MENU:
            if held & allowed:
                links.append((label, f"/school/{school_id}/{slug}/"))
    # R42: by role, as the pages themselves decide; is_staff grants nothing by itself.
    if user.is_superuser or Role.DISTRICT_ADMIN in names:
        links.append(("Exchange", "/exchange/"))
    if user.is_superuser or names & {Role.DISTRICT_ADMIN, Role.SCHOOL_ADMIN}:
        links.append(("Readiness", "/exchange/readiness/"))
    if access.admin_site_allowed(user):
        links.append(("Admin", "/admin/"))
    if user.is_superuser or Role.DISTRICT_ADMIN in names:
        links.append(("API docs", "/api/docs/"))
    return links


def nav(request: HttpRequest) -> dict:
    """Context processor: ``nav_links`` and ``student_search`` (R52: the header's search box
    for every role that may see students) for base.html, computed only when used."""
    from schools.student_page import may_search

    return {
        "nav_links": SimpleLazyObject(lambda: nav_links_for(request.user)),
        "student_search": SimpleLazyObject(lambda: may_search(request.user)),
    }
