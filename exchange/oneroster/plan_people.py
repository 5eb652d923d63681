"""Planning users, roles and students' enrollments of a OneRoster set (R3, R36, R41, R50)."""

from __future__ import annotations

from collections import defaultdict

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db.models import Q

from exchange.models import SourcedUser
from exchange.oneroster.plan import (
    ADDED,
    CHUNK,
    STAFF_ROLES,
    UNCHANGED,
    PlannerBase,
    fetch_in,
    in_chunks,
    light_rows,
)
from exchange.oneroster.reader import Row
from schools.models import (
    Calendar,
    District,
    Enrollment,
    Role,
    School,
    SchoolKind,
    ServiceType,
    StaffRole,
    Student,
)

RoleKey = tuple[int, str, int | None, int | None]


class PeopleMixin(PlannerBase):
    def plan_users(self) -> None:
        roles_by_user: dict[str, list[Row]] = defaultdict(list)
        for row in self.rs["roles"]:
            roles_by_user[row["userSourcedId"]].append(row)
        self.roles_by_user = roles_by_user
        births = {}
        for row in self.rs["demographics"]:
            if not row.deleted and row["birthDate"]:
                births[row.sourced_id] = self._date(row, "birthDate")
        users = [r for r in self.rs["users"] if not r.deleted]
        user_sids = {r.sourced_id for r in users}
        for sid in {r["userSourcedId"] for r in self.rs["roles"]} - user_sids:
            if self.rs.sent("users") and self.rs.bulk("users"):
                for row in roles_by_user[sid]:
                    self.issue(row, "userSourcedId", "No user in users.csv has this sourcedId.")
        student_rows, staff_rows = [], []
        for row in users:
            kinds = {r["role"] for r in roles_by_user.get(row.sourced_id, []) if not r.deleted}
            if "student" in kinds:
                student_rows.append(row)
            elif kinds & set(STAFF_ROLES):
                staff_rows.append(row)
            elif not kinds:
                student_rows.append(row)  # matched to an existing student below, or ignored
        # Students: identified statewide by state id (R3).
        existing: dict[str, Student] = {}
        for part in in_chunks({r["identifier"] for r in student_rows}):
            existing.update(
                (s.state_id, s) for s in light_rows(Student.objects.filter(state_id__in=part))
            )
        seen: dict[str, Row] = {}
        for row in student_rows:
            has_role = bool(roles_by_user.get(row.sourced_id))
            state_id = row["identifier"]
            student = existing.get(state_id)
            if not has_role and student is None:
                continue
            if not state_id:
                self.issue(
                    row, "identifier", "Give the student's state student id in identifier (R3)."
                )
                continue
            if state_id in seen:
                self.issue(
                    row,
                    "identifier",
                    f"State id {state_id} is already used on line {seen[state_id].line}; a state "
                    "id belongs to one student (R3).",
                )
                continue
            seen[state_id] = row
            student = student or Student()
            values: dict[str, object] = {
                "state_id": state_id,
                "first_name": row["givenName"],
                "last_name": row["familyName"],
                "sourced_id": row.sourced_id,
            }
            if row.sourced_id in births or student.pk is None:
                values["birth_date"] = births.get(row.sourced_id)
            if self._track(row, "users", student, values):
                self.students[row.sourced_id] = student
        self._plan_staff(staff_rows)

    def _plan_staff(self, rows: list[Row]) -> None:
        User = get_user_model()
        wanted: list[tuple[Row, District]] = []
        for row in rows:
            district = None
            for role in self.roles_by_user[row.sourced_id]:
                org = role["orgSourcedId"]
                district = self.districts.get(org) or self.districts.get(
                    self.school_district_sid.get(org, "")
                )
                if district:
                    break
            if district is None:
                self.issue(
                    row, "sourcedId", "Give the user a role at an org of this set (roles.csv)."
                )
                continue
            wanted.append((row, district))
        district_ids = {d.pk for _, d in wanted if d.pk}
        links = {
            (s.district_id, s.sourced_id): s.user
            for s in SourcedUser.objects.filter(
                district_id__in=district_ids, sourced_id__in=[r.sourced_id for r, _ in wanted]
            ).select_related("user")
        }
        usernames = [r["username"] or r.sourced_id for r, _ in wanted]
        by_name = {u.username: u for u in fetch_in(User.objects.all(), "username", usernames)}
        elsewhere = set(
            StaffRole.objects.filter(user__username__in=usernames)
            .exclude(Q(district_id__in=district_ids) | Q(school__district_id__in=district_ids))
            .values_list("user__username", flat=True)
        )
        for row, district in wanted:
            username = row["username"] or row.sourced_id
            user = links.get((district.pk, row.sourced_id)) if district.pk else None
            new_link = user is None
            if user is None and username in by_name:
                user = by_name[username]
                if user.is_superuser or username in elsewhere:
                    self.issue(
                        row,
                        "username",
                        "This username belongs to a user outside the district; give the user "
                        "another username.",
                    )
                    continue
            user = user or User(username=username, password=make_password(None), is_active=True)
            values = {
                "username": username,
                "first_name": row["givenName"][:150],
                "last_name": row["familyName"][:150],
                "email": row["email"],
                "is_active": row["enabledUser"].lower() != "false",
            }
            if not self._track(row, "users", user, values):
                continue
            self.staff[row.sourced_id] = user
            self.staff_district[row.sourced_id] = district
            if new_link:
                self.plan.sourced_users.append(
                    SourcedUser(district=district, sourced_id=row.sourced_id, user=user)
                )

    def plan_roles(self) -> None:
        """Students' enrollments at their schools (R3) and staff roles (R36)."""
        student_roles: list[tuple[Row, Student, School]] = []
        staff_ids = [u.pk for u in self.staff.values() if u.pk]
        held: set[RoleKey] = set(
            StaffRole.objects.filter(user_id__in=staff_ids).values_list(
                "user_id", "role", "district_id", "school_id"
            )
        )
        # (user, role, district, school): ids of the objects (saved or not) in new_roles,
        # primary keys in held.
        new_roles: set[RoleKey] = set()
        for row in self.rs["roles"]:
            sid, org = row["userSourcedId"], row["orgSourcedId"]
            if row["role"] == "student":
                student = self.students.get(sid)
                if student is None:
                    if not self.rs.sent("users"):
                        self.issue(row, "userSourcedId", "Send users.csv with the student's row.")
                    continue
                school = self._school(org, row, "orgSourcedId")
                if school is not None:
                    student_roles.append((row, student, school))
                continue
            role = STAFF_ROLES.get(row["role"])
            user = self.staff.get(sid)
            if role is None or user is None or row.deleted:
                continue
            if role == Role.SCHOOL_ADMIN and org in self.districts:
                role = Role.DISTRICT_ADMIN
            if role == Role.DISTRICT_ADMIN:
                district = self.districts.get(org)
                if district is None:
                    self.issue(
                        row,
                        "orgSourcedId",
                        "Give a district admin's role at an org of type district.",
                    )
                    continue
                key: RoleKey = (id(user), role, id(district), None)
                obj = StaffRole(user=user, role=role, district=district)
                saved: RoleKey | None = (
                    (user.pk, role, district.pk, None) if user.pk and district.pk else None
                )
            else:
                school = self._school(org, row, "orgSourcedId")
                if school is None:
                    continue
                key = (id(user), role, None, id(school))
                obj = StaffRole(user=user, role=role, school=school)
                saved = (user.pk, role, None, school.pk) if user.pk and school.pk else None
                if role == Role.TEACHER:
                    self.teacher_at.add((id(user), id(school)))
            if key in new_roles:
                continue
            new_roles.add(key)
            if saved is not None and saved in held:
                self.roles_sent.add(saved)
                self.count("roles", UNCHANGED)
            else:
                self.plan.creates[StaffRole].append(obj)
                self.count("roles", ADDED)
        self._plan_enrollments_of(student_roles)

    def _plan_enrollments_of(self, student_roles: list[tuple[Row, Student, School]]) -> None:
        school_cals: dict[str | None, list[Calendar]] = defaultdict(list)  # by school sid
        for (school_sid, _), calendar in self.calendars.items():
            school_cals[school_sid].append(calendar)
        # A delta may enroll a student at a school whose classes it does not send: use the
        # school's calendars already in the database.
        schools = {s.pk: s for _, _, s in student_roles if s.pk and s.sourced_id not in school_cals}
        for calendar in Calendar.objects.filter(school_id__in=schools):
            calendar.school = schools[calendar.school_id]
            school_cals[calendar.school.sourced_id].append(calendar)
        cal_ids = {c.pk for cals in school_cals.values() for c in cals if c.pk}
        existing = light_rows(Enrollment.objects.filter(calendar_id__in=cal_ids))
        by_sid = {(e.calendar_id, e.sourced_id): e for e in existing if e.sourced_id}
        by_student = {(e.calendar_id, e.student_id): e for e in existing}
        for e in existing:
            self.enrolled.add((e.student_id, e.calendar_id))
        primaries: dict[tuple[int, int], Row] = {}
        planned_primary: list[tuple[Row, Student, Calendar]] = []
        sent: set[tuple[int, str]] = set()
        for row, student, school in student_roles:
            begin = self._date(row, "beginDate")
            end = self._date(row, "endDate")
            cals = school_cals.get(school.sourced_id, [])
            if len(cals) > 1:
                day = begin or self.today
                cals = [c for c in cals if c.start_date <= day <= c.end_date]
            if len(cals) != 1:
                self.issue(
                    row,
                    "orgSourcedId",
                    "The school has no single school year in this set for this role; send its "
                    "classes and give beginDate inside the school year.",
                )
                continue
            calendar = cals[0]
            enrollment = None
            if calendar.pk:
                enrollment = by_sid.get((calendar.pk, row.sourced_id))
                if enrollment is None and student.pk:
                    enrollment = by_student.get((calendar.pk, student.pk))
            sent.add((calendar.pk, row.sourced_id))
            if row.deleted:
                self._end(row, "roles", enrollment, end)
                continue
            enrollment = enrollment or Enrollment(student=student, calendar=calendar)
            primary = (
                not school.kind == SchoolKind.TECHNICAL_SCHOOL and row["roleType"] != "secondary"
            )
            start = begin or calendar.start_date
            if end and start > end:
                self.issue(row, "endDate", "Set the end date on or after the start date.")
                continue
            values = {
                "service_type": ServiceType.PRIMARY if primary else ServiceType.SECONDARY,
                "school_year": calendar.school_year,
                "start_date": start,
                "end_date": end,
                "sourced_id": row.sourced_id,
            }
            if enrollment.pk is None:
                values["grade_level"] = ""
            if primary:
                key = (id(student), calendar.school_year)
                if key in primaries:
                    self.issue(
                        row,
                        "orgSourcedId",
                        f"The student already has a primary enrollment this school year (line "
                        f"{primaries[key].line}); make one of them secondary (R3).",
                    )
                    continue
                primaries[key] = row
                planned_primary.append((row, student, calendar))
            if self._track(row, "roles", enrollment, values):
                self.enrolled.add((id(student), id(calendar)))
                if calendar.pk:  # the same calendar read again through a class
                    self.enrolled.add((id(student), calendar.pk))
                if student.pk and calendar.pk:
                    self.enrolled.add((student.pk, calendar.pk))
        # R3 across the database: a primary enrollment at a school outside this set.
        # Two narrow columns of every primary enrollment of those years elsewhere: cheaper
        # than tens of thousands of student ids sent as parameters.
        years = {c.school_year for _, _, c in planned_primary}
        elsewhere = (
            Enrollment.objects.filter(service_type=ServiceType.PRIMARY, school_year__in=years)
            .exclude(calendar_id__in=cal_ids)
            .values_list("student_id", "school_year", "calendar__school__name")
        )
        clash = {(s, y): name for s, y, name in elsewhere.iterator(chunk_size=CHUNK)}
        for row, student, calendar in planned_primary:
            other = clash.get((student.pk, calendar.school_year))
            if other is not None:
                self.issue(
                    row,
                    "orgSourcedId",
                    f"The student already has a primary enrollment at {other} "
                    "this school year; make this one secondary (R3).",
                )
        if self.rs.bulk("roles"):
            for e in existing:
                if e.sourced_id and (e.calendar_id, e.sourced_id) not in sent:
                    self._end(None, "roles", e, None)
