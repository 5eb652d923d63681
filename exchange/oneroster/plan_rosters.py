"""Planning a OneRoster set's enrollments: rosters and section teachers (R48, R50)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Q

from exchange.models import SourcedUser
from exchange.oneroster.plan import (
    ADDED,
    ENDED,
    STAMPS,
    UNCHANGED,
    PlannerBase,
    fetch_in,
    light_rows,
)
from exchange.oneroster.reader import Row
from schools.models import (
    Enrollment,
    Role,
    Roster,
    Section,
    StaffRole,
    Student,
)


class RostersMixin(PlannerBase):
    def plan_enrollments(self) -> None:
        """enrollments.csv: students -> rosters, teachers -> section teachers (R50)."""
        rows = self.rs["enrollments"]
        if not rows and not self.rs.bulk("enrollments"):
            return
        missing = {r["classSourcedId"] for r in rows} - set(self.sections)
        if missing:
            self._sections_from_db(missing)
        missing = {r["userSourcedId"] for r in rows if r["role"] == "student"} - set(self.students)
        if missing:
            self._students_from_db(missing)
        missing = {r["userSourcedId"] for r in rows if r["role"] == "teacher"} - set(self.staff)
        if missing:
            self._staff_from_db(missing)
        section_ids = {s.pk for s in self.sections.values() if s.pk}
        scope = Q(section_id__in=section_ids)
        if self.rs.bulk("enrollments"):  # rosters absent from the file end: read the schools'
            scope |= Q(section__course__calendar__school_id__in=self.scope_school_ids)
        existing = light_rows(Roster.objects.filter(scope))
        by_sid = {(r.section_id, r.sourced_id): r for r in existing if r.sourced_id}
        by_pair: dict[tuple[int, int], list[Roster]] = defaultdict(list)
        for r in existing:
            by_pair[(r.student_id, r.section_id)].append(r)
        teachers = set(
            Section.teachers.through.objects.filter(section_id__in=section_ids).values_list(
                "section_id", "user_id"
            )
        )
        sent_classes = {r.sourced_id for r in self.rs["classes"]}
        sent_users = {r.sourced_id for r in self.rs["users"]}
        sent: set[tuple[int, str]] = set()
        planned: dict[tuple[int, int], list[tuple[Row, dt.date, dt.date | None]]] = defaultdict(
            list
        )
        claimed: set[int] = set()
        bulk = self.rs.bulk("enrollments")
        for row in rows:
            section = self.sections.get(row["classSourcedId"])
            if section is None:
                if row["classSourcedId"] not in sent_classes:  # else its own line is reported
                    self.issue(row, "classSourcedId", "No class in classes.csv has this sourcedId.")
                continue
            begin = self._date(row, "beginDate")
            end = self._date(row, "endDate")
            if row["role"] == "teacher":
                self._plan_teacher(row, section, teachers)
                continue
            if row["role"] != "student":
                continue
            student = self.students.get(row["userSourcedId"])
            if student is None:
                if row["userSourcedId"] not in sent_users:
                    self.issue(row, "userSourcedId", "No student in users.csv has this sourcedId.")
                continue
            calendar = section.course.calendar
            roster = by_sid.get((section.id, row.sourced_id)) if section.id else None
            if roster is None and section.id and student.id:
                # Adopt a roster entered by hand (no sourcedId) for the same student and section.
                for r in by_pair.get((student.id, section.id), []):
                    if (
                        r.id not in claimed
                        and not r.sourced_id
                        and (r.end_date is None or r.start_date == begin)
                    ):
                        roster = r
                        break
            if roster is not None:
                claimed.add(roster.id)
            sent.add((section.id, row.sourced_id))
            if row.deleted:
                self._end(row, "enrollments", roster, end)
                continue
            start = begin or calendar.start_date
            if end and start > end:
                self.issue(row, "endDate", "Set the end date on or after the start date.")
                continue
            if not (calendar.start_date <= start <= calendar.end_date):
                self.issue(
                    row,
                    "beginDate",
                    f"Start the roster inside the school year ({calendar.start_date} to "
                    f"{calendar.end_date}).",
                )
                continue
            if (
                (id(student), id(calendar)) not in self.enrolled
                and (id(student), calendar.id) not in self.enrolled
                and (student.id is None or (student.id, calendar.id) not in self.enrolled)
            ):
                self.issue(
                    row,
                    "userSourcedId",
                    f"Enroll the student at {calendar.school} (a student role in roles.csv) "
                    "before rostering them.",
                )
                continue
            pair = (id(student), id(section))
            clash = [
                p
                for p in planned.get(pair, ())
                if p[1] <= (end or dt.date.max) and start <= (p[2] or dt.date.max)
            ]
            if clash:
                self.issue(
                    row,
                    "sourcedId",
                    f"The student is already rostered in this class for these dates (line "
                    f"{clash[0][0].line}).",
                )
                continue
            if student.id and section.id:
                # One open roster per student and section (R48): a roster kept outside this
                # set may not overlap (in bulk mode imported ones absent from the file end).
                other = next(
                    (
                        r
                        for r in by_pair.get((student.id, section.id), [])
                        if r is not roster
                        and not (bulk and r.sourced_id)
                        and r.start_date <= (end or dt.date.max)
                        and start <= (r.end_date or dt.date.max)
                    ),
                    None,
                )
                if other is not None:
                    self.issue(
                        row,
                        "beginDate",
                        f"The student is already rostered in this class from {other.start_date}; "
                        "end that roster first.",
                    )
                    continue
            planned[pair].append((row, start, end))
            roster = roster or Roster(student=student, section=section)
            values = {"start_date": start, "end_date": end, "sourced_id": row.sourced_id}
            self._track(row, "enrollments", roster, values)
        if bulk:
            self._unlink_absent_teachers(teachers)
            for r in existing:
                if (
                    r.sourced_id
                    and (r.section_id, r.sourced_id) not in sent
                    and r.id not in claimed
                ):
                    self._end(None, "enrollments", r, None)

    def _unlink_absent_teachers(self, teachers: set[tuple[int, int]]) -> None:
        """Bulk mode: an imported teacher no longer sent for a class of the set leaves it
        (teachers assigned by hand stay)."""
        district_ids = {d.pk for d in self.districts.values() if d.pk}
        imported = set(
            SourcedUser.objects.filter(district_id__in=district_ids).values_list(
                "user_id", flat=True
            )
        )
        for section_id, user_id in sorted(teachers - self.teachers_sent):
            if user_id in imported:
                self.plan.teacher_unlinks.append((section_id, user_id))
                self.count("enrollments", ENDED)

    def _plan_teacher(self, row: Row, section: Section, teachers: set[tuple[int, int]]) -> None:
        user = self.staff.get(row["userSourcedId"])
        if user is None:
            self.issue(row, "userSourcedId", "No teacher in users.csv has this sourcedId.")
            return
        school = section.course.calendar.school
        if row.deleted:
            if section.pk and user.pk and (section.pk, user.pk) in teachers:
                self.plan.teacher_unlinks.append((section.pk, user.pk))
                self.count("enrollments", ENDED)
            else:
                self.count("enrollments", UNCHANGED)
            return
        # A teacher role saved before counts, except when the set sends every user and role
        # in bulk: then a role the file no longer sends is about to go (plan_deletions).
        every_role = self.rs.bulk("roles") and self.rs.bulk("users")
        if (id(user), id(school)) not in self.teacher_at and (
            every_role
            or not (
                user.pk
                and StaffRole.objects.filter(user=user, role=Role.TEACHER, school=school).exists()
            )
        ):
            self.issue(
                row,
                "userSourcedId",
                f"Give the teacher a teacher role at {school} in roles.csv (R41).",
            )
            return
        if section.pk and user.pk:
            self.teachers_sent.add((section.pk, user.pk))
        if section.pk and user.pk and (section.pk, user.pk) in teachers:
            self.count("enrollments", UNCHANGED)
        else:
            self.plan.teacher_links.append((section, user))
            self.count("enrollments", ADDED)

    def _sections_from_db(self, sids: set[str]) -> None:
        allowed = self._allowed_districts()
        qs = Section.objects.select_related("course__calendar__school")
        if allowed is not None:
            qs = qs.filter(course__calendar__school__district_id__in=allowed)
        found: dict[str | None, list[Section]] = defaultdict(list)
        for s in fetch_in(qs, "sourced_id", sids):
            found[s.sourced_id].append(s)
        for sid, sections in found.items():
            if sid is not None and len(sections) == 1:  # (found by sourcedId: never None)
                self.sections[sid] = sections[0]
                self.scope_school_ids.add(sections[0].course.calendar.school_id)

    def _students_from_db(self, sids: set[str]) -> None:
        found: dict[str | None, list[Student]] = defaultdict(list)
        for s in fetch_in(Student.objects.defer(*STAMPS), "sourced_id", sids):
            found[s.sourced_id].append(s)
        for sid, students in found.items():
            if sid is not None and len(students) == 1:  # (found by sourcedId: never None)
                self.students[sid] = students[0]
        ids = [s.pk for s in self.students.values() if s.pk]
        for student_id, calendar_id in fetch_in(
            Enrollment.objects.values_list("student_id", "calendar_id"), "student_id", ids
        ):
            self.enrolled.add((student_id, calendar_id))

    def _staff_from_db(self, sids: set[str]) -> None:
        allowed = self._allowed_districts()
        qs = SourcedUser.objects.select_related("user")
        if allowed is not None:
            qs = qs.filter(district_id__in=allowed)
        for link in fetch_in(qs, "sourced_id", sids):
            self.staff.setdefault(link.sourced_id, link.user)


# --- writing -------------------------------------------------------------------------------
