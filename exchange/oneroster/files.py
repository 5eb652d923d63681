"""Write OneRoster 1.2 CSV sets (the export, the sample set, the benchmark's set)."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

# The OneRoster 1.2 CSV headers, in the binding's order, plus the KTS extension columns.
HEADERS = {
    "orgs": [
        "sourcedId", "status", "dateLastModified", "name", "type", "identifier",
        "parentSourcedId", "metadata.kts.schoolKind",
    ],
    "academicSessions": [
        "sourcedId", "status", "dateLastModified", "title", "type", "startDate", "endDate",
        "parentSourcedId", "schoolYear",
    ],
    "courses": [
        "sourcedId", "status", "dateLastModified", "schoolYearSourcedId", "title", "courseCode",
        "grades", "orgSourcedId", "subjects", "subjectCodes", "metadata.kts.isKts",
        "metadata.kts.stateCode",
    ],
    "classes": [
        "sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId",
        "classCode", "classType", "location", "schoolSourcedId", "termSourcedIds", "subjects",
        "subjectCodes", "periods",
    ],
    "users": [
        "sourcedId", "status", "dateLastModified", "enabledUser", "username", "userIds",
        "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone",
        "agentSourcedIds", "grades", "password", "userMasterIdentifier", "resourceSourcedIds",
        "preferredGivenName", "preferredMiddleName", "preferredFamilyName",
        "primaryOrgSourcedId", "pronouns",
    ],
    "roles": [
        "sourcedId", "status", "dateLastModified", "userSourcedId", "roleType", "role",
        "beginDate", "endDate", "orgSourcedId", "userProfileSourcedId",
    ],
    "enrollments": [
        "sourcedId", "status", "dateLastModified", "classSourcedId", "schoolSourcedId",
        "userSourcedId", "role", "primary", "beginDate", "endDate",
    ],
    "demographics": [
        "sourcedId", "status", "dateLastModified", "birthDate", "sex",
        "americanIndianOrAlaskaNative", "asian", "blackOrAfricanAmerican",
        "nativeHawaiianOrOtherPacificIslander", "white", "demographicRaceTwoOrMoreRaces",
        "hispanicOrLatinoEthnicity", "countryOfBirthCode", "stateOfBirthAbbreviation",
        "cityOfBirth", "publicSchoolResidenceStatus",
    ],
    "categories": ["sourcedId", "status", "dateLastModified", "title"],
    "lineItems": [
        "sourcedId", "status", "dateLastModified", "title", "description", "assignDate",
        "dueDate", "classSourcedId", "categorySourcedId", "gradingPeriodSourcedId",
        "resultValueMin", "resultValueMax",
    ],
    "results": [
        "sourcedId", "status", "dateLastModified", "lineItemSourcedId", "studentSourcedId",
        "scoreStatus", "score", "textScore", "scoreDate", "comment",
    ],
}  # fmt: skip


def csv_bytes(name: str, rows: Sequence[Mapping[str, object]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=HEADERS[name], lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue().encode("utf-8")


def manifest_bytes(modes: dict[str, str], *, source: str = "KTS Data Exchange") -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["propertyName", "value"])
    writer.writerow(["manifest.version", "1.0"])
    writer.writerow(["oneroster.version", "1.2"])
    for name in HEADERS:
        writer.writerow([f"file.{name}", modes.get(name, "absent")])
    writer.writerow(["source.systemName", source])
    return out.getvalue().encode("utf-8")


def set_files(
    files: Mapping[str, Sequence[Mapping[str, object]]], modes: dict[str, str] | None = None
) -> dict[str, bytes]:
    """``{file name: bytes}`` of a whole set; every file given is ``bulk`` unless ``modes``
    says otherwise."""
    modes = {name: (modes or {}).get(name, "bulk") for name in files}
    out = {"manifest.csv": manifest_bytes(modes)}
    out.update({f"{name}.csv": csv_bytes(name, rows) for name, rows in files.items()})
    return out


def write_folder(path: Path | str, files: dict[str, bytes]) -> Path:
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (root / name).write_bytes(data)
    return root


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()
