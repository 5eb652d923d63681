"""Read a OneRoster 1.2 CSV set (a zip or a folder) as the CSV binding defines it (R50).

UTF-8 (a byte-order mark is accepted), header names case-sensitive, the columns this
project reads required, ``metadata.kts.*`` extension columns read and any other extension
ignored, bulk or delta per ``manifest.csv``. Nothing here touches the database.
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple, NoReturn

FILES = (
    "orgs",
    "academicSessions",
    "courses",
    "classes",
    "users",
    "roles",
    "enrollments",
    "demographics",
)
COMMON = ("sourcedId", "status", "dateLastModified")
# Columns that must be in the header (the ones the import reads; extra columns are fine).
REQUIRED_COLUMNS = {
    "orgs": (*COMMON, "name", "type", "identifier", "parentSourcedId"),
    "academicSessions": (
        *COMMON,
        "title",
        "type",
        "startDate",
        "endDate",
        "parentSourcedId",
        "schoolYear",
    ),
    "courses": (*COMMON, "schoolYearSourcedId", "title", "courseCode", "orgSourcedId"),
    "classes": (
        *COMMON,
        "title",
        "courseSourcedId",
        "classCode",
        "classType",
        "schoolSourcedId",
        "termSourcedIds",
    ),
    "users": (*COMMON, "enabledUser", "username", "givenName", "familyName", "identifier"),
    "roles": (
        *COMMON,
        "userSourcedId",
        "roleType",
        "role",
        "beginDate",
        "endDate",
        "orgSourcedId",
    ),
    "enrollments": (
        *COMMON,
        "classSourcedId",
        "schoolSourcedId",
        "userSourcedId",
        "role",
        "beginDate",
        "endDate",
    ),
    "demographics": (*COMMON, "birthDate"),
}
# Optional columns read when present; every other column is ignored.
OPTIONAL_COLUMNS = {
    "orgs": ("metadata.kts.schoolKind",),
    "courses": ("metadata.kts.isKts", "metadata.kts.stateCode"),
    "users": ("email",),
}
BULK, DELTA, ABSENT = "bulk", "delta", "absent"
ACTIVE, TOBEDELETED = "active", "tobedeleted"


class Issue(NamedTuple):
    """One problem, named so a data clerk can find and fix it."""

    file: str
    line: int | None
    sourced_id: str
    field: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return self._asdict()


@dataclass(slots=True)
class Row:
    file: str
    line: int
    values: dict[str, str]

    def __getitem__(self, column: str) -> str:
        return self.values.get(column, "")

    @property
    def sourced_id(self) -> str:
        return self.values.get("sourcedId", "")

    @property
    def deleted(self) -> bool:
        return self.values.get("status", "") == TOBEDELETED


@dataclass
class RosterSet:
    """The files of one set: ``modes[name]`` is bulk or delta for every file that was sent."""

    modes: dict[str, str] = field(default_factory=dict)
    rows: dict[str, list[Row]] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)

    def sent(self, name: str) -> bool:
        return name in self.modes

    def bulk(self, name: str) -> bool:
        return self.modes.get(name) == BULK

    def __getitem__(self, name: str) -> list[Row]:
        return self.rows.get(name, [])


Reader = Callable[[str], bytes | None]  # reads one file of the set by name; None when missing
Progress = Callable[[str, int], None]


def _opener(path: Path | str | bytes) -> tuple[Reader, Callable[[], None]]:
    """A function reading one file of the set by name (None when missing), and a closer."""
    if isinstance(path, bytes):
        archive = zipfile.ZipFile(io.BytesIO(path))
    elif Path(path).is_dir():
        root = Path(path)

        def read_dir(name: str) -> bytes | None:
            target = root / name
            return target.read_bytes() if target.is_file() else None

        return read_dir, lambda: None
    else:
        archive = zipfile.ZipFile(path)
    # Sets zipped from a folder keep the folder name: accept files one level down too.
    names = {Path(n).name: n for n in archive.namelist() if not n.endswith("/")}

    def read_zip(name: str) -> bytes | None:
        return archive.read(names[name]) if name in names else None

    return read_zip, archive.close


def _decode(data: bytes, name: str, issues: list[Issue]) -> str | None:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        issues.append(
            Issue(name, None, "", "", f"Save the file as UTF-8 (byte {exc.start} is not UTF-8).")
        )
        return None


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    for record in reader:
        yield reader.line_num, record


def read_set(path: Path | str | bytes, *, progress: Progress | None = None) -> RosterSet:
    """Read the set at ``path`` (a folder, a zip file, or a zip's bytes)."""
    result = RosterSet()
    gc_was_on = gc.isenabled()
    gc.disable()  # 100,000s of row objects without cycles: see importer._no_cyclic_gc
    try:
        return _read_set(path, result, progress)
    finally:
        if gc_was_on:
            gc.enable()


def _read_set(path: Path | str | bytes, result: RosterSet, progress: Progress | None) -> RosterSet:
    try:
        read, close = _opener(path)
    except (zipfile.BadZipFile, FileNotFoundError, IsADirectoryError) as exc:
        result.issues.append(Issue("", None, "", "", f"Give a zip file or a folder ({exc})."))
        return result
    try:
        _read_manifest(read, result)
        for name in FILES:
            if name in result.modes:
                _read_file(read, name, result)
                if progress:
                    progress(f"{name}.csv", len(result.rows.get(name, [])))
    finally:
        close()
    return result


def _read_manifest(read: Reader, result: RosterSet) -> None:
    data = read("manifest.csv")
    if data is None:
        result.issues.append(Issue("manifest.csv", None, "", "", "Add manifest.csv to the set."))
        return
    text = _decode(data, "manifest.csv", result.issues)
    if text is None:
        return
    rows = list(_rows(text))
    if not rows or [c.strip() for c in rows[0][1][:2]] != ["propertyName", "value"]:
        result.issues.append(
            Issue(
                "manifest.csv", 1, "", "", "Start manifest.csv with the header propertyName,value."
            )
        )
        return
    for line, record in rows[1:]:
        if len(record) < 2:
            continue
        prop, value = record[0].strip(), record[1].strip()
        if not prop.startswith("file."):
            continue
        name = prop[len("file.") :]
        if name not in FILES:
            continue  # gradebook and resource files are not imported
        if value not in (BULK, DELTA, ABSENT):
            result.issues.append(
                Issue("manifest.csv", line, "", prop, "Set it to bulk, delta or absent.")
            )
        elif value != ABSENT:
            result.modes[name] = value


def _read_file(read: Reader, name: str, result: RosterSet) -> None:
    file = f"{name}.csv"
    data = read(file)
    if data is None:
        result.issues.append(
            Issue(
                file,
                None,
                "",
                "",
                f"The manifest lists {file} as {result.modes[name]}; add the file.",
            )
        )
        return
    text = _decode(data, file, result.issues)
    if text is None:
        return
    records = _rows(text)
    try:
        _, header = next(records)
    except StopIteration:
        result.issues.append(Issue(file, 1, "", "", "Add the header row."))
        return
    header = [h.strip() for h in header]
    missing = [c for c in REQUIRED_COLUMNS[name] if c not in header]
    if missing:
        for column in missing:
            result.issues.append(
                Issue(
                    file,
                    1,
                    "",
                    column,
                    f"Add the column {column} (header names are case-sensitive).",
                )
            )
        return
    wanted = set(REQUIRED_COLUMNS[name]) | set(OPTIONAL_COLUMNS.get(name, ()))
    index = [(i, h) for i, h in enumerate(header) if h in wanted]
    delta = result.modes[name] == DELTA
    rows = result.rows.setdefault(name, [])
    for line, record in records:
        if not any(cell.strip() for cell in record):
            continue
        values = {h: record[i].strip() if i < len(record) else "" for i, h in index}
        row = Row(file, line, values)
        if not _check_status(row, delta, result.issues):
            continue
        rows.append(row)


def _check_status(row: Row, delta: bool, issues: list[Issue]) -> bool:
    sid = row.sourced_id
    if not sid:
        issues.append(Issue(row.file, row.line, "", "sourcedId", "Give every row a sourcedId."))
        return False
    status, modified = row["status"], row["dateLastModified"]
    if not delta:
        if status or modified:
            issues.append(
                Issue(
                    row.file,
                    row.line,
                    sid,
                    "status" if status else "dateLastModified",
                    "Leave status and dateLastModified blank in a bulk file (the manifest says bulk).",
                )
            )
            return False
        return True
    ok = True
    if status not in (ACTIVE, TOBEDELETED):
        issues.append(
            Issue(
                row.file,
                row.line,
                sid,
                "status",
                "Set status to active or tobedeleted in a delta file.",
            )
        )
        ok = False
    if parse_datetime(modified) is None:
        issues.append(
            Issue(
                row.file,
                row.line,
                sid,
                "dateLastModified",
                "Give dateLastModified as an ISO 8601 date and time in a delta file.",
            )
        )
        ok = False
    return ok


def parse_datetime(value: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@lru_cache(maxsize=4096)  # a set repeats a few dates 100,000s of times
def parse_date(value: str) -> dt.date | None:
    """A ``YYYY-MM-DD`` date; raises ValueError on anything else."""
    return dt.date.fromisoformat(value) if len(value) == 10 else _bad_date(value)


def _bad_date(value: str) -> NoReturn:
    raise ValueError(value)
