"""R22: the rows each watermarked flow reads for one tech school, and their fingerprints
(:mod:`exchange.flows.watermark`). Each query selects ``t, id, x`` - a table tag, the row's
id and its ``xmin`` - of a superset of what the flow reads, where that is simpler, and
reads them through their indexes, one school at a time."""

import datetime as dt

from django.db import connection

from exchange.flows import watermark
from exchange.flows.grade_writes import HS_GRADE_TAG
from grading.models import CTE_CODES

# The grade flow: the school's links of the year with their tech sections, courses and
# calendars; the linked HS sections; the CTE tasks; the tech grades and their terms; the HS
# sections' rosters; the HS courses' CTE course tasks, their term masks and terms, their
# score rows; and the HS grades of CTE tasks in the linked HS sections. Nothing here
# depends on the date: neither does the grade flow. Each row also names its student (``s``:
# the tech grades, rosters and HS grades) or none: one student's decisions depend only on
# the rows of no student and that student's own, so the fingerprint taken apart by ``s``
# tells which students a change touches (:func:`grade_fingerprint_parts`). The rosters and
# HS grades of the students with no tech grade here decide nothing: they make one part
# together (``NO_TECH_GRADE``), so that only the students with a tech grade are kept apart.
NO_TECH_GRADE = -1
GRADE_INPUTS_SQL = f"""
WITH lk AS (
    SELECT l.id, l.xmin AS x, l.tech_section_id, l.hs_section_id,
           hs.course_id AS hs_course_id, s.course_id AS tech_course_id
    FROM exchange_ktslink l
    JOIN schools_section s ON s.id = l.tech_section_id
    JOIN schools_course c ON c.id = s.course_id
    JOIN schools_calendar cal ON cal.id = c.calendar_id
    JOIN schools_section hs ON hs.id = l.hs_section_id
    WHERE cal.school_id = %(school)s AND cal.school_year = %(year)s
), ids AS MATERIALIZED (
    SELECT ARRAY(SELECT DISTINCT tech_section_id FROM lk) AS tech,
           ARRAY(SELECT DISTINCT hs_section_id FROM lk) AS hs,
           ARRAY(SELECT DISTINCT hs_course_id FROM lk) AS courses,
           ARRAY(SELECT DISTINCT tech_course_id FROM lk) AS tech_courses
), tasks AS (
    SELECT id, xmin AS x FROM grading_gradingtask WHERE code = ANY(%(codes)s)
), tg AS (
    SELECT id, xmin AS x, term_id, student_id FROM grading_grade
    WHERE section_id = ANY((SELECT tech FROM ids)::bigint[]) AND grading_task_id IN (SELECT id FROM tasks)
), ct AS (
    SELECT id, xmin AS x, score_group_id FROM grading_coursegradingtask
    WHERE course_id = ANY((SELECT courses FROM ids)::bigint[])
      AND grading_task_id IN (SELECT id FROM tasks)
), mask AS (
    SELECT id, xmin AS x, term_id FROM grading_coursetaskterm
    WHERE course_task_id IN (SELECT id FROM ct)
)
SELECT 'task' AS t, id, x, NULL::bigint AS s FROM tasks WHERE EXISTS (SELECT FROM lk)
UNION ALL SELECT 'tech grade', id, x, student_id FROM tg
UNION ALL SELECT 'course task', id, x, NULL FROM ct
UNION ALL SELECT 'mask', id, x, NULL FROM mask
UNION ALL SELECT 'term', id, xmin, NULL FROM schools_term
    WHERE id IN (SELECT term_id FROM tg UNION SELECT term_id FROM mask)
UNION ALL SELECT 'score row', id, xmin, NULL FROM grading_scorerow
    WHERE group_id IN (SELECT score_group_id FROM ct)
UNION ALL SELECT 'roster', id, xmin, CASE
        WHEN student_id IN (SELECT student_id FROM tg) THEN student_id ELSE {NO_TECH_GRADE} END
    FROM schools_roster
    WHERE section_id = ANY((SELECT hs FROM ids)::bigint[])
UNION ALL SELECT {HS_GRADE_TAG}, id, xmin, CASE
        WHEN student_id IN (SELECT student_id FROM tg) THEN student_id ELSE {NO_TECH_GRADE} END
    FROM grading_grade
    WHERE section_id = ANY((SELECT hs FROM ids)::bigint[]) AND grading_task_id IN (SELECT id FROM tasks)
UNION ALL SELECT 'link', id, x, NULL FROM lk
UNION ALL SELECT 'section', id, xmin, NULL FROM schools_section
    WHERE id = ANY((SELECT tech FROM ids)::bigint[]) OR id = ANY((SELECT hs FROM ids)::bigint[])
UNION ALL SELECT 'course', id, xmin, NULL FROM schools_course
    WHERE id = ANY((SELECT tech_courses FROM ids)::bigint[])
UNION ALL SELECT 'calendar', id, xmin, NULL FROM schools_calendar
    WHERE school_id = %(school)s AND EXISTS (SELECT FROM lk)
"""


def grade_fingerprints(*, school_year: int, schools: list[int]) -> dict[int, str]:
    """The grade flow's fingerprint of each of these tech schools (R22): one query a school,
    each reading its rows through their indexes."""
    return {
        school: watermark.fingerprint(GRADE_INPUTS_SQL, _grade_params(school_year, school))
        for school in schools
    }


def grade_fingerprint_parts(*, school_year: int, school: int) -> watermark.Parts:
    """The grade flow's fingerprint of one tech school taken apart by student (``None``:
    the rows of no student); its parts add up to :func:`grade_fingerprints`' answer."""
    return watermark.fingerprint_parts(GRADE_INPUTS_SQL, _grade_params(school_year, school))


def _grade_params(school_year: int, school: int) -> dict[str, object]:
    return {"codes": list(CTE_CODES), "year": school_year, "school": school}


# The enrollment flow: the school's calendars, the courses and sections of the year's
# calendar, its links, the linked HS sections' rosters and the KTS sections' rosters.
ENROLLMENT_INPUTS_SQL = """
WITH cal AS MATERIALIZED (
    SELECT id FROM schools_calendar
    WHERE school_year = %(year)s AND school_id = %(school)s
    ORDER BY id LIMIT 1
), link AS (
    SELECT l.id, l.xmin AS x, l.hs_section_id
    FROM exchange_ktslink l
    JOIN schools_section s ON s.id = l.tech_section_id
    JOIN schools_course c ON c.id = s.course_id
    WHERE c.calendar_id = (SELECT id FROM cal)
)
SELECT 'link' AS t, id, x FROM link
UNION ALL SELECT 'hs roster', id, xmin FROM schools_roster
    WHERE section_id IN (SELECT hs_section_id FROM link)
UNION ALL SELECT 'tech roster', r.id, r.xmin FROM schools_roster r
    JOIN schools_section s ON s.id = r.section_id
    JOIN schools_course c ON c.id = s.course_id
    WHERE c.calendar_id = (SELECT id FROM cal) AND c.is_kts
UNION ALL SELECT 'section', s.id, s.xmin FROM schools_section s
    JOIN schools_course c ON c.id = s.course_id
    WHERE c.calendar_id = (SELECT id FROM cal)
UNION ALL SELECT 'course', id, xmin FROM schools_course WHERE calendar_id = (SELECT id FROM cal)
UNION ALL SELECT 'calendar', id, xmin FROM schools_calendar
    WHERE school_id = %(school)s AND EXISTS (SELECT FROM cal)
"""


def enrollment_fingerprints(*, school_year: int, schools: list[int]) -> dict[int, str]:
    """The enrollment flow's fingerprint of each of these tech schools (R22): one query a
    school, each reading its rows through their indexes."""
    return {
        school: watermark.fingerprint(
            ENROLLMENT_INPUTS_SQL, {"year": school_year, "school": school}
        )
        for school in schools
    }


# A cheap look before the grade fingerprints: the tech schools with a tech grade saved
# (``modified_at``, which every grade write sets) after the given moment, through the
# ``modified_at`` index - it reads only the grades saved since, not each school's whole set.
TOUCHED_SQL = """
SELECT cal.school_id, max(g.modified_at)
FROM grading_grade g
JOIN schools_section s ON s.id = g.section_id
JOIN schools_course c ON c.id = s.course_id
JOIN schools_calendar cal ON cal.id = c.calendar_id
WHERE g.modified_at > %(since)s AND cal.school_year = %(year)s
  AND cal.school_id = ANY(%(schools)s)
GROUP BY cal.school_id
"""


def grades_saved_since(*, school_year: int, since: dict[int, dt.datetime]) -> set[int]:
    """The tech schools of ``since`` (school -> moment) with a tech grade saved after their
    moment. Only a shortcut: a school named here has almost surely changed since, so
    fingerprinting it to find that out is waste (if it has not - a clock out of step - its
    part finds its watermark holding and replays); a school not named (a write that did not
    set ``modified_at``) is still fingerprinted."""
    if not since:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            TOUCHED_SQL,
            {"since": min(since.values()), "year": school_year, "schools": list(since)},
        )
        return {school for school, latest in cursor.fetchall() if latest > since[school]}
