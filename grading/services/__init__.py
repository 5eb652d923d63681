"""Every write of grading, one module per entity (R4-R16, R30-R35):

* ``district_rows``: what score groups, grading tasks and credit types share (R4): the
  state's rows, one save and one delete;
* ``score_groups``, ``grading_tasks``, ``credit_types``: each kind's own rules (R5, R6);
* ``course_tasks``: a task on a course and its term mask, one named check per rule (R6-R11);
* ``grading_windows``: windows and the daily job that applies them (R12);
* ``grades``: posting grades, one or in bulk (R13, R14, R16, R23), with ``grade_values``
  for what a value may be (R4, R5);
* ``stale_grade_reminders``: the weekly e-mail of stale tech grades (R15);
* ``transcripts``: posting transcript lines and the registrar's review (R34);
* ``report_card_batches``: the batch PDF of a school's report cards (R32).
"""
