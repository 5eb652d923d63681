"""The top navigation: each link only for the users who can use it (R36)."""

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from schools import access
from schools.models import Role, StaffRole


def nav_links_for(user) -> list[tuple[str, str]]:
    """``(label, url)`` of the top-nav links ``user`` may open: teachers their sections,
    state and district admins the exchange, staff the admin site."""
    if not user.is_authenticated:
        return []
    roles = set(StaffRole.objects.filter(user=user).values_list("role", flat=True))
    links = []
    if Role.TEACHER in roles or user.is_superuser or user.sections.exists():
        links.append(("My sections", "/teacher/"))
    # R42: by role, as the pages themselves decide; is_staff grants nothing by itself.
    if user.is_superuser or Role.DISTRICT_ADMIN in roles:
        links.append(("Exchange", "/exchange/"))
    if access.admin_site_allowed(user):
        links.append(("Admin", "/admin/"))
    return links


def nav(request: HttpRequest) -> dict:
    """Context processor: ``nav_links`` for base.html, computed only when a page uses it."""
    return {"nav_links": SimpleLazyObject(lambda: nav_links_for(request.user))}
