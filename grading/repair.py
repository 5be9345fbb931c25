"""Checking and repairing one submitted notebook against the instructor's source notebook.

Nothing in a submission is trusted but the code in its answer cells. The repaired
notebook is rebuilt on the source's skeleton: every locked cell (test cells with their
hidden tests included, instructions, set-up) comes from the source; answer cells and the
cells a student added come from the submission, in place. What was wrong is returned as
flags for the instructor's report: deleted, edited, renamed or duplicated test cells,
edited points, tampered schema versions, a wrong kernelspec or file name, invalid JSON.
"""
import dataclasses
import errno
import json
import os
import re
import stat
from pathlib import Path

import nbformat

HIDDEN_TESTS = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)


@dataclasses.dataclass
class Flag:
    kind: str       # short category, e.g. "deleted-test-cell"
    detail: str     # one line for the instructor


@dataclasses.dataclass
class SourceCell:
    grade_id: str
    cell_type: str
    source: str
    meta: dict

    @property
    def is_test(self):
        return self.cell_type == "code" and self.meta.get("grade") and not self.meta.get("solution")

    @property
    def is_answer(self):
        return bool(self.meta.get("solution"))


@dataclasses.dataclass
class Template:
    """The instructor's notebook (source) and, for answer stubs, the released one."""

    name: str                 # notebook file name without .ipynb
    notebook: dict            # the source notebook (nbformat node)
    cells: list               # SourceCell in source order (nbgrader cells only)
    stubs: dict               # grade_id -> released source of answer cells
    released_tests: dict      # grade_id -> released source of test cells

    @classmethod
    def load(cls, source_path, release_path=None):
        source = nbformat.read(str(source_path), as_version=4)
        release = nbformat.read(str(release_path), as_version=4) if release_path and Path(release_path).exists() else None
        cells = []
        for cell in source.cells:
            meta = dict(cell.metadata.get("nbgrader", {}))
            if "grade_id" in meta:
                cells.append(SourceCell(meta["grade_id"], cell.cell_type, cell.source, meta))
        released = {}
        if release is not None:
            for cell in release.cells:
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                if grade_id:
                    released[grade_id] = cell.source
        stubs, released_tests = {}, {}
        for cell in cells:
            if cell.is_answer:
                stubs[cell.grade_id] = released.get(cell.grade_id, "# YOUR CODE HERE\nraise NotImplementedError()")
            if cell.is_test:
                released_tests[cell.grade_id] = released.get(cell.grade_id, HIDDEN_TESTS.sub("", cell.source))
        return cls(Path(source_path).stem, source, cells, stubs, released_tests)

    @property
    def test_ids(self):
        return [cell.grade_id for cell in self.cells if cell.is_test]

    def points(self):
        return {cell.grade_id: float(cell.meta.get("points", 0)) for cell in self.cells if cell.meta.get("grade")}


@dataclasses.dataclass
class Repaired:
    """What the judge needs from one submission."""

    notebook: object          # the rebuilt nbformat notebook (tests restored, hidden tests included)
    judge_cells: list         # code the judge's worker runs: set-up, answers, student cells
    run_cells: list           # code of the notebook run for feedback, up to the last test cell
    test_positions: dict      # grade_id -> index in run_cells
    student_cells: list       # (label, source) of the student's own code, for the feedback
    flags: list


# --------------------------------------------------------------------------- collecting files

MAX_NOTEBOOK_BYTES = 64 * 2**20    # a notebook file larger than this is not read
MAX_NOTEBOOK_DEPTH = 64            # JSON nesting of a real notebook is under 10 levels
MAX_CELL_CHARS = 200_000           # one code cell; a real answer is a few thousand characters
MAX_CODE_CHARS = 2_000_000         # all the student's code cells together
MAX_COPY_BYTES = 50 * 2**20        # the files copied into the sandbox's scratch folder
SKIPPED_FOLDERS = (".ipynb_checkpoints",)  # Jupyter's autosaves: never graded, never copied


class Refused(Exception):
    """A path of a submission that is not a regular file of its own (a link, a FIFO, ...)."""


def _what(mode, links, hard_links=None, info=None, path=None):
    """Why a file with ``stat`` mode ``mode`` and ``links`` names is refused, or None.

    A regular file with more than one name is refused unless ``hard_links`` (a
    ``HardLinks`` of the submission) accepts it; without one, every such file is refused.
    """
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    if links > 1:
        if hard_links is None:
            return f"a hard link ({links} names for one file)"
        return hard_links.refusal(info, path)
    return None


_INDEXES = {}


def _names_by_inode(root):
    """{(st_dev, st_ino): [path parts relative to ``root``]} of every regular file under
    ``root`` with more than one name; links are not followed. Built once per process."""
    root = str(root)
    if root not in _INDEXES:
        index = {}
        for top, folders, files in os.walk(root):
            for name in files:
                try:
                    info = os.lstat(os.path.join(top, name))
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
                    relative = os.path.relpath(os.path.join(top, name), root)
                    index.setdefault((info.st_dev, info.st_ino), []).append(tuple(Path(relative).parts))
        _INDEXES[root] = index
    return _INDEXES[root]


@dataclasses.dataclass(frozen=True)
class HardLinks:
    """Which files of ``submitted/<student>/<assignment>/`` with several names may be read.

    A student cannot make a hard link inside the instructor's ``submitted/`` (nbgrader
    collect copies each file, so what it writes has one name); a file there with several
    names was linked by the instructor's account, e.g. a ``submitted/`` built with
    ``cp -al`` from a copy. Such a file is accepted when it is owned by the grader's own
    user and none of its other names lies elsewhere in the course folder, except in the
    same student's own folders (``submitted/<student>/...``) or at the same
    ``<student>/<assignment>/<path>`` of a copy of ``submitted/`` (the ``cp -al`` case).
    A second name of the solutions, the source, a classmate's file or anything else of the
    course is refused (for both students when two submissions share a file: a human
    decides whose it is); so is a file owned by another user (a student's), whose other
    names could be anywhere. Names outside the course folder are not searched.
    """

    root: Path
    student: str
    assignment: str
    uid: int = dataclasses.field(default_factory=os.geteuid)

    def refusal(self, info, path):
        links = info.st_nlink
        if info.st_uid != self.uid:
            return f"a hard link ({links} names for one file) owned by another user (uid {info.st_uid})"
        try:
            own = tuple(Path(path).relative_to(self.root).parts)
        except ValueError:
            return f"a hard link ({links} names for one file) outside the course folder"
        suffix = own[1:]   # <student>/<assignment>/<path inside the submission>
        for other in _names_by_inode(self.root).get((info.st_dev, info.st_ino), []):
            if other == own or other[:2] == ("submitted", self.student):
                continue
            if len(other) > len(suffix) and other[-len(suffix):] == suffix:
                continue
            return f"a hard link ({links} names for one file) to a file elsewhere in the course"
        return None


def check_folder(path):
    """Raise Refused unless ``path`` is a real directory (not a link to one)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise Refused(f"cannot be read ({error.strerror})") from None
    if stat.S_ISLNK(info.st_mode):
        raise Refused("is a symbolic link; it was not followed")
    if not stat.S_ISDIR(info.st_mode):
        raise Refused(f"is {_what(info.st_mode, 1) or 'a file'}, not a folder")


def read_regular(path, limit, hard_links=None):
    """The bytes of ``path`` if it is a regular file with one name, of at most ``limit`` bytes.

    Opened without following a link and without blocking on a FIFO, then checked on the
    open descriptor, so what is checked is what is read. Raises Refused with the reason.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise Refused("a symbolic link") from None
        raise Refused(f"unreadable ({error.strerror})") from None
    try:
        info = os.fstat(fd)
        reason = _what(info.st_mode, info.st_nlink, hard_links, info, path)
        if reason:
            raise Refused(reason)
        if info.st_size > limit:
            raise Refused(f"too large ({info.st_size:,} bytes; the limit is {limit:,})")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            total += len(chunk)
            if total > limit:
                raise Refused(f"too large (over {limit:,} bytes)")
            chunks.append(chunk)
    finally:
        os.close(fd)


@dataclasses.dataclass
class Collected:
    """The regular files of one submission folder and what was refused."""

    files: list                 # relative paths (Path) of regular files, sorted
    folders: list               # relative paths of sub-folders
    flags: list                 # Flag("refused-file", ...) for links, FIFOs, devices, hard links


def collect(folder, hard_links=None):
    """Walk ``folder`` without following links; regular files only (see ``_what``)."""
    files, folders, flags = [], [], []
    if not os.path.isdir(folder) or os.path.islink(folder):
        return Collected(files, folders, flags)

    def walk(relative):
        try:
            entries = sorted(os.scandir(folder / relative), key=lambda entry: entry.name)
        except OSError as error:
            flags.append(Flag("refused-file", f"{_shown(relative)}: cannot be listed ({error.strerror})"))
            return
        for entry in entries:
            path = relative / entry.name
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError as error:
                flags.append(Flag("refused-file", f"{_shown(path)}: cannot be read ({error.strerror}); not copied"))
                continue
            if stat.S_ISDIR(info.st_mode):
                if entry.name not in SKIPPED_FOLDERS:
                    folders.append(path)
                    walk(path)
                continue
            reason = _what(info.st_mode, info.st_nlink, hard_links, info, folder / path)
            if reason:
                flags.append(Flag("refused-file", f"{_shown(path)} is {reason}; not read, not copied"))
            else:
                files.append(path)

    walk(Path())
    return Collected(files, folders, flags)


def _shown(relative):
    return str(relative) if str(relative) != "." else "the submission folder"


def locate(folder, name, collected=None):
    """Path of the submitted notebook ``name``.ipynb in ``folder``, or (None, flags).

    Only regular files of the folder itself are candidates (see ``collect``); the flags of
    refused files are the caller's to report (they are in ``collected.flags``).
    """
    flags = []
    collected = collected if collected is not None else collect(folder)
    expected = folder / f"{name}.ipynb"
    top = [path for path in collected.files if len(path.parts) == 1]
    if Path(expected.name) in top:
        return expected, flags
    others = sorted(folder / path for path in top if path.suffix == ".ipynb")
    if len(others) == 1 or (others and any(name.lower() in path.stem.lower() for path in others)):
        chosen = next((path for path in others if name.lower() in path.stem.lower()), others[0])
        flags.append(Flag("wrong-file-name", f"expected {expected.name}, graded {chosen.name}"))
        return chosen, flags
    if not folder.is_dir():
        detail = "no submission folder"
    elif any(flag.detail.startswith(expected.name + " ") for flag in collected.flags):
        detail = f"{expected.name} is not a regular file of the submission (see refused-file)"
    else:
        detail = f"no {expected.name} in the submission"
    flags.append(Flag("missing-notebook", detail))
    return None, flags


def copy_collected(folder, collected, target, budget=MAX_COPY_BYTES, hard_links=None):
    """Copy the collected regular files into ``target``; returns flags for what was left out."""
    flags = []
    target.mkdir(parents=True, exist_ok=True)
    for relative in collected.folders:
        (target / relative).mkdir(parents=True, exist_ok=True)
    for relative in collected.files:
        try:
            data = read_regular(folder / relative, budget, hard_links)
        except Refused as refused:
            flags.append(Flag("refused-file", f"{relative}: {refused}; not copied"))
            continue
        budget -= len(data)
        (target / relative).write_bytes(data)
    return flags


def parse(path):
    """The notebook at ``path`` as a dict, or (None, flag); see ``parse_bytes``."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        return None, Flag("unreadable-notebook", f"cannot read {Path(path).name}: {error.strerror}")
    return parse_bytes(data, Path(path).name)


def read_notebook(path, hard_links=None):
    """The submitted notebook at ``path`` (a regular file, see ``_what``), or (None, flag)."""
    try:
        data = read_regular(path, MAX_NOTEBOOK_BYTES, hard_links)
    except Refused as refused:
        kind = "notebook-too-large" if str(refused).startswith("too large") else "refused-file"
        return None, Flag(kind, f"{Path(path).name} is {refused}; not read")
    return parse_bytes(data, Path(path).name)


def _depth(value, limit):
    """The nesting depth of a parsed JSON value, counted without recursion (stops past limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        if isinstance(node, dict):
            stack.extend((item, depth + 1) for item in node.values() if isinstance(item, (dict, list)))
        elif isinstance(node, list):
            stack.extend((item, depth + 1) for item in node if isinstance(item, (dict, list)))
    return deepest


def parse_bytes(data, name):
    """The notebook in ``data`` (the bytes of file ``name``) as a dict, or (None, flag)."""
    if len(data) > MAX_NOTEBOOK_BYTES:
        return None, Flag("notebook-too-large", f"{name} has {len(data):,} bytes; the limit is "
                                                f"{MAX_NOTEBOOK_BYTES:,}")
    text = data.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text, strict=False)
    except json.JSONDecodeError as error:
        return None, Flag("unreadable-notebook", f"{name} is not valid JSON ({error.msg}, line {error.lineno})")
    except RecursionError:
        return None, Flag("deeply-nested-notebook", f"{name} nests its JSON too deeply to be read "
                                                    f"(the limit is {MAX_NOTEBOOK_DEPTH} levels)")
    if _depth(parsed, MAX_NOTEBOOK_DEPTH) > MAX_NOTEBOOK_DEPTH:
        return None, Flag("deeply-nested-notebook", f"{name} nests its JSON more than {MAX_NOTEBOOK_DEPTH} "
                                                    "levels deep; not read")
    if not isinstance(parsed, dict) or not isinstance(parsed.get("cells"), list):
        return None, Flag("unreadable-notebook", f"{name} is JSON but not a notebook (no cell list)")
    return parsed, None


def _text(value):
    if isinstance(value, list):
        return "".join(part for part in value if isinstance(part, str))
    return value if isinstance(value, str) else ""


def _same(a, b):
    return _normal(a) == _normal(b)


def _normal(text):
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def repair(data, template):
    """Rebuild the submitted notebook ``data`` (a dict) on ``template``; returns Repaired."""
    flags = []
    by_id = {cell.grade_id: cell for cell in template.cells}
    test_sources = {_normal(source): grade_id for grade_id, source in template.released_tests.items()}
    test_sources.update({_normal(cell.source): cell.grade_id for cell in template.cells if cell.is_test})

    kernelspec = data.get("metadata", {}).get("kernelspec") if isinstance(data.get("metadata"), dict) else None
    expected_kernel = template.notebook.metadata.get("kernelspec", {})
    if kernelspec != expected_kernel:
        name = kernelspec.get("name") if isinstance(kernelspec, dict) else kernelspec
        flags.append(Flag("wrong-kernelspec", f"kernelspec {name!r} replaced by {expected_kernel.get('name')!r}"))
    if data.get("nbformat") != 4:
        flags.append(Flag("nbformat", f"nbformat {data.get('nbformat')!r} read as version 4"))

    schema_changed = []
    renamed = set()
    answers = {}        # grade_id -> student source
    extras = {}         # anchor grade_id (or None) -> [student sources]
    seen = set()
    anchor = None
    code_budget = [MAX_CODE_CHARS]

    def fits(label, source):
        """False (and a flag) when ``source`` is too large to be graded as the student's code."""
        if len(source) > MAX_CELL_CHARS:
            flags.append(Flag("oversized-cell", f"{label} holds {len(source):,} characters (the limit is "
                              f"{MAX_CELL_CHARS:,}); not graded"))
            return False
        if len(source) > code_budget[0]:
            flags.append(Flag("oversized-cell", f"{label}: the code cells together exceed {MAX_CODE_CHARS:,} "
                              "characters; this one is not graded"))
            return False
        code_budget[0] -= len(source)
        return True

    for index, raw in enumerate(data["cells"]):
        if not isinstance(raw, dict):
            flags.append(Flag("malformed-cell", f"cell {index + 1} is not a cell object; ignored"))
            continue
        cell_type, source = raw.get("cell_type"), _text(raw.get("source"))
        metadata = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
        meta = metadata.get("nbgrader") if isinstance(metadata.get("nbgrader"), dict) else {}
        grade_id = meta.get("grade_id") if isinstance(meta.get("grade_id"), str) else None
        label = f"cell {index + 1}"
        known = by_id.get(grade_id)
        duplicate = known is not None and grade_id in seen
        if duplicate:
            if known.is_test or _normal(source) in test_sources:
                flags.append(Flag("duplicate-grade-id", f"{label}: a second copy of test cell {grade_id!r}; removed"))
                continue
            flags.append(Flag("duplicate-grade-id", f"{label}: grade_id {grade_id!r} used twice; "
                              "the copy is graded as your own code"))
            known = None
        if known is not None:
            seen.add(grade_id)
            anchor = grade_id
            if meta.get("schema_version") != known.meta.get("schema_version"):
                schema_changed.append(f"{grade_id} ({meta.get('schema_version')!r})")
            if known.is_answer:
                if fits(f"{label} ({grade_id})", source):
                    answers[grade_id] = source if cell_type == "code" else ""
                if cell_type != "code" and known.cell_type == "code":
                    flags.append(Flag("altered-answer-cell", f"{grade_id}: answer cell turned into {cell_type}"))
                continue
            if known.is_test:
                if cell_type != "code" or not _same(source, template.released_tests[grade_id]):
                    flags.append(Flag("altered-test-cell", f"{grade_id}: test cell edited; the original was restored"))
                if meta.get("points") != known.meta.get("points") or not meta.get("grade") or meta.get("solution"):
                    flags.append(Flag("altered-test-cell", f"{grade_id}: points or grading metadata edited "
                                      f"({meta.get('points')!r}); restored"))
            elif known.meta.get("locked") and (cell_type != known.cell_type or not _same(source, known.source)):
                flags.append(Flag("altered-locked-cell", f"{grade_id}: read-only cell edited; the original was restored"))
            continue
        # Not a cell of the source: a test cell under another name, or the student's own cell.
        test_id = test_sources.get(_normal(source)) if cell_type == "code" and source.strip() else None
        if test_id is not None or (meta.get("grade") and not meta.get("solution") and cell_type == "code"):
            if test_id is not None:
                renamed.add(test_id)
            if grade_id:
                flags.append(Flag("renamed-grade-id", f"{label}: test cell with unknown grade_id {grade_id!r} "
                                  f"(renamed {test_id or 'test cell'}?); removed, the original is restored"))
            else:
                flags.append(Flag("stripped-test-cell", f"{label}: test cell {test_id} without its grading "
                                  "metadata; removed, the original is restored"))
            continue
        if grade_id and not duplicate:
            flags.append(Flag("unknown-grade-id", f"{label}: unknown grade_id {grade_id!r}; graded as your own code"))
        if cell_type == "code" and source.strip() and fits(label, source):
            extras.setdefault(anchor, []).append(source)

    if schema_changed:
        flags.append(Flag("tampered-schema", f"nbgrader schema_version changed in {len(schema_changed)} cells "
                          f"({', '.join(schema_changed[:3])}{', ...' if len(schema_changed) > 3 else ''}); restored"))
    for cell in template.cells:
        if cell.is_test and cell.grade_id not in seen and cell.grade_id not in renamed:
            flags.append(Flag("deleted-test-cell", f"{cell.grade_id}: test cell missing; re-inserted from the source"))
        if cell.is_answer and cell.grade_id not in seen:
            flags.append(Flag("deleted-answer-cell", f"{cell.grade_id}: answer cell missing; the empty stub is used"))
    return _rebuild(template, answers, extras, flags)


def _rebuild(template, answers, extras, flags):
    nb = nbformat.v4.new_notebook(metadata=dict(template.notebook.metadata))
    judge_cells, run_cells, test_positions, student_cells = [], [], {}, []
    first_answer = next((i for i, cell in enumerate(template.cells) if cell.is_answer), len(template.cells))

    def add_student(anchor):
        for number, source in enumerate(extras.get(anchor, []), 1):
            nb.cells.append(nbformat.v4.new_code_cell(source))
            judge_cells.append(source)
            run_cells.append(source)
            student_cells.append((f"your cell after {anchor or 'the start'} ({number})", source))

    add_student(None)
    for position, cell in enumerate(template.cells):
        meta = {"nbgrader": dict(cell.meta)}
        if cell.is_answer:
            source = answers.get(cell.grade_id, template.stubs[cell.grade_id])
            new = nbformat.v4.new_code_cell(source, metadata=meta) if cell.cell_type == "code" else \
                nbformat.v4.new_markdown_cell(source, metadata=meta)
            nb.cells.append(new)
            if cell.cell_type == "code":
                judge_cells.append(source)
                run_cells.append(source)
            student_cells.append((cell.grade_id, source))
        elif cell.cell_type == "code":
            nb.cells.append(nbformat.v4.new_code_cell(cell.source, metadata=meta))
            if cell.is_test:
                test_positions[cell.grade_id] = len(run_cells)
            elif position < first_answer:
                judge_cells.append(cell.source)  # set-up before the first answer: imports
            run_cells.append(cell.source)
        elif cell.cell_type == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(cell.source, metadata=meta))
        else:
            nb.cells.append(nbformat.v4.new_raw_cell(cell.source, metadata=meta))
        add_student(cell.grade_id)
    last_test = max(test_positions.values(), default=-1)
    return Repaired(nb, judge_cells, run_cells[:last_test + 1], test_positions, student_cells, flags)
