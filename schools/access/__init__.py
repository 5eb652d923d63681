"""Who may see and change what (R36, R41, R42, R43). Every API view, page, download and admin
screen goes through here; one access table answers them all.

The package, by concern:

* ``registry``: the table. Each app declares its models' rules (``declare``) and its reports
  (``register_report``) next to its models and registers them from ``AppConfig.ready()``;
  a system check resolves every declared ORM path.
* ``roles``: the roles and a user's grants (read once per request); the state admin.
* ``scoping``: ``scope_queryset`` (reads: out of scope is not found, 404), ``can_write`` /
  ``may`` (the role-action table), ``lands_in_write_scope`` (a row before it is saved).
* ``choices``: ``fk_queryset`` (what a write may point at; R41: ``managed_users`` for staff
  accounts, ``teacher_choices`` for a section's teachers).
* ``drf``: ``IsScopedUser``, the API's default permission class.
* ``pages``: the same answers for pages, CSV/PDF downloads and the admin site
  (``report_school_or_404``, ``require_school_role``, ``admin_site_allowed``).
* ``disclosure``: the FERPA disclosure log of HS staff reading tech records (R37, R43).

Every name is importable from ``schools.access`` itself.
"""

from schools.access.choices import fk_queryset, managed_users, teacher_choices, user_fk_queryset
from schools.access.disclosure import (
    SCHOOL_HINT,
    _reader_schools,
    log_cross_school_reads,
    log_disclosure,
)
from schools.access.drf import _ACTION_NAMES, IsScopedUser, view_action, view_label
from schools.access.pages import (
    admin_site_allowed,
    may_read_report,
    report_access_or_404,
    report_school_ids,
    report_school_or_404,
    report_scope_first,
    require_school_role,
    scoped_get_or_404,
)
from schools.access.registry import (
    REGISTRY,
    REPORTS,
    SCHOOL,
    SECTION_SCHOOL,
    WRITES,
    Report,
    Rule,
    _label,
    _model,
    check_access_table,
    declare,
    register_report,
    resolve_path,
)
from schools.access.roles import (
    ADMINS,
    ALL_ROLES,
    ATTENDANCE_CLERK,
    ATTENDANCE_READERS,
    DISTRICT_ADMIN,
    GRADE_READERS,
    REGISTRAR,
    REGISTRAR_ROLES,
    SCHOOL_ADMIN,
    SCHOOL_ROLES,
    SETUP,
    SETUP_READERS,
    TEACHER,
    Grants,
    grants_for,
    is_state_admin,
    shared_scope_key,
    user_school_ids,
)
from schools.access.scoping import (
    _cross_school_q,
    _district_q,
    _has_school,
    _managed_user_ids,
    _p,
    _role_q,
    _school_q,
    _teacher_q,
    can_write,
    lands_in_write_scope,
    may,
    may_read,
    may_write_section,
    read_q,
    school_id_of,
    scope_queryset,
    write_q,
)

__all__ = [
    "SCHOOL_HINT",
    "ADMINS",
    "ALL_ROLES",
    "ATTENDANCE_CLERK",
    "ATTENDANCE_READERS",
    "DISTRICT_ADMIN",
    "GRADE_READERS",
    "REGISTRAR",
    "REGISTRAR_ROLES",
    "REGISTRY",
    "REPORTS",
    "SCHOOL",
    "SCHOOL_ADMIN",
    "SCHOOL_ROLES",
    "SECTION_SCHOOL",
    "SETUP",
    "SETUP_READERS",
    "TEACHER",
    "WRITES",
    "_ACTION_NAMES",
    "Grants",
    "IsScopedUser",
    "Report",
    "Rule",
    "_cross_school_q",
    "_district_q",
    "_has_school",
    "_label",
    "_managed_user_ids",
    "_model",
    "_p",
    "_reader_schools",
    "_role_q",
    "_school_q",
    "_teacher_q",
    "admin_site_allowed",
    "can_write",
    "check_access_table",
    "declare",
    "fk_queryset",
    "grants_for",
    "is_state_admin",
    "lands_in_write_scope",
    "log_cross_school_reads",
    "log_disclosure",
    "managed_users",
    "may",
    "may_read",
    "may_read_report",
    "may_write_section",
    "read_q",
    "register_report",
    "report_school_ids",
    "report_access_or_404",
    "report_school_or_404",
    "report_scope_first",
    "require_school_role",
    "resolve_path",
    "scope_queryset",
    "shared_scope_key",
    "school_id_of",
    "scoped_get_or_404",
    "teacher_choices",
    "user_fk_queryset",
    "user_school_ids",
    "view_action",
    "view_label",
    "write_q",
]
