"""R19-R22, R24: CTE grades posted at a tech school cross to the linked HS sections.

Each run reconciles the whole current school year: a grade skipped because the HS setup was
wrong arrives on the first run after the fix. Reads are a handful of plain queries into
dicts (:mod:`exchange.flows.grade_reads`); the decision is pure Python; the writes are one batched upsert of the changed grades
plus their history rows (R14, :mod:`exchange.flows.grade_writes`). A run that changes
nothing writes nothing, and a school whose inputs did not change since the last run replays
what it found then (R22, :mod:`exchange.flows.watermark`). When only some students' rows
changed (their tech grades, rosters or HS grades) and nothing every student depends on (the
links, the HS setup, the terms), the run decides those students alone and keeps what the
last run found for the others: one student's decisions depend on nothing of another's.
"""

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Literal

from exchange.flows import FlowResult, inputs, outcome, watermark
from exchange.flows.grade_reads import (
    HsSide,
    Link,
    Spans,
    TechGradeRow,
    read_hs_side,
    read_links,
    read_tech_grades,
    read_term_spans,
)
from exchange.flows.grade_writes import HsGrade, Write, write_grades
from exchange.models import Action, Flow, Reason
from grading.scoring import Row, row_for_percent
from schools import versions

FIX: dict[str, str] = {  # skip reason -> what to fix
    Reason.NOT_ROSTERED: "Roster the student in the linked HS section, or remove the KTS link.",
    Reason.NO_HS_TASK: "Add this CTE task to the HS course's grading tasks.",
    Reason.NO_ACTIVE_TERM: "Mark exactly one term active for this CTE task on the HS course.",
    Reason.TERM_OUT_OF_RANGE: "Make the HS term that lies inside the tech term the active one.",
    Reason.SCORE_UNTRANSLATABLE: "Give the HS task a score group whose Min % column matches "
    "CTE Numeric, and post a percent at the tech school.",
}


ScoreCache = dict[Decimal | None, Row | None]  # percent -> its score row (None: none fits)


# A linked HS section whose setup is right: its HS active term (id, start, end), the score
# rows, the score group's cache, the existing HS grades (student -> HS grade) and the students
# already written to that HS grade key.
Target = tuple[int, dt.date, dt.date, list[Row], ScoreCache, dict[int, HsGrade], set[int]]

# A linked HS section for one (tech section, task, tech term): (HS section, its rosters
# (student -> spans), skip reason, target) - a skip has its reason and no target, a section
# whose setup is right has no reason and its Target. Both are plain tuples, not NamedTuples:
# decide() unpacks them for every grade, and CPython unpacks an exact tuple on a fast path
# (a tuple subclass goes through an iterator: measurably slower on that loop).
Candidate = tuple[int, dict[int, Spans], str, Target | None]


def sync_grades(
    *, run_id: int, tech_school_id: int, as_of: dt.date, school_year: int, dry_run: bool
) -> FlowResult:
    """R19-R21: one outcome per tech CTE grade and linked HS section the student is rostered
    in (``not_rostered`` once, without a HS section, when the student is in none of them);
    unchanged ones are counted.

    Steps: read the links, the tech grades and their terms, the HS side; decide each
    grade; write the changed ones with their history.
    """
    links = read_links(tech_school_id=tech_school_id, school_year=school_year)
    if not links:
        return FlowResult(Flow.GRADES, [])
    mark = _Mark(tech_school_id=tech_school_id, school_year=school_year)
    # what the grade flow finds holds on any day
    if (replay := mark.replay(as_of=dt.date.max)) is not None:
        return replay
    students = mark.changed_students()  # None: every student
    tech_grades = read_tech_grades(links, students=students)
    tech_terms = read_term_spans({g[4] for g in tech_grades})
    hs = read_hs_side(links, with_prints=mark.on, students=students)
    reached: Counter[int] = Counter()
    outcomes, writes, unchanged = decide(
        tech_grades=tech_grades, tech_terms=tech_terms, links=links, hs=hs, reached=reached
    )
    if students is not None:  # and what the last run found for the other students
        outcomes, unchanged = mark.with_the_others(outcomes, unchanged, students=students)
    if not dry_run:
        prints = write_grades(writes, run_id=run_id) if writes else []
        if writes:
            # The HS schools' cached honor rolls are stale from this transaction on (the
            # schools of the written sections came with the links: no query to find them).
            school_of = {
                link.hs_section_id: link.hs_school_id for ls in links.values() for link in ls
            }
            versions.bump_grades(
                school_ids={school_of[w.section_id] for w in writes}, writer=f"x{tech_school_id}"
            )
        # A run on the state just written writes nothing and skips the same grades (the
        # skips do not depend on the HS grades): what it would find is known now.
        mark.store_written(
            writes=writes,
            prints=prints,
            as_of=as_of,
            run_id=run_id,
            reached=reached,
            students=students,
            outcomes=[o for o in outcomes if o["action"] == Action.SKIPPED],
        )
    return FlowResult(Flow.GRADES, outcomes, unchanged)


class _Mark(watermark.FlowMark):
    """The grade flow's watermark for one tech school (R22, :mod:`exchange.flows.watermark`):
    stored after the writes, for the state they leave, with its fingerprint taken apart by
    student (``FlowWatermark.by_student``)."""

    flow = Flow.GRADES
    fingerprints = staticmethod(inputs.grade_fingerprints)
    # Past this share of a school's students, one read of every row costs less than reads
    # by student, and the run decides them all.
    DECIDE_ALL_SHARE = 0.5

    parts: watermark.Parts | None = None  # the fingerprint's parts, once taken

    def take_fingerprint(self) -> str:
        self.parts = inputs.grade_fingerprint_parts(
            school_year=self.school_year, school=self.tech_school_id
        )
        return watermark.total(self.parts)

    def changed_students(self) -> list[int] | None:
        """The students whose rows changed since the stored watermark, when nothing of no
        student did (links, tasks, HS setup, terms, sections) and few enough students did;
        ``None``: decide every student."""
        kept = self.stored.by_student if self.stored is not None else {}
        parts = self.parts
        if not kept or parts is None or list(parts.get(None, (0, 0))) != kept["g"]:
            return None
        old: dict[str, list[int]] = kept["s"]
        changed = {int(s) for s in old if int(s) not in parts}  # no tech grade left
        students = 0
        for student, part in parts.items():
            if student is None or student == inputs.NO_TECH_GRADE:
                continue
            students += 1
            if old.get(str(student), [])[:2] != list(part):
                changed.add(student)
        if len(changed) > self.DECIDE_ALL_SHARE * max(len(old), students):
            return None
        return sorted(changed)

    def with_the_others(
        self, outcomes: list[dict[str, Any]], unchanged: int, *, students: list[int]
    ) -> tuple[list[dict[str, Any]], int]:
        """The outcomes and unchanged count of ``students`` just decided, with what the
        stored watermark found for every other student: what deciding all would find, in
        the same order (by tech grade; each tech grade is one student's)."""
        assert self.stored is not None
        decided = set(students)
        others = [o for o in self.stored.outcomes if o["student_id"] not in decided]
        kept = sum(
            entry[2] for s, entry in self.stored.by_student["s"].items() if int(s) not in decided
        )
        return sorted(others + outcomes, key=lambda o: o["source_id"]), unchanged + kept

    def store_written(
        self,
        *,
        writes: list[Write],
        prints: list[int],
        as_of: dt.date,
        run_id: int,
        reached: Counter[int],
        students: list[int] | None,
        outcomes: list[dict[str, Any]],
    ) -> None:
        """Store what the run found, for the state its writes leave: ``reached`` counts the
        HS grades each decided student has as they should be (written or unchanged);
        ``students``, the students decided (``None``: all)."""
        if not self.on:
            return
        parts = self._parts_after(writes, prints)
        kept = self.stored.by_student.get("s", {}) if self.stored is not None else {}
        decided = None if students is None else set(students)
        by_student: dict[str, list[int]] = {}
        for student, (count, sum_) in parts.items():
            if student is None or student == inputs.NO_TECH_GRADE:
                continue
            found = (
                reached[student] if decided is None or student in decided else kept[str(student)][2]
            )
            by_student[str(student)] = [count, sum_, found]
        self.store(
            print_=watermark.total(parts),
            as_of=as_of,
            run_id=run_id,
            unchanged=sum(entry[2] for entry in by_student.values()),
            outcomes=outcomes,
            by_student={"g": list(parts.get(None, (0, 0))), "s": by_student},
        )

    def _parts_after(self, writes: list[Write], prints: list[int]) -> watermark.Parts:
        """The fingerprint's parts once the writes are made: the parts read before, with the
        written HS grades' old hashes (read with them) swapped for the new ones (answered by
        the write) - no second read - or read now when none were taken."""
        if self.parts is None:
            return inputs.grade_fingerprint_parts(
                school_year=self.school_year, school=self.tech_school_id
            )
        parts = dict(self.parts)
        for w, came in zip(writes, prints, strict=True):
            count, sum_ = parts.get(w.student_id, (0, 0))
            if w.old is None:
                parts[w.student_id] = (count + 1, sum_ + came)
            elif w.old.print_ is None:
                raise ValueError("a HS grade read without its hash")
            else:
                parts[w.student_id] = (count, sum_ - w.old.print_ + came)
        return parts


class _Candidates:
    """The HS side of each (HS section, task, tech term), decided once and shared by every
    grade of that tech section, task and term (R20, R23)."""

    __slots__ = ("hs", "targets", "score_cache")

    def __init__(self, hs: HsSide) -> None:
        self.hs = hs
        self.targets: dict[tuple[int, int, int], set[int]] = defaultdict(set)
        self.score_cache: dict[int, ScoreCache] = defaultdict(dict)  # group -> its cache

    def of(self, link: Link, task_id: int, t_start: dt.date, t_end: dt.date) -> Candidate:
        hs = self.hs
        hs_id = link.hs_section_id
        section_rosters = hs.rosters.get(hs_id, {})
        ct = hs.course_tasks.get((link.hs_course_id, task_id))
        if ct is None:
            return (hs_id, section_rosters, Reason.NO_HS_TASK, None)
        terms = hs.active.get(ct.id, [])
        if len(terms) != 1:
            return (hs_id, section_rosters, Reason.NO_ACTIVE_TERM, None)
        term = terms[0]
        if not (t_start <= term.start and term.end <= t_end):
            return (hs_id, section_rosters, Reason.TERM_OUT_OF_RANGE, None)
        key = (hs_id, task_id, term.term_id)
        return (
            hs_id,
            section_rosters,
            "",
            (
                term.term_id,
                term.start,
                term.end,
                hs.rows_by_group.get(ct.score_group_id, []),
                self.score_cache[ct.score_group_id],
                hs.existing.get(key, {}),
                self.targets[key],
            ),
        )


def decide(
    *,
    tech_grades: Sequence[TechGradeRow],
    tech_terms: dict[int, tuple[dt.date, dt.date]],
    links: dict[int, list[Link]],
    hs: HsSide,
    reached: Counter[int] | None = None,
) -> tuple[list[dict[str, Any]], list[Write], int]:
    """Each tech grade's outcome per linked HS section (R19-R21, R23), and the HS grades
    to write. Pure Python: no query. ``reached``, if given, counts for each student the HS
    grades decided for them (to write or unchanged).

    Many grades share one tech section, task and term: their HS sections are found and each
    HS setup decided once; many share one percent on a score group: translated once.
    Returns the outcomes to record, the writes and the number of unchanged HS grades.
    """
    candidates: dict[tuple[int, int, int], list[Candidate]] = {}
    sides = _Candidates(hs)
    make = sides.of
    outcomes: list[dict[str, Any]] = []
    writes: list[Write] = []
    unchanged = 0
    grades_flow, skipped = Flow.GRADES, Action.SKIPPED
    row: Row | Literal[False] | None  # a grade's HS score row; False: not in the cache yet
    for grade_id, student_id, tech_section_id, task_id, tech_term_id, percent in tech_grades:
        group_key = (tech_section_id, task_id, tech_term_id)
        cands = candidates.get(group_key)
        if cands is None:
            t_start, t_end = tech_terms[tech_term_id]
            cands = candidates[group_key] = [
                make(link, task_id, t_start, t_end) for link in links[tech_section_id]
            ]
        rostered = False
        # Unpacked into locals: this loop runs for every tech grade of the night.
        for hs_id, section_rosters, reason, target in cands:
            spans = section_rosters.get(student_id)
            if spans is None:
                continue
            rostered = True
            message = ""
            row = None  # stays None on a skip
            if target is not None:  # the HS setup is right: the roster and percent decide
                term_id, h_start, h_end, rows, by_percent, olds, written = target
                for start, end in spans:
                    if start <= h_end and (end is None or end >= h_start):
                        break  # rostered during the HS active term
                else:
                    reason = Reason.NOT_ROSTERED
                    message = "The student's HS roster does not cover the HS active term; "
                if not reason:
                    row = by_percent.get(percent, False)
                    if row is False:
                        row = by_percent[percent] = (
                            row_for_percent(rows, Decimal(percent)) if percent is not None else None
                        )
                    if row is None:
                        reason = Reason.SCORE_UNTRANSLATABLE
            if row is None:  # skipped (a reason is set); else the target's locals are set
                outcomes.append(
                    outcome(
                        grades_flow,
                        skipped,
                        reason=reason,
                        student_id=student_id,
                        hs_section_id=hs_id,
                        source_id=grade_id,
                        message=message + FIX[reason],
                    )
                )
                continue
            if student_id in written:  # cannot happen with non-overlapping terms; never
                continue  # write one HS grade twice
            written.add(student_id)
            old = olds.get(student_id)
            if old is not None and old.percent == percent and old.score == row.score:
                unchanged += 1  # the common case on a quiet night: counted, not listed
                continue
            o = outcome(
                grades_flow,
                Action.UPDATED if old else Action.ADDED,
                student_id=student_id,
                hs_section_id=hs_id,
                source_id=grade_id,
                target_id=old.id if old else None,
                message=f"{row.score} ({percent}%)",
            )
            outcomes.append(o)
            writes.append(
                Write(o, student_id, hs_id, task_id, term_id, percent, row.score, grade_id, old)
            )
        if not rostered:
            outcomes.append(
                outcome(
                    grades_flow,
                    skipped,
                    reason=Reason.NOT_ROSTERED,
                    student_id=student_id,
                    source_id=grade_id,
                    message=FIX[Reason.NOT_ROSTERED],
                )
            )
    if reached is not None:
        for written in sides.targets.values():
            reached.update(written)
    return outcomes, writes, unchanged
