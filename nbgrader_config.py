"""nbgrader settings for the course; nbgrader reads this file from the repository root.

Instructor notebooks (with solutions and hidden tests) live in solutions/<assignment>/;
`nbgrader generate_assignment` writes the student versions into exercises/<assignment>/.
The gradebook holds students' marks, so it stays out of git (see .gitignore).
"""
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (nbgrader provides get_config when it loads this file)

COURSE_ROOT = Path(__file__).resolve().parent
GRADEBOOK = COURSE_ROOT / ".nbgrader" / "gradebook.db"
GRADEBOOK.parent.mkdir(exist_ok=True)

c.CourseDirectory.course_id = "nn-from-the-neuron-up"
c.CourseDirectory.root = str(COURSE_ROOT)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.db_url = f"sqlite:///{GRADEBOOK}"

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Seconds each cell may run when nbgrader executes a notebook (validate, autograde).
c.Execute.timeout = 120

# Feedback pages come from `python -m grading` (grading/feedback.py). `nbgrader generate_feedback
# --force` (and formgrader's "generate feedback" button, which always forces) replaces them with
# nbgrader's own pages, made from the autograded/ notebooks, which hold the hidden tests: here
# those pages leave out the hidden tests and every output (a traceback can quote a hidden test).
# (Only when nbgrader loads this file: `python -m grading` reads it before it needs nbgrader,
# whose import takes seconds.)
if "nbgrader" in sys.modules:
    from nbconvert.preprocessors import ClearOutputPreprocessor, CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import ClearHiddenTests, GetGrades

    c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, ClearOutputPreprocessor,
                                        CSSHTMLHeaderPreprocessor]
