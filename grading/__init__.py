"""Grading for the course's nbgrader assignments.

``grading.checks`` holds one module per assignment: the single source of truth for what
each graded part must do. The same checks run in two places:

- inside the learner's notebook (visible and hidden test cells call them), for feedback;
- in the trusted judge, outside the student's process, which decides the grade.
"""
