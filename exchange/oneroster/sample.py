"""The sample OneRoster set shipped in ``exchange/demo/oneroster/`` (and the tests' base set):
Pine Ridge County Schools, two high schools, quarters, an English course and a KTS course
at each, their teachers and students."""

from __future__ import annotations

SCHOOL_YEAR = {"sourcedId": "sy-2027", "start": "2026-08-10", "end": "2027-05-28"}
QUARTERS = [
    ("q1-2027", "Q1", "2026-08-10", "2026-10-09"),
    ("q2-2027", "Q2", "2026-10-12", "2026-12-18"),
    ("q3-2027", "Q3", "2027-01-04", "2027-03-12"),
    ("q4-2027", "Q4", "2027-03-15", "2027-05-28"),
]
SCHOOLS = [
    ("org-prhs", "PRHS", "Pine Ridge High School"),
    ("org-pehs", "PEHS", "Pine East High School"),
]
COURSES = [
    ("eng2", "ENG2", "English II", "false", ""),
    ("aut1", "AUT1", "Automotive Technology I", "true", "470601"),
]
FIRST = ["Avery", "Blake", "Casey", "Devon", "Emery", "Finley", "Gray", "Harper", "Indy", "Jules"]
LAST = ["Adams", "Baker", "Clark", "Dunn", "Ellis", "Frost", "Gates", "Hale", "Irwin", "Jones"]


def sample_files(*, students_per_school: int = 6) -> dict[str, list[dict[str, str]]]:
    files: dict[str, list[dict[str, str]]] = {
        "orgs": [
            {
                "sourcedId": "org-pine",
                "name": "Pine Ridge County Schools",
                "type": "district",
                "identifier": "PINE",
            }
        ],
        "academicSessions": [
            {
                "sourcedId": SCHOOL_YEAR["sourcedId"],
                "title": "2026-27",
                "type": "schoolYear",
                "startDate": SCHOOL_YEAR["start"],
                "endDate": SCHOOL_YEAR["end"],
                "schoolYear": "2027",
            }
        ]
        + [
            {
                "sourcedId": sid,
                "title": title,
                "type": "gradingPeriod",
                "startDate": start,
                "endDate": end,
                "parentSourcedId": SCHOOL_YEAR["sourcedId"],
                "schoolYear": "2027",
            }
            for sid, title, start, end in QUARTERS
        ],
        "courses": [],
        "classes": [],
        "users": [
            {
                "sourcedId": "usr-pine-admin",
                "enabledUser": "true",
                "username": "pine-admin",
                "givenName": "Morgan",
                "familyName": "Pike",
                "identifier": "E0001",
                "email": "pine-admin@example.org",
            }
        ],
        "roles": [
            {
                "sourcedId": "rol-pine-admin",
                "userSourcedId": "usr-pine-admin",
                "roleType": "primary",
                "role": "districtAdministrator",
                "orgSourcedId": "org-pine",
            }
        ],
        "enrollments": [],
        "demographics": [],
    }
    terms = ",".join(q[0] for q in QUARTERS)
    n = 0
    for s, (org, code, name) in enumerate(SCHOOLS):
        files["orgs"].append(
            {
                "sourcedId": org,
                "name": name,
                "type": "school",
                "identifier": code,
                "parentSourcedId": "org-pine",
                "metadata.kts.schoolKind": "high_school",
            }
        )
        teacher = f"usr-{code.lower()}-t1"
        files["users"].append(
            {
                "sourcedId": teacher,
                "enabledUser": "true",
                "username": f"{code.lower()}-teacher",
                "givenName": "Robin",
                "familyName": LAST[s],
                "identifier": f"E1{s:03d}",
                "email": f"{code.lower()}-teacher@example.org",
            }
        )
        files["roles"].append(
            {
                "sourcedId": f"rol-{code.lower()}-t1",
                "userSourcedId": teacher,
                "roleType": "primary",
                "role": "teacher",
                "orgSourcedId": org,
            }
        )
        for key, number, title, is_kts, state_code in COURSES:
            course = f"crs-{code.lower()}-{key}"
            files["courses"].append(
                {
                    "sourcedId": course,
                    "schoolYearSourcedId": SCHOOL_YEAR["sourcedId"],
                    "title": title,
                    "courseCode": number,
                    "orgSourcedId": org,
                    "metadata.kts.isKts": is_kts,
                    "metadata.kts.stateCode": state_code,
                }
            )
            files["classes"].append(
                {
                    "sourcedId": f"cls-{code.lower()}-{key}-1",
                    "title": f"{title} (1)",
                    "courseSourcedId": course,
                    "classCode": "1",
                    "classType": "scheduled",
                    "schoolSourcedId": org,
                    "termSourcedIds": terms,
                }
            )
            files["enrollments"].append(
                {
                    "sourcedId": f"enr-{code.lower()}-{key}-t1",
                    "classSourcedId": f"cls-{code.lower()}-{key}-1",
                    "schoolSourcedId": org,
                    "userSourcedId": teacher,
                    "role": "teacher",
                    "primary": "true",
                }
            )
        for _ in range(students_per_school):
            n += 1
            user = f"usr-stu-{n:04d}"
            files["users"].append(
                {
                    "sourcedId": user,
                    "enabledUser": "true",
                    "username": f"stu{n:04d}",
                    "givenName": FIRST[n % len(FIRST)],
                    "familyName": LAST[(n // len(FIRST)) % len(LAST)],
                    "identifier": f"{7100000000 + n}",
                    "grades": "11",
                }
            )
            files["roles"].append(
                {
                    "sourcedId": f"rol-stu-{n:04d}",
                    "userSourcedId": user,
                    "roleType": "primary",
                    "role": "student",
                    "orgSourcedId": org,
                    "beginDate": SCHOOL_YEAR["start"],
                }
            )
            files["demographics"].append({"sourcedId": user, "birthDate": f"2009-0{1 + n % 9}-15"})
            for key, *_ in COURSES:
                files["enrollments"].append(
                    {
                        "sourcedId": f"enr-stu-{n:04d}-{key}",
                        "classSourcedId": f"cls-{code.lower()}-{key}-1",
                        "schoolSourcedId": org,
                        "userSourcedId": user,
                        "role": "student",
                        "primary": "false",
                        "beginDate": SCHOOL_YEAR["start"],
                    }
                )
    return files
