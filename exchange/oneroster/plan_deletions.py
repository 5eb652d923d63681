"""Planning what a OneRoster set takes away from staff and students it imported (R50).

A real SIS deletes a person at the source and expects them to lose access at the next
import. The import takes away only what it owns: users linked to this district's
``sourcedId`` (``SourcedUser``), the staff role kinds it grants (teacher, school admin,
district admin — never a registrar's or a clerk's role, which it cannot grant) at the
district's own schools, and rosters and enrollments carrying a ``sourcedId``.

* Delta ``users.csv`` ``tobedeleted``: a staff user's account is deactivated, their staff
  roles and section-teacher assignments in the district removed (the account stays active
  when they hold a role elsewhere, or are a state admin); a student's open imported rosters
  and enrollments end today, the student record stays. A set that names no district (a
  state admin's without orgs.csv) may not end a sourcedId whose imported rows lie in
  several districts: like a staff user's, the row is refused.
* Delta ``roles.csv`` ``tobedeleted``: that staff role (user, role kind, school or district)
  is removed; a teacher role takes the user's section-teacher assignments at that school.
* Bulk ``users.csv`` and ``roles.csv``: an imported user's staff role at an org of the set
  that no row sends any more is removed, the way rosters absent from a bulk file end.
  Accounts are not deactivated for absence: a bulk set may cover part of a district.

``StaffRole`` keeps no record of who granted it, so a role of the same kind at the same
school granted by hand to an imported user cannot be told apart and goes with it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import F, Q, QuerySet

from exchange.models import SourcedUser
from exchange.oneroster.plan import (
    DEACTIVATED,
    ENDED,
    REMOVED,
    STAFF_ROLES,
    UNCHANGED,
    PlannerBase,
    fetch_in,
    in_chunks,
    light_rows,
)
from exchange.oneroster.reader import Row
from schools.models import District, Enrollment, Role, Roster, School, Section, StaffRole, Student

IMPORTED_KINDS = frozenset(STAFF_ROLES.values())
# (user, role, district, school) ids of a saved role.
RoleKey = tuple[int, str, int | None, int | None]
# A section-teacher assignment: (section, user, the section's school, its district) ids.
TeacherLink = tuple[int, int, int, int]


def _key(role: StaffRole) -> RoleKey:
    return (role.user_id, role.role, role.district_id, role.school_id)


class DeletionsMixin(PlannerBase):
    def plan_deletions(self) -> None:
        """R50: deleted users and staff roles (delta), staff roles absent (bulk)."""
        users = [r for r in self.rs["users"] if r.deleted]
        roles = [r for r in self.rs["roles"] if r.deleted and r["role"] in STAFF_ROLES]
        bulk = self.rs.bulk("roles") and self.rs.bulk("users")
        if self.rs.sent("users"):
            self.plan.counts["users"].setdefault(DEACTIVATED, 0)
        if self.rs.sent("roles"):
            self.plan.counts["roles"].setdefault(REMOVED, 0)
        if not (users or roles or bulk):
            return
        links = self._links({r.sourced_id for r in users} | {r["userSourcedId"] for r in roles})
        orgs = self._orgs({r["orgSourcedId"] for r in roles})
        imported = self._imported_in_set() if bulk else set()
        user_ids = {link.user_id for link in links.values()} | {u for u, _ in imported}
        self._held: dict[int, list[StaffRole]] = defaultdict(list)
        for role in fetch_in(
            StaffRole.objects.annotate(school_district=F("school__district_id")),
            "user_id",
            user_ids,
        ):
            self._held[role.user_id].append(role)
        self._teaching: dict[int, list[TeacherLink]] = defaultdict(list)
        calendar = "section__course__calendar__school"
        for link in fetch_in(
            Section.teachers.through.objects.values_list(
                "section_id", "user_id", f"{calendar}_id", f"{calendar}__district_id"
            ),
            "user_id",
            user_ids,
        ):
            self._teaching[link[1]].append(link)
        self._removed: set[int] = set()
        self._unlinked = set(self.plan.teacher_unlinks)
        for row in roles:
            self._delete_role(row, links, orgs)
        self._delete_users(users, links)
        if bulk:
            self._remove_absent_roles(imported)

    # --- reads -------------------------------------------------------------------------

    def _district_scope(self) -> set[int] | None:
        """The districts whose imported users a row may name: the set's own districts, else
        the ones the importing user administers (None: every district, a state admin)."""
        own = {d.pk for d in self.districts.values() if d.pk}
        return own or self._allowed_districts()

    def _links(self, sids: set[str]) -> dict[tuple[str, int], SourcedUser]:
        """The users this import linked, by (sourcedId, district id)."""
        if not sids:
            return {}
        qs = SourcedUser.objects.select_related("user")
        scope = self._district_scope()
        if scope is not None:
            qs = qs.filter(district_id__in=scope)
        return {(s.sourced_id, s.district_id): s for s in fetch_in(qs, "sourced_id", sids)}

    def _orgs(self, sids: set[str]) -> dict[str, District | School]:
        """The orgs the roles rows name: in the set, else saved (one per sourcedId)."""
        found: dict[str, District | School] = {}
        for sid in sids:
            org = self.districts.get(sid) or self.schools.get(sid)
            if org is not None and org.pk:
                found[sid] = org
        missing = sids - set(found)
        if not missing:
            return found
        allowed = self._allowed_districts()
        schools = School.objects.all()
        districts = District.objects.all()
        if allowed is not None:
            schools = schools.filter(district_id__in=allowed)
            districts = districts.filter(pk__in=allowed)
        hits: dict[str, list[District | School]] = defaultdict(list)
        for school in fetch_in(schools, "sourced_id", missing):
            hits[school.sourced_id or ""].append(school)
        for district in fetch_in(districts, "sourced_id", missing):
            hits[district.sourced_id or ""].append(district)
        found.update((sid, orgs[0]) for sid, orgs in hits.items() if len(orgs) == 1)
        return found

    def _imported_in_set(self) -> set[tuple[int, int]]:
        """(user, district) ids of the users imported in the set's districts."""
        districts = {d.pk for d in self.districts.values() if d.pk}
        return set(
            SourcedUser.objects.filter(district_id__in=districts).values_list(
                "user_id", "district_id"
            )
        )

    # --- the plan ------------------------------------------------------------------------

    def _remove(self, role: StaffRole) -> bool:
        """Plan removing ``role`` (not one an active row of the set names); a teacher role
        takes the user's section-teacher assignments at that school with it (R41)."""
        if role.pk in self._removed or _key(role) in self.roles_sent:
            return False
        self._removed.add(role.pk)
        self.plan.role_removals.append(role)
        self.count("roles", REMOVED)
        if role.role == Role.TEACHER:
            for section_id, user_id, school_id, _ in self._teaching[role.user_id]:
                if school_id == role.school_id:
                    self._unlink(section_id, user_id)
        return True

    def _unlink(self, section_id: int, user_id: int) -> None:
        if (section_id, user_id) not in self._unlinked:
            self._unlinked.add((section_id, user_id))
            self.plan.teacher_unlinks.append((section_id, user_id))
            self.count("enrollments", ENDED)

    def _delete_role(
        self,
        row: Row,
        links: dict[tuple[str, int], SourcedUser],
        orgs: dict[str, District | School],
    ) -> None:
        """A roles.csv row ``tobedeleted``: the staff role it maps to (R36, R50), held by the
        user this district's import linked to ``userSourcedId``."""
        org = orgs.get(row["orgSourcedId"])
        kind = STAFF_ROLES[row["role"]]
        link, district_id, school_id = None, None, None
        if isinstance(org, District):
            kind = Role.DISTRICT_ADMIN if kind == Role.SCHOOL_ADMIN else kind
            link, district_id = links.get((row["userSourcedId"], org.pk)), org.pk
        elif isinstance(org, School):
            link, school_id = links.get((row["userSourcedId"], org.district_id)), org.pk
        role = None
        if link is not None:
            wanted: RoleKey = (link.user_id, kind, district_id, school_id)
            role = next((r for r in self._held[link.user_id] if _key(r) == wanted), None)
        if role is None or not self._remove(role):
            self.count("roles", UNCHANGED)

    def _delete_users(self, rows: list[Row], links: dict[tuple[str, int], SourcedUser]) -> None:
        """users.csv rows ``tobedeleted``: staff lose the district's access, students their
        open rosters and enrollments (R50)."""
        by_sid: dict[str, list[SourcedUser]] = defaultdict(list)
        for (sid, _), link in links.items():
            by_sid[sid].append(link)
        teaching = {user.pk for _, user in self.plan.teacher_links if user.pk}
        students: list[Row] = []
        for row in rows:
            found = by_sid.get(row.sourced_id, [])
            if len(found) > 1:
                self.issue(
                    row,
                    "sourcedId",
                    "Users of several districts have this sourcedId; send orgs.csv with the "
                    "user's district.",
                )
            elif found and found[0].user_id in teaching:
                self.issue(
                    row,
                    "status",
                    "enrollments.csv of this set puts the user in a class; mark those rows "
                    "tobedeleted too, or send the user active.",
                )
            elif found:
                self._delete_staff(found[0])
            else:
                students.append(row)
        if students:
            self._end_students(students)

    def _delete_staff(self, link: SourcedUser) -> None:
        user, user_id, district_id = link.user, link.user_id, link.district_id
        held = self._held[user_id]
        for role in held:
            if role.role in IMPORTED_KINDS and district_id in (
                role.district_id,
                role.school_district,  # type: ignore[attr-defined]
            ):
                self._remove(role)
        for section_id, _, _, section_district in self._teaching[user_id]:
            if section_district == district_id:
                self._unlink(section_id, user_id)
        # The account goes only when nothing outside the district holds it.
        elsewhere = any(
            district_id not in (r.district_id, r.school_district)  # type: ignore[attr-defined]
            for r in held
        )
        if user.is_active and not user.is_superuser and not elsewhere:
            self.plan.deactivations.append(user_id)
            self.count("users", DEACTIVATED)
        else:
            self.count("users", UNCHANGED)

    def _end_students(self, rows: list[Row]) -> None:
        """Students deleted at the source: their open imported rosters and enrollments end
        today (in the districts the import may reach); the student records stay."""
        self.count("users", UNCHANGED, len(rows))
        sids = {r.sourced_id for r in rows}
        students = fetch_in(Student.objects.values_list("pk", "sourced_id"), "sourced_id", sids)
        if not students:
            return
        ids = [pk for pk, _ in students]
        scope = self._district_scope()
        open_ = Q(end_date__isnull=True) | Q(end_date__gt=self.today)
        rosters = Roster.objects.filter(open_, sourced_id__isnull=False)
        enrollments = Enrollment.objects.filter(open_, sourced_id__isnull=False)
        roster_district = "section__course__calendar__school__district_id"
        enrollment_district = "calendar__school__district_id"
        if scope is not None:
            rosters = rosters.filter(**{f"{roster_district}__in": scope})
            enrollments = enrollments.filter(**{f"{enrollment_district}__in": scope})
        else:
            ids = self._one_district_only(
                rows,
                students,
                rosters.values_list("student_id", roster_district),
                enrollments.values_list("student_id", enrollment_district),
            )
        for part in in_chunks(ids):
            for roster in light_rows(rosters.filter(student_id__in=part)):
                if roster.pk not in self.plan.updates[Roster]:  # else a row of the set has it
                    self._end(None, "enrollments", roster, None)
            for enrollment in light_rows(enrollments.filter(student_id__in=part)):
                if enrollment.pk not in self.plan.updates[Enrollment]:
                    self._end(None, "roles", enrollment, None)

    def _one_district_only(
        self,
        rows: list[Row],
        students: list[tuple[int, str]],
        *imported: QuerySet[Any, tuple[int, int]],
    ) -> list[int]:
        """A set that names no district (a state admin's, without orgs.csv) cannot say whose
        student it deletes: students' sourcedIds come from each district's own system. A
        sourcedId whose open imported rosters and enrollments lie in one district is that
        district's; one found in several is refused, as a staff user's is, rather than
        ending another district's rosters. Answers the students whose rows may end."""
        sid_of = dict(students)
        districts: dict[str, set[int]] = defaultdict(set)
        for queryset in imported:
            for student_id, district_id in fetch_in(queryset, "student_id", sid_of):
                districts[sid_of[student_id]].add(district_id)
        refused = {sid for sid, found in districts.items() if len(found) > 1}
        for row in rows:
            if row.sourced_id in refused:
                self.issue(
                    row,
                    "sourcedId",
                    "Students of several districts have this sourcedId, with imported rosters "
                    "or enrollments in each; send orgs.csv with the student's district.",
                )
        return [pk for pk, sid in students if sid not in refused]

    def _remove_absent_roles(self, owned: set[tuple[int, int]]) -> None:
        """Bulk users and roles: an imported user's staff role at an org of the set that no
        row sends any more goes (R50), as rosters absent from a bulk file end."""
        districts = {d.pk for d in self.districts.values() if d.pk}
        schools = {s.pk for s in self.schools.values() if s.pk}
        for user_id, district_id in sorted(owned):
            for role in self._held[user_id]:
                in_set = role.district_id in districts or role.school_id in schools
                ours = district_id in (role.district_id, role.school_district)  # type: ignore[attr-defined]
                if role.role in IMPORTED_KINDS and in_set and ours:
                    self._remove(role)
