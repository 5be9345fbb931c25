"""Writing scores into nbgrader's gradebook, from the grading process only.

Every write happens under an exclusive lock file next to the database
(``gradebook.db.lock``), one student per transaction, with find-or-create (upsert)
calls: several grading processes at once, or one killed half-way, can neither lose nor
duplicate a row, and running again repairs whatever a killed run left unfinished. Only
``auto_score`` is written: a manual grade (``manual_score``) set in formgrader is kept,
and reported.
"""
import contextlib
import fcntl
import json
import warnings
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

# SQLAlchemy 2.1 warns inside nbgrader's add_submission; the rows are stored correctly.
warnings.filterwarnings("ignore", message=r"Object of type <Submitted", module="nbgrader")


@contextlib.contextmanager
def locked(db_path):
    """Hold the gradebook's lock file for the duration of the block."""
    lock_path = Path(str(db_path) + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Writer:
    """The single writer of one grading process."""

    def __init__(self, db_url, course_id, late_penalty=None):
        self.db_url, self.course_id = db_url, course_id
        self.late_penalty = late_penalty  # nbgrader's late-submission plugin (late_penalty_plugin)
        self.db_path = Path(db_url.removeprefix("sqlite:///"))
        self._gradebook = None

    @contextlib.contextmanager
    def transaction(self):
        """The gradebook, under the lock, in a fresh transaction that commits or rolls back."""
        with locked(self.db_path):
            if self._gradebook is None:
                self._gradebook = Gradebook(self.db_url, self.course_id)
            gradebook = self._gradebook
            gradebook.db.expire_all()
            try:
                yield gradebook
                gradebook.db.commit()
            except BaseException:
                gradebook.db.rollback()
                raise

    def close(self):
        if self._gradebook is not None:
            self._gradebook.close()
            self._gradebook = None

    def register_assignment(self, assignment, template):
        """Create or update the assignment, its notebook and cells, as generate_assignment does.

        Cells are only added or updated, never removed, so existing grades stay.
        """
        from nbgrader.utils import compute_checksum

        name = template.name
        with self.transaction() as gradebook:
            gradebook.update_or_create_assignment(assignment)
            try:
                gradebook.find_notebook(name, assignment)
            except MissingEntry:
                kernelspec = json.dumps(template.notebook.metadata.get("kernelspec", {}))
                gradebook.add_notebook(name, assignment, kernelspec=kernelspec)
            for cell in template.cells:
                meta = cell.meta
                if meta.get("grade"):
                    gradebook.update_or_create_grade_cell(cell.grade_id, name, assignment,
                                                          max_score=float(meta.get("points", 0)),
                                                          cell_type=cell.cell_type)
                if meta.get("solution"):
                    gradebook.update_or_create_solution_cell(cell.grade_id, name, assignment)
                node = next(c for c in template.notebook.cells
                            if c.metadata.get("nbgrader", {}).get("grade_id") == cell.grade_id)
                gradebook.update_or_create_source_cell(
                    cell.grade_id, name, assignment, cell_type=cell.cell_type,
                    locked=bool(meta.get("locked")), source=cell.source,
                    checksum=meta.get("checksum") or compute_checksum(node))

    def record(self, assignment, notebook_name, student, scores, timestamp=None):
        """Store ``scores`` {grade_id: auto score} of ``student``; returns kept manual grades.

        ``timestamp`` is the text of the submission's ``timestamp.txt`` (None: it has none);
        it becomes the submission's timestamp, and the late penalty is set from it as
        nbgrader's autograde sets it. The returned dict maps grade_id to (manual score, auto
        score) where a manual grade overrides the new automatic one.
        """
        from nbgrader.utils import parse_utc

        try:
            submitted_at = parse_utc(timestamp)
        except (ValueError, OverflowError):  # not a time nbgrader can read: as if there were none
            submitted_at = None
        kept = {}
        with self.transaction() as gradebook:
            gradebook.update_or_create_student(student)
            submission = gradebook.update_or_create_submission(assignment, student)
            submission.timestamp = submitted_at
            for grade_id, score in scores.items():
                try:
                    grade = gradebook.find_grade(grade_id, notebook_name, assignment, student)
                except MissingEntry:
                    continue
                grade.auto_score = score
                # As nbgrader's autograde does: a manual grade stays and asks for review.
                grade.needs_manual_grade = grade.manual_score is not None
                if grade.manual_score is not None:
                    kept[grade_id] = (grade.manual_score, score)
            gradebook.db.flush()
            self._assign_late_penalty(gradebook, submission, notebook_name, assignment, student)
        return kept

    def _assign_late_penalty(self, gradebook, submission, notebook_name, assignment, student):
        """What nbgrader's ``AssignLatePenalties`` does in autograde, with the same plugin."""
        try:
            notebook = gradebook.find_submission_notebook(notebook_name, assignment, student)
        except MissingEntry:
            return
        gradebook.db.expire(notebook)  # its score is a column property: read it after the new grades
        gradebook.db.expire(submission)
        notebook.late_submission_penalty = None
        if self.late_penalty is None or submission.total_seconds_late <= 0:
            return
        penalty = self.late_penalty.late_submission_penalty(student, notebook.score, submission.total_seconds_late)
        if penalty is not None:
            notebook.late_submission_penalty = min(max(penalty, 0), notebook.score)

    def final_scores(self, assignment, notebook_name, students, grade_ids):
        """{student: {grade_id: score}} as the gradebook now holds them (manual over auto)."""
        table = {}
        with self.transaction() as gradebook:
            for student in students:
                row = {}
                for grade_id in grade_ids:
                    try:
                        row[grade_id] = gradebook.find_grade(grade_id, notebook_name, assignment, student).score
                    except MissingEntry:
                        row[grade_id] = None
                table[student] = row
        return table


def late_penalty_plugin(course_dir):
    """nbgrader's late-submission plugin as the course's nbgrader_config.py configures it.

    ``AssignLatePenalties.plugin_class`` (default ``LateSubmissionPlugin``) with the file's
    settings, e.g. ``c.LateSubmissionPlugin.penalty_method = "zero"``.
    """
    from nbgrader.plugins import LateSubmissionPlugin
    from traitlets.config.loader import PyFileConfigLoader
    from traitlets.utils.importstring import import_item

    config = PyFileConfigLoader("nbgrader_config.py", path=str(Path(course_dir).resolve())).load_config()
    plugin_class = config.get("AssignLatePenalties", {}).get("plugin_class", LateSubmissionPlugin)
    if isinstance(plugin_class, str):
        plugin_class = import_item(plugin_class)
    return plugin_class(config=config)
