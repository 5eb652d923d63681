"""Who may see and change what (R36). Every API view and page goes through here.

One mechanism, three parts:

* ``REGISTRY`` maps each model (``"app_label.ModelName"``, so ``schools`` imports no other
  app) to the ORM path(s) from the model to its School (or District). ``scope_queryset``
  turns a user's staff roles into one filter over those paths. A model that is not in the
  registry gives nothing to anyone but a state admin (deny by default).
* ``WRITES`` is the role-action table: which role may create / update / delete (or run a
  named action such as ``resolve``) on which model, always inside the role's own scope.
* ``IsScopedUser`` (the API's default permission class) applies both: reads are filtered (a
  record outside one's scope is simply not found: 404), a write the role may not do is 403.
  ``CleanModelSerializer`` limits every foreign key in a request to records in scope (so a
  PATCH cannot move a record into another school) and checks the saved row is still inside
  the user's write scope.

Roles (``schools.models.Role``): a superuser is the state admin and sees everything; a district
admin sees every school of their district; school admins, teachers, attendance clerks and
registrars see their own school, teachers only their own sections for section-bound data.
HS staff may also read their own students' grades and attendance recorded at technical
schools, and nothing else of the technical school.

For page authors::

    from schools.access import require_school_role, scope_queryset, scoped_get_or_404

    school = require_school_role(request, school_id, roles={"attendance_clerk", "school_admin"})
    # 404 when the school is outside the user's scope, 403 when in scope without such a role.
    sections = scope_queryset(request.user, Section.objects.all())  # what the user may see
    section = scoped_get_or_404(request.user, Section.objects.all(), pk=section_id)
    if not can_write(request.user, section_grade, "update"): raise PermissionDenied

and when HS staff read records of a technical school, record it (R37)::

    log_disclosure(user=request.user, reader_school_id=hs.id, source_school_id=tech_id,
                   resource="tech-attendance", student_ids=[...])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import Http404
from rest_framework.permissions import SAFE_METHODS, BasePermission

DISTRICT_ADMIN = "district_admin"
SCHOOL_ADMIN = "school_admin"
TEACHER = "teacher"
ATTENDANCE_CLERK = "attendance_clerk"
REGISTRAR = "registrar"
SCHOOL_ROLES = frozenset({SCHOOL_ADMIN, TEACHER, ATTENDANCE_CLERK, REGISTRAR})
ALL_ROLES = SCHOOL_ROLES | {DISTRICT_ADMIN}
ADMINS = frozenset({DISTRICT_ADMIN, SCHOOL_ADMIN})


@dataclass(frozen=True)
class Rule:
    """How one model is scoped. Paths are ORM lookups; ``""`` means the model itself."""

    # Paths to a School: a row is in scope when one of them is one of the user's schools.
    schools: tuple[str, ...] = ()
    # Paths to a District: rows owned by a district (score groups, credit types...).
    districts: tuple[str, ...] = ()
    # When this path is null the row is the state's: every staff user may read it (R4).
    state_when_null: str | None = None
    # Path to the Section: teachers see only rows of sections they teach.
    section: str | None = None
    # Roles at a HS that may also read their own students' rows at technical schools.
    cross_school: frozenset[str] = frozenset()
    student: str = "student"
    # Roles that may read this model at all (within scope).
    read_roles: frozenset[str] = ALL_ROLES
    # Roles that see every row (no school to scope by), e.g. exchange runs.
    global_roles: frozenset[str] = frozenset()
    # Foreign keys a write may point outside the user's scope (a KTS link's other side).
    open_fks: frozenset[str] = frozenset()
    # A new row may be created before it has a path to a school (a student before enrolling).
    orphan_create: bool = False
    # Foreign keys that may also point at a student nobody has enrolled yet (just created).
    fk_new_students: frozenset[str] = frozenset()
    # R41: path to a user whose account the row manages (a staff role's user): a district
    # admin reaches the row only when that user is one they manage (``managed_users``).
    managed_user: str | None = None
    # R41: foreign keys to users and who may be named there: "managed" (staff a district
    # admin manages) or "teacher" (holders of a teacher role at a school in scope).
    user_fks: tuple[tuple[str, str], ...] = ()


SCHOOL = "school"
SECTION_SCHOOL = "section__course__calendar__school"
SETUP_READERS = ALL_ROLES
GRADE_READERS = frozenset({DISTRICT_ADMIN, SCHOOL_ADMIN, TEACHER, REGISTRAR})
ATTENDANCE_READERS = frozenset({DISTRICT_ADMIN, SCHOOL_ADMIN, TEACHER, ATTENDANCE_CLERK})

REGISTRY: dict[str, Rule] = {
    # --- schools -----------------------------------------------------------------------
    "schools.District": Rule(districts=("",)),
    "schools.School": Rule(schools=("",)),
    "schools.Calendar": Rule(schools=(SCHOOL,)),
    "schools.Term": Rule(schools=("calendar__school",)),
    "schools.Course": Rule(schools=("calendar__school",)),
    "schools.Section": Rule(
        schools=("course__calendar__school",), section="", user_fks=(("teachers", "teacher"),)
    ),
    # Tech staff read only students enrolled at their school; teachers their own students.
    "schools.Student": Rule(
        schools=("enrollments__calendar__school",), section="rosters__section", orphan_create=True
    ),
    "schools.Enrollment": Rule(
        schools=("calendar__school",),
        section="student__rosters__section",
        fk_new_students=frozenset({"student"}),
    ),
    "schools.Roster": Rule(schools=(SECTION_SCHOOL,), section="section"),
    "schools.StaffRole": Rule(
        schools=(SCHOOL,),
        districts=("district",),
        read_roles=ADMINS,
        managed_user="user",
        user_fks=(("user", "managed"),),
    ),
    "schools.DisclosureLog": Rule(
        schools=("reader_school", "source_school"), read_roles=frozenset({DISTRICT_ADMIN})
    ),
    "schools.AuditEntry": Rule(schools=(SCHOOL,), read_roles=ADMINS),
    "schools.Tombstone": Rule(schools=(SCHOOL,)),
    # --- grading -----------------------------------------------------------------------
    "grading.ScoreGroup": Rule(districts=("district",), state_when_null="district"),
    "grading.ScoreRow": Rule(districts=("group__district",), state_when_null="group__district"),
    "grading.GradingTask": Rule(districts=("district",), state_when_null="district"),
    "grading.CreditType": Rule(districts=("district",), state_when_null="district"),
    "grading.CourseGradingTask": Rule(schools=("course__calendar__school",)),
    "grading.CourseTaskTerm": Rule(schools=("course_task__course__calendar__school",)),
    "grading.GradingWindow": Rule(schools=(SCHOOL,)),
    "grading.Grade": Rule(
        schools=(SECTION_SCHOOL,),
        section="section",
        cross_school=frozenset({SCHOOL_ADMIN, TEACHER, REGISTRAR, DISTRICT_ADMIN}),
        read_roles=GRADE_READERS,
    ),
    "grading.GradeHistory": Rule(
        schools=("grade__section__course__calendar__school",),
        section="grade__section",
        cross_school=frozenset({SCHOOL_ADMIN, TEACHER, REGISTRAR, DISTRICT_ADMIN}),
        student="grade__student",
        read_roles=GRADE_READERS,
    ),
    "grading.HonorRollTier": Rule(schools=(SCHOOL,)),
    "grading.TranscriptLine": Rule(
        schools=(SCHOOL,), read_roles=frozenset({DISTRICT_ADMIN, SCHOOL_ADMIN, REGISTRAR})
    ),
    "grading.TranscriptLineHistory": Rule(
        schools=("line__school",), read_roles=frozenset({DISTRICT_ADMIN, SCHOOL_ADMIN, REGISTRAR})
    ),
    # --- attendance --------------------------------------------------------------------
    "attendance.AttendanceCode": Rule(schools=(SCHOOL,)),
    "attendance.Attendance": Rule(
        schools=(SECTION_SCHOOL,),
        section="section",
        cross_school=frozenset({SCHOOL_ADMIN, TEACHER, ATTENDANCE_CLERK, DISTRICT_ADMIN}),
        read_roles=ATTENDANCE_READERS,
    ),
    # --- exchange ----------------------------------------------------------------------
    "exchange.KtsLink": Rule(
        schools=("hs_section__course__calendar__school", "tech_section__course__calendar__school"),
        read_roles=ADMINS,
        open_fks=frozenset({"hs_section", "tech_section"}),
    ),
    "exchange.ExchangeRun": Rule(
        read_roles=frozenset({DISTRICT_ADMIN}), global_roles=frozenset({DISTRICT_ADMIN})
    ),
    "exchange.RunPart": Rule(schools=("tech_school",), read_roles=ADMINS),
    "exchange.ExchangeOutcome": Rule(
        schools=("tech_school", "hs_section__course__calendar__school"), read_roles=ADMINS
    ),
}

SETUP = frozenset({"create", "update", "delete"})

# The role-action table (R36). Superusers (state admins) may do everything; a role not listed
# for a model may not write it (403). Every write stays inside the role's own scope.
WRITES: dict[str, dict[str, frozenset[str]]] = {
    "schools.School": {DISTRICT_ADMIN: SETUP, SCHOOL_ADMIN: frozenset({"update"})},
    "schools.Calendar": {DISTRICT_ADMIN: SETUP},
    "schools.Term": {DISTRICT_ADMIN: SETUP, SCHOOL_ADMIN: SETUP},
    "schools.Course": {DISTRICT_ADMIN: SETUP, SCHOOL_ADMIN: SETUP},
    "schools.Section": {DISTRICT_ADMIN: SETUP, SCHOOL_ADMIN: SETUP},
    "schools.Student": {
        DISTRICT_ADMIN: frozenset({"create", "update"}),
        SCHOOL_ADMIN: frozenset({"create", "update"}),
        REGISTRAR: frozenset({"create", "update"}),
    },
    "schools.Enrollment": {DISTRICT_ADMIN: SETUP, SCHOOL_ADMIN: SETUP, REGISTRAR: SETUP},
    "schools.Roster": {DISTRICT_ADMIN: SETUP, SCHOOL_ADMIN: SETUP},
    "schools.StaffRole": {DISTRICT_ADMIN: SETUP},
    # Staff users, in the admin only (schools.admin_access): those of the admin's district.
    "auth.User": {DISTRICT_ADMIN: frozenset({"create", "update"})},
    "grading.ScoreGroup": {DISTRICT_ADMIN: SETUP},
    "grading.GradingTask": {DISTRICT_ADMIN: SETUP},
    "grading.CreditType": {DISTRICT_ADMIN: SETUP},
    "grading.CourseGradingTask": {DISTRICT_ADMIN: SETUP, SCHOOL_ADMIN: SETUP},
    "grading.GradingWindow": {
        DISTRICT_ADMIN: SETUP | {"apply"},
        SCHOOL_ADMIN: SETUP | {"apply"},
    },
    "grading.HonorRollTier": {DISTRICT_ADMIN: SETUP, SCHOOL_ADMIN: SETUP},
    "grading.Grade": {TEACHER: frozenset({"create", "update", "bulk"})},
    "grading.TranscriptLine": {REGISTRAR: frozenset({"post", "create", "update", "review"})},
    "attendance.AttendanceCode": {DISTRICT_ADMIN: SETUP, SCHOOL_ADMIN: SETUP},
    "attendance.Attendance": {
        TEACHER: frozenset({"create", "update", "bulk"}),
        ATTENDANCE_CLERK: frozenset({"create", "update", "bulk", "resolve"}),
    },
    "exchange.KtsLink": {DISTRICT_ADMIN: SETUP, SCHOOL_ADMIN: SETUP},
    "exchange.ExchangeRun": {DISTRICT_ADMIN: frozenset({"create"})},
}


# --- R42: reports by role, one table for every form -----------------------------------------


@dataclass(frozen=True)
class Report:
    """Who reads one school report, and in which forms (page, csv, pdf, api). Roles are held
    at the report's school; a district admin holds every school of their district and a state
    admin every school. Anyone else: 404 on every form (R42)."""

    roles: frozenset[str]
    forms: frozenset[str]
    # The kinds of school the report exists for (e.g. report cards: the home high school).
    kinds: frozenset[str] = frozenset({"high_school"})


REGISTRAR_ROLES = frozenset({REGISTRAR, SCHOOL_ADMIN, DISTRICT_ADMIN})

# Report name -> Report. Each app adds its own from AppConfig.ready() (``register_report``).
REPORTS: dict[str, Report] = {}


def register_report(name: str, report: Report) -> None:
    REPORTS[name] = report


def report_school_ids(user, name: str, form: str) -> set[int]:
    """Ids of the schools whose report ``name`` ``user`` may read in ``form`` (R42)."""
    from schools.models import School

    report = REPORTS[name]
    if form not in report.forms:
        return set()
    ids = user_school_ids(user, set(report.roles))
    return set(
        School.objects.filter(pk__in=ids, kind__in=report.kinds).values_list("pk", flat=True)
    )


def may_read_report(user, name: str, form: str, school_id) -> bool:
    """R42: may ``user`` read report ``name`` of school ``school_id`` in ``form``?"""
    try:
        school_id = int(school_id)
    except (TypeError, ValueError):
        return False
    if not (user is not None and user.is_authenticated):
        return False
    return school_id in report_school_ids(user, name, form)


def report_school_or_404(user, name: str, form: str, school_id):
    """The School of report ``name`` for ``user``, or 404: out of scope and out of role
    answer alike (R42), on every form."""
    from schools.models import School

    if not may_read_report(user, name, form, school_id):
        raise Http404
    return School.objects.get(pk=int(school_id))


# --- who the user is ---------------------------------------------------------------------


@dataclass
class Grants:
    """A user's staff roles, read once per request."""

    admin_districts: set[int] = field(default_factory=set)
    by_role: dict[str, set[int]] = field(default_factory=dict)  # school role -> school ids
    school_kind: dict[int, str] = field(default_factory=dict)
    school_district: dict[int, int] = field(default_factory=dict)

    @property
    def any(self) -> bool:
        return bool(self.admin_districts or self.by_role)

    @property
    def roles(self) -> set[str]:
        return set(self.by_role) | ({DISTRICT_ADMIN} if self.admin_districts else set())

    def hs_ids(self, role: str) -> set[int]:
        return {s for s in self.by_role.get(role, ()) if self.school_kind.get(s) == "high_school"}


def grants_for(user) -> Grants:
    """The user's roles (cached on the user object for the request)."""
    cached = getattr(user, "_kts_grants", None)
    if cached is not None:
        return cached
    from schools.models import StaffRole

    grants = Grants()
    if user is not None and user.is_authenticated:
        rows = StaffRole.objects.filter(user=user).values_list(
            "role", "district_id", "school_id", "school__kind", "school__district_id"
        )
        for role, district_id, school_id, kind, school_district in rows:
            if role == DISTRICT_ADMIN:
                grants.admin_districts.add(district_id)
            elif school_id:
                grants.by_role.setdefault(role, set()).add(school_id)
                grants.school_kind[school_id] = kind
                grants.school_district[school_id] = school_district
        try:
            user._kts_grants = grants
        except AttributeError:  # pragma: no cover - AnonymousUser-like objects
            pass
    return grants


def is_state_admin(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_superuser)


def _label(model) -> str:
    return model._meta.label


def _p(path: str, lookup: str) -> str:
    return f"{path}__{lookup}" if path else lookup


def _school_q(paths, school_ids) -> Q:
    q = Q(pk__in=[])
    for path in paths:
        q |= Q(**{_p(path, "in") if path else "pk__in": school_ids})
    return q


def _district_q(rule: Rule, district_ids, *, with_district_paths: bool = True) -> Q:
    q = Q(pk__in=[])
    for path in rule.schools:
        q |= Q(**{_p(path, "district__in"): district_ids})
    if with_district_paths:
        for path in rule.districts:
            q |= Q(**{_p(path, "in") if path else "pk__in": district_ids})
    return q


def _teacher_q(rule: Rule, user) -> Q:
    if rule.section is None:
        return Q()
    return Q(**{_p(rule.section, "teachers"): user})


def _cross_school_q(rule: Rule, role: str, grants: Grants, user) -> Q:
    """R36: HS staff read their own students' rows recorded at technical schools."""
    from schools.models import Enrollment, Roster, School

    if role == DISTRICT_ADMIN:
        hs = School.objects.filter(district__in=grants.admin_districts, kind="high_school")
        students = Enrollment.objects.filter(service_type="primary", calendar__school__in=hs)
    else:
        hs_ids = grants.hs_ids(role)
        if not hs_ids:
            return Q(pk__in=[])
        if role == TEACHER:
            students = Roster.objects.filter(
                section__teachers=user, section__course__calendar__school__in=hs_ids
            )
        else:
            students = Enrollment.objects.filter(
                service_type="primary", calendar__school__in=hs_ids
            )
    return Q(**{_p(rule.student, "in"): students.values("student_id")}) & Q(
        **{_p(rule.schools[0], "kind"): "technical_school"}
    )


def _role_q(rule: Rule, role: str, grants: Grants, user, *, write: bool) -> Q:
    """Rows one role of the user reaches (reads: also state rows' districts of the schools)."""
    if role in rule.global_roles:
        return Q()
    if role == DISTRICT_ADMIN:
        q = _district_q(rule, grants.admin_districts)
        if rule.managed_user is not None:
            q &= Q(**{_p(rule.managed_user, "in"): _managed_user_ids(grants.admin_districts)})
        return q
    school_ids = grants.by_role.get(role, set())
    q = _school_q(rule.schools, school_ids)
    if not write and rule.districts:
        district_ids = {grants.school_district[s] for s in school_ids}
        for path in rule.districts:
            q |= Q(**{_p(path, "in") if path else "pk__in": district_ids})
    if role == TEACHER:
        q &= _teacher_q(rule, user)
    return q


def read_q(user, rule: Rule) -> Q | None:
    """The filter of rows ``user`` may read, or None for nothing."""
    grants = grants_for(user)
    roles = grants.roles & rule.read_roles
    if not roles:
        return None
    q = Q(pk__in=[])
    for role in roles:
        if role in rule.global_roles:
            return Q()
        q |= _role_q(rule, role, grants, user, write=False)
        if role in rule.cross_school:
            q |= _cross_school_q(rule, role, grants, user)
    if rule.state_when_null:
        q |= Q(**{_p(rule.state_when_null, "isnull"): True})
    return q


def write_q(user, label: str, action: str) -> Q | None:
    """The filter of rows ``user`` may ``action`` (inside their own scope only)."""
    rule = REGISTRY.get(label)
    table = WRITES.get(label, {})
    if rule is None:
        return None
    grants = grants_for(user)
    q = None
    for role in grants.roles:
        if action not in table.get(role, ()):
            continue
        role_q = _role_q(rule, role, grants, user, write=True)
        q = role_q if q is None else q | role_q
    return q


@cache
def _model(label: str):
    return apps.get_model(label)


def scope_queryset(user, queryset: QuerySet) -> QuerySet:
    """Filter ``queryset`` to the records ``user`` may see (R36). Unknown model: nothing."""
    if is_state_admin(user):
        return queryset
    if user is None or not user.is_authenticated:
        return queryset.none()
    rule = REGISTRY.get(_label(queryset.model))
    if rule is None:
        return queryset.none()
    q = read_q(user, rule)
    if q is None:
        return queryset.none()
    if not q:  # Q() = every row
        return queryset
    # A semi-join keeps rows unique however many paths (enrollments, teachers) match.
    return queryset.filter(pk__in=queryset.model._base_manager.filter(q).values("pk"))


def may(user, label: str, action: str) -> bool:
    """Does the role-action table let ``user`` ``action`` ``label`` somewhere?"""
    if is_state_admin(user):
        return True
    grants = grants_for(user)
    table = WRITES.get(label, {})
    return any(action in table.get(role, ()) for role in grants.roles)


def can_write(user, obj: Model, action: str) -> bool:
    """May ``user`` ``action`` this row (in their own write scope)?"""
    if is_state_admin(user):
        return True
    label = _label(type(obj))
    q = write_q(user, label, action)
    if q is None:
        return False
    rule = REGISTRY[label]
    if action == "create" and rule.orphan_create and not _has_school(obj, rule):
        return True
    return type(obj)._base_manager.filter(q, pk=obj.pk).exists()


def may_write_section(user, label: str, action: str, section) -> bool:
    """May ``user`` ``action`` rows of ``label`` in ``section`` (a page's save of a whole
    section: attendance, grades)? The same table as the API: a role listed for the action,
    held at the section's school (a district admin: its district), and a teacher only in
    their own sections."""
    if is_state_admin(user):
        return True
    if user is None or not user.is_authenticated:
        return False
    rule = REGISTRY.get(label)
    if rule is None:
        return False
    grants = grants_for(user)
    school = section.course.calendar.school
    table = WRITES.get(label, {})
    for role in grants.roles:
        if action not in table.get(role, ()):
            continue
        if role == DISTRICT_ADMIN:
            if school.district_id in grants.admin_districts:
                return True
            continue
        if school.pk not in grants.by_role.get(role, ()):
            continue
        if role == TEACHER and rule.section is not None:
            if section.teachers.filter(pk=user.pk).exists():
                return True
            continue
        return True
    return False


def _has_school(obj: Model, rule: Rule) -> bool:
    if not rule.schools:
        return False
    values = type(obj)._base_manager.filter(pk=obj.pk).values_list(rule.schools[0], flat=True)
    return any(v is not None for v in values)


def school_id_of(obj: Model) -> int | None:
    """The school a row belongs to (first path of its rule), for audit and tombstones."""
    rule = REGISTRY.get(_label(type(obj)))
    if rule is None or not rule.schools or obj.pk is None:
        return None
    path = rule.schools[0]
    value = (
        type(obj)
        ._base_manager.filter(pk=obj.pk)
        .values_list(path or "pk", flat=True)
        .order_by()
        .first()
    )
    return value


# --- R41: whose accounts a user manages ------------------------------------------------------


def _managed_user_ids(districts) -> QuerySet:
    """Ids of the users a district admin of ``districts`` manages (R41): no superuser, and
    every role they hold inside those districts (or no role at all)."""
    from django.contrib.auth import get_user_model

    from schools.models import StaffRole

    inside = StaffRole.objects.filter(Q(district__in=districts) | Q(school__district__in=districts))
    # Negating on the roles' own pks keeps NULL district/school columns out of the logic.
    outside = StaffRole.objects.exclude(pk__in=inside.values("pk"))
    return (
        get_user_model()
        ._base_manager.filter(is_superuser=False)
        .exclude(pk__in=outside.values("user_id"))
        .values("pk")
    )


def managed_users(user, queryset: QuerySet) -> QuerySet:
    """R41: the users ``user`` may create, edit, give roles to, reset the password of or
    deactivate. A state admin: everyone. A district admin: users whose every role is inside
    their district(s), plus users without any role; never a superuser. Anyone else: nobody.
    Everyone else is out of scope - not found, exactly like an id that does not exist."""
    if is_state_admin(user):
        return queryset
    districts = grants_for(user).admin_districts
    if not districts:
        return queryset.none()
    return queryset.filter(pk__in=_managed_user_ids(districts))


def teacher_choices(user, queryset: QuerySet) -> QuerySet:
    """R41: who may be named a section's teacher by ``user``: holders of a teacher role at a
    school ``user`` sees (the section's own school is checked by ``Section.clean_teachers``)."""
    from schools.models import School, StaffRole

    if is_state_admin(user):
        return queryset
    schools = scope_queryset(user, School.objects.all()).values("pk")
    holders = StaffRole.objects.filter(role=TEACHER, school__in=schools).values("user_id")
    return queryset.filter(pk__in=holders)


def user_fk_queryset(user, owner_model, field_name: str, queryset: QuerySet) -> QuerySet | None:
    """The users a write's ``field_name`` may name (R41), or None when the rule says nothing."""
    rule = REGISTRY.get(_label(owner_model)) if owner_model is not None else None
    kind = dict(rule.user_fks).get(field_name) if rule is not None else None
    if kind == "managed":
        return managed_users(user, queryset)
    if kind == "teacher":
        return teacher_choices(user, queryset)
    return None


def fk_queryset(user, owner_model, field_name: str, queryset: QuerySet) -> QuerySet:
    """What a write's foreign key ``field_name`` may point at: records in the user's scope,
    so a PATCH cannot move a row into another school (R36). Not limited: a rule's
    ``open_fks`` and targets that are not scoped models (users). An enrollment may also
    name a student nobody has enrolled yet (created a moment ago by the same school)."""
    rule = REGISTRY.get(_label(owner_model)) if owner_model is not None else None
    if rule is not None and field_name in rule.open_fks:
        return queryset
    people = user_fk_queryset(user, owner_model, field_name, queryset)
    if people is not None:
        return people
    if _label(queryset.model) not in REGISTRY:
        return queryset
    scoped = scope_queryset(user, queryset)
    if rule is not None and field_name in rule.fk_new_students:
        from schools.models import Enrollment

        return queryset.filter(
            Q(pk__in=scoped.values("pk")) | ~Q(pk__in=Enrollment.objects.values("student_id"))
        )
    return scoped


# --- the API permission class ------------------------------------------------------------

_ACTION_NAMES = {"create": "create", "update": "update", "partial_update": "update"}
_ACTION_NAMES["destroy"] = "delete"


def view_label(view) -> str | None:
    """The model label a view works on (``access_resource`` overrides)."""
    label = getattr(view, "access_resource", None)
    if label:
        return label
    queryset = getattr(view, "queryset", None)
    if queryset is not None:
        return _label(queryset.model)
    serializer_class = getattr(view, "serializer_class", None)
    meta = getattr(serializer_class, "Meta", None)
    if meta is not None and getattr(meta, "model", None) is not None:
        return _label(meta.model)
    return None


def view_action(view, request) -> str:
    """The table action of a write request: create/update/delete or a named action."""
    name = getattr(view, "action", None)
    if name in _ACTION_NAMES:
        return _ACTION_NAMES[name]
    mapped = getattr(view, "access_actions", {}).get(name)
    if mapped:
        return mapped
    label = view_label(view)
    if name and any(name in acts for acts in WRITES.get(label, {}).values()):
        return name
    if request.method == "DELETE":
        return "delete"
    if name and getattr(view, "detail", False):
        return "update"
    return "create" if request.method == "POST" else "update"


class IsScopedUser(BasePermission):
    """R36: signed-in staff with a role (or a state admin). Reads are scoped by the queryset;
    writes follow the role-action table (403 otherwise) and stay inside the user's scope."""

    message = "You do not have access to this resource."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if user.is_superuser:
            return True
        # Roles are read afresh for every request (a client may reuse one user object).
        user.__dict__.pop("_kts_grants", None)
        if not grants_for(user).any:
            return False
        if request.method in SAFE_METHODS:
            return True
        label = view_label(view)
        if label is None:
            return False
        self.message = "Your role may not make this change."
        return may(user, label, view_action(view, request))

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in SAFE_METHODS or is_state_admin(request.user):
            return True
        self.message = "Your role may not make this change."
        return can_write(request.user, obj, view_action(view, request))


# --- helpers for pages -------------------------------------------------------------------


def user_school_ids(user, roles=None) -> set[int]:
    """Ids of the schools where ``user`` holds one of ``roles`` (any role when None).
    A district admin holds every school of their district. Superusers: every school."""
    from schools.models import School

    if is_state_admin(user):
        return set(School.objects.values_list("pk", flat=True))
    grants = grants_for(user)
    ids: set[int] = set()
    for role, school_ids in grants.by_role.items():
        if roles is None or role in roles:
            ids |= school_ids
    if grants.admin_districts and (roles is None or DISTRICT_ADMIN in roles):
        ids |= set(
            School.objects.filter(district__in=grants.admin_districts).values_list("pk", flat=True)
        )
    return ids


def require_school_role(request, school_id, roles=None):
    """The School for a page, or 404 when it is outside the user's scope and 403 when the
    user works there without one of ``roles`` (district admins count as every role)."""
    from schools.models import School

    user = request.user
    try:
        school_id = int(school_id)
    except (TypeError, ValueError) as exc:
        raise Http404 from exc
    if not user_school_ids(user) or school_id not in user_school_ids(user):
        raise Http404
    if roles is not None and not is_state_admin(user):
        if school_id not in user_school_ids(user, set(roles) | {DISTRICT_ADMIN}):
            raise PermissionDenied("Your role may not open this page.")
    return School.objects.get(pk=school_id)


def may_read(user, label: str) -> bool:
    """R42: does one of ``user``'s roles read model ``label`` at all (pages ask this exactly
    as the API's scoped querysets do; ``is_staff`` counts for nothing)."""
    if is_state_admin(user):
        return True
    if user is None or not user.is_authenticated:
        return False
    rule = REGISTRY.get(label)
    return rule is not None and read_q(user, rule) is not None


def admin_site_allowed(user) -> bool:
    """R42: the admin site is for the state admin and the district and school admins (their
    own setup); ``is_staff`` alone opens nothing."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or bool(grants_for(user).roles & ADMINS)


def scoped_get_or_404(user, queryset: QuerySet, **lookup):
    """``get_object_or_404`` over the user's scope (R36: out of scope answers 404)."""
    try:
        return scope_queryset(user, queryset).get(**lookup)
    except queryset.model.DoesNotExist as exc:
        raise Http404 from exc


# --- disclosure log (R37, FERPA 99.32) -----------------------------------------------------


def log_disclosure(
    *,
    user,
    reader_school_id: int | None,
    source_school_id: int | None,
    resource: str,
    student_ids,
    record_count: int | None = None,
    purpose: str = "",
):
    """Record that ``user`` (at ``reader_school_id``) read records of ``source_school_id``.

    Internal student keys only - never names (R37). Returns the DisclosureLog row, or None
    when nothing was disclosed.
    """
    from schools.models import DisclosureLog

    ids = sorted({int(s) for s in student_ids})
    if not ids:
        return None
    return DisclosureLog.objects.create(
        user=user if user is not None and user.is_authenticated else None,
        reader_school_id=reader_school_id,
        source_school_id=source_school_id,
        resource=resource[:50],
        student_ids=ids,
        record_count=record_count if record_count is not None else len(ids),
        purpose=purpose[:200],
    )


def log_cross_school_reads(user, objs, *, resource: str) -> None:
    """R37: log HS staff reading rows of a technical school (grades, attendance).

    ``objs`` are rows of one model; rows at the user's own schools are not disclosures.
    One query to find each row's school, one log row per source school.
    """
    if not objs or is_state_admin(user):
        return
    model = type(objs[0])
    rule = REGISTRY.get(_label(model))
    if rule is None or not rule.cross_school:
        return
    own = user_school_ids(user)
    rows = list(
        model._base_manager.filter(pk__in=[o.pk for o in objs])
        .exclude(**{_p(rule.schools[0], "in"): own})
        .values_list(rule.schools[0], rule.student)
        .order_by()
    )
    if not rows:
        return
    readers = _reader_schools(user, own, {student for _, student in rows})
    fallback = readers.pop(None, None)
    # (reader HS, source tech school) -> students, record count
    groups: dict[tuple[int | None, int], list[int]] = {}
    for school_id, student_id in rows:
        groups.setdefault((readers.get(student_id, fallback), school_id), []).append(student_id)
    for (reader, source), students in groups.items():
        log_disclosure(
            user=user,
            reader_school_id=reader,
            source_school_id=source,
            resource=resource,
            student_ids=students,
            record_count=len(students),
        )


def _reader_schools(user, own: set[int], student_ids: set[int]) -> dict:
    """R43: the reader's own school for each student - the user's high school where the
    student holds their primary enrollment (a district admin reading a North HS student is
    logged under North HS). Key None: the fallback when no such enrollment is found."""
    from schools.models import Enrollment, School

    hs_ids = set(School.objects.filter(pk__in=own, kind="high_school").values_list("pk", flat=True))
    readers: dict = {
        student: school
        for student, school in Enrollment.objects.filter(
            student_id__in=student_ids, service_type="primary", calendar__school_id__in=hs_ids
        )
        .order_by("school_year", "pk")  # the latest year wins
        .values_list("student_id", "calendar__school_id")
    }
    ordered = sorted(hs_ids) or sorted(own)
    readers[None] = ordered[0] if ordered else None
    return readers
