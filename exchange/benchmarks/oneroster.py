"""A OneRoster 1.2 CSV set of the ``bench_exchange`` size, for ``manage.py bench_import``.

Same shape as ``dataset.py``: one district per high school plus the KTS district of the
technical schools, quarters at the high schools and semesters at the technical schools, two
KTS courses per school (4 sections each at a HS, 20 at a tech school), every student
enrolled at their HS and rostered in one section of each KTS course (80,000 rosters at the
default 40,000 students), two teachers per school teaching its sections.
"""

from __future__ import annotations

from exchange.benchmarks.dataset import (
    HS_SECTIONS_PER_COURSE,
    KTS_COURSES,
    TECH_SECTIONS_PER_COURSE,
    largest_hs_share,
)
from exchange.oneroster.reader import FILES

YEAR_SID = "sy-2027"
QUARTERS = [
    ("q1", "Q1", "2026-08-10", "2026-10-09"),
    ("q2", "Q2", "2026-10-12", "2026-12-18"),
    ("q3", "Q3", "2027-01-04", "2027-03-12"),
    ("q4", "Q4", "2027-03-15", "2027-05-28"),
]
SEMESTERS = [("s1", "S1", "2026-08-10", "2026-12-18"), ("s2", "S2", "2027-01-04", "2027-05-28")]


def _spread(students: int, high_schools: int) -> list[int]:
    first = largest_hs_share(students=students, high_schools=high_schools)
    rest = students - first
    others = high_schools - 1
    counts = [first] + [rest // others + (1 if i < rest % others else 0) for i in range(others)]
    return counts if others else [students]


def generate(*, tech_schools: int = 50, high_schools: int = 220, students: int = 40_000) -> dict:
    files: dict[str, list[dict]] = {name: [] for name in FILES}
    sessions = files["academicSessions"]
    sessions.append(
        {
            "sourcedId": YEAR_SID,
            "title": "2026-27",
            "type": "schoolYear",
            "startDate": "2026-08-10",
            "endDate": "2027-05-28",
            "schoolYear": "2027",
        }
    )
    for sid, title, start, end in QUARTERS + SEMESTERS:
        sessions.append(
            {
                "sourcedId": sid,
                "title": title,
                "type": "gradingPeriod" if sid.startswith("q") else "semester",
                "startDate": start,
                "endDate": end,
                "parentSourcedId": YEAR_SID,
                "schoolYear": "2027",
            }
        )
    files["orgs"].append(
        {
            "sourcedId": "d-kts",
            "name": "Bench Kentucky Tech System",
            "type": "district",
            "identifier": "BENCH-KTS",
        }
    )
    schools = []  # (org sid, kind, sections per course, terms)
    for i in range(tech_schools):
        schools.append(
            (f"t{i:03d}", "technical_school", TECH_SECTIONS_PER_COURSE, SEMESTERS, "d-kts")
        )
    for i in range(high_schools):
        files["orgs"].append(
            {
                "sourcedId": f"d{i:03d}",
                "name": f"Bench district {i}",
                "type": "district",
                "identifier": f"BENCH-{i:03d}",
            }
        )
        schools.append((f"h{i:03d}", "high_school", HS_SECTIONS_PER_COURSE, QUARTERS, f"d{i:03d}"))
    hs_classes: dict[str, list[list[str]]] = {}
    for org, kind, per_course, terms, district in schools:
        files["orgs"].append(
            {
                "sourcedId": org,
                "name": f"Bench {'ATC' if kind == 'technical_school' else 'HS'} {org}",
                "type": "school",
                "identifier": org.upper(),
                "parentSourcedId": district,
                "metadata.kts.schoolKind": kind,
            }
        )
        teachers = [f"{org}-t{n}" for n in range(2)]
        for teacher in teachers:
            files["users"].append(
                {
                    "sourcedId": teacher,
                    "enabledUser": "true",
                    "username": f"bench-{teacher}",
                    "givenName": "Bench",
                    "familyName": f"Teacher {teacher}",
                    "identifier": f"E-{teacher}",
                }
            )
            files["roles"].append(
                {
                    "sourcedId": f"r-{teacher}",
                    "userSourcedId": teacher,
                    "roleType": "primary",
                    "role": "teacher",
                    "orgSourcedId": org,
                }
            )
        term_sids = ",".join(t[0] for t in terms)
        for k in range(KTS_COURSES):
            course = f"{org}-c{k}"
            files["courses"].append(
                {
                    "sourcedId": course,
                    "schoolYearSourcedId": YEAR_SID,
                    "title": f"KTS course {k}",
                    "courseCode": f"K{k}",
                    "orgSourcedId": org,
                    "metadata.kts.isKts": "true",
                }
            )
            sections = []
            for n in range(per_course):
                cls = f"{course}-{n + 1}"
                sections.append(cls)
                files["classes"].append(
                    {
                        "sourcedId": cls,
                        "title": f"KTS course {k} ({n + 1})",
                        "courseSourcedId": course,
                        "classCode": str(n + 1),
                        "classType": "scheduled",
                        "schoolSourcedId": org,
                        "termSourcedIds": term_sids,
                    }
                )
                files["enrollments"].append(
                    {
                        "sourcedId": f"e-{cls}-{teachers[n % 2]}",
                        "classSourcedId": cls,
                        "schoolSourcedId": org,
                        "userSourcedId": teachers[n % 2],
                        "role": "teacher",
                        "primary": "true",
                    }
                )
            if kind == "high_school":
                hs_classes.setdefault(org, []).append(sections)
    n = 0
    for (org, *_), count in zip(
        [s for s in schools if s[1] == "high_school"], _spread(students, high_schools), strict=True
    ):
        for i in range(count):
            sid = f"u{n:06d}"
            files["users"].append(
                {
                    "sourcedId": sid,
                    "enabledUser": "true",
                    "username": "",
                    "givenName": "Bench",
                    "familyName": f"Student{n}",
                    "identifier": f"B{n:09d}",
                    "grades": "11",
                }
            )
            files["demographics"].append({"sourcedId": sid, "birthDate": "2009-05-01"})
            files["roles"].append(
                {
                    "sourcedId": f"r-{sid}",
                    "userSourcedId": sid,
                    "roleType": "primary",
                    "role": "student",
                    "orgSourcedId": org,
                    "beginDate": "2026-08-10",
                }
            )
            for k, sections in enumerate(hs_classes[org]):
                cls = sections[i % len(sections)]
                files["enrollments"].append(
                    {
                        "sourcedId": f"e-{sid}-{k}",
                        "classSourcedId": cls,
                        "schoolSourcedId": org,
                        "userSourcedId": sid,
                        "role": "student",
                        "primary": "false",
                        "beginDate": "2026-08-10",
                    }
                )
            n += 1
    return files


def delta_of(files: dict, *, share: float = 0.01) -> dict:
    """A delta ``enrollments`` file touching ``share`` of the student enrollments: half of
    them ``tobedeleted`` (ended on 2026-11-01), half moved to a later begin date."""
    students = [e for e in files["enrollments"] if e["role"] == "student"]
    step = max(1, round(1 / share))
    rows = []
    for i, e in enumerate(students[::step]):
        row = dict(e, dateLastModified="2026-11-02T08:00:00Z")
        if i % 2:
            row.update(status="tobedeleted", endDate="2026-11-01")
        else:
            row.update(status="active", beginDate="2026-08-17")
        rows.append(row)
    return {"enrollments": rows}
