"""Grading on a Dask cluster: ``python -m grading ASSIGNMENT --scheduler tcp://HOST:8786``.

The instructor's process reads every submission and sends one Dask task per student.
The task carries what grading needs: the submission's regular files (as bytes) and the
course description (the assignment's name, the nbgrader template, the course id, and a
fingerprint of the grading code). A worker needs no shared filesystem: it rebuilds a
throw-away course folder in its own temporary directory, grades the submission there
with the same ``pipeline.grade_student`` a local run uses (same sandbox, same judge),
and returns the result with the files it produced (feedback page, autograded notebook)
as bytes. Back in the instructor's process, each result is checked, its files are
written under the course folder, and the pipeline records it in the gradebook and the
reports: that process stays the only writer of every output.

Each worker must have the course environment (this repository's Python environment,
with ``grading`` and ``nnlib`` importable and the same code as the instructor's: the
fingerprint is compared and a mismatch is an ``internal-error``) and bubblewrap.

A worker that dies mid-task (killed, out of memory, machine lost) loses only the tasks
it held; the scheduler runs them again on another worker, and results are keyed by
student, so no row is lost or recorded twice. A task whose workers keep dying (Dask's
``distributed.scheduler.allowed-failures``, 3 by default) becomes that student's
``internal-error``.
"""
import contextlib
import functools
import hashlib
import socket
import sys
import tempfile
import uuid
from pathlib import Path, PurePosixPath

from grading import pipeline, sandbox
from grading.checks import load as load_checks

PACKAGES = ("grading", "nnlib")         # the code whose fingerprint workers must share
CONNECT_TIMEOUT_S = 20
MIN_IN_FLIGHT = 16                      # tasks kept submitted at once, at least...
IN_FLIGHT_PER_THREAD = 4                # ...and this many per worker thread of the cluster


@functools.lru_cache(maxsize=1)
def code_fingerprint():
    """SHA-256 of every .py file of ``grading`` and ``nnlib`` (paths and contents)."""
    digest = hashlib.sha256()
    root = Path(pipeline.__file__).resolve().parents[1]
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def describe_course(settings, course):
    """What a worker needs to grade any submission of the assignment (no paths, no gradebook)."""
    return {"assignment": settings.assignment, "course_id": course.course_id, "template": course.template,
            "parts": [(part.grade_id, float(part.points)) for part in course.parts],
            "fingerprint": code_fingerprint()}


def collect_files(folder):
    """The submission as ``[(relative path, bytes)]``: regular files only, as a local run copies them.

    ``None`` when the student has no folder for the assignment (not submitted). Links and
    checkpoint folders are left out, and the total is bounded by ``pipeline.MAX_COPY_BYTES``.
    """
    if not folder.is_dir():
        return None
    files, budget = [], pipeline.MAX_COPY_BYTES
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_symlink() or any(part.startswith(".ipynb_checkpoints") for part in relative.parts):
            continue
        if path.is_file() and path.stat().st_size <= budget:
            data = path.read_bytes()
            budget -= len(data)
            files.append((relative.as_posix(), data))
    return files


def _safe_relative(text):
    """``text`` as a relative path that stays inside its folder, or ValueError."""
    path = PurePosixPath(text)
    if path.is_absolute() or not path.parts or any(part in ("", ".", "..") for part in path.parts):
        raise ValueError(f"unsafe relative path {text!r}")
    return Path(*path.parts)


def grade_task(description, settings, student, files):
    """Grade one submission on a worker (a Dask task); needs nothing from the instructor's disk.

    Returns ``pipeline.grade_student``'s result plus ``"outputs"``: ``[(path relative to the
    course folder, bytes)]`` of every file grading produced.
    """
    if description["fingerprint"] != code_fingerprint():
        return {"student": student, "parts": {}, "seconds": 0.0, "outputs": [],
                "flags": [("internal-error", f"the worker's grading code differs from the instructor's "
                                             f"(fingerprint {code_fingerprint()[:12]}, instructor's "
                                             f"{description['fingerprint'][:12]}): install the same course "
                                             f"environment on every worker")]}
    if settings.use_bwrap and not sandbox.bwrap_available():
        return {"student": student, "parts": {}, "seconds": 0.0, "outputs": [],
                "flags": [("internal-error", f"{sandbox.BWRAP} not found on the worker {socket.gethostname()}: "
                                             f"install bubblewrap on every worker")]}
    parts = list(load_checks(description["assignment"]).PARTS)
    found = [(part.grade_id, float(part.points)) for part in parts]
    if found != description["parts"]:  # cannot happen with equal fingerprints; checked all the same
        raise RuntimeError(f"the worker's checks grade {found}, the instructor's {description['parts']}")
    with tempfile.TemporaryDirectory(prefix="grading-task-") as folder:
        root = Path(folder)
        course = pipeline.Course(root=root, db_url="", course_id=description["course_id"],
                                 template=description["template"], source_path=None, parts=parts)
        if files is not None:
            submission = root / "submitted" / student / settings.assignment
            submission.mkdir(parents=True)
            for relative, data in files:
                target = submission / _safe_relative(relative)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        result = pipeline.grade_student(settings, course, student)
        result["outputs"] = [(path.relative_to(root).as_posix(), path.read_bytes())
                             for kind in ("feedback", "autograded")
                             for path in sorted((root / kind).rglob("*")) if path.is_file()]
    return result


def write_outputs(course_root, student, assignment, outputs):
    """Write a task's files under the course folder: only under feedback/ or autograded/ of that student."""
    for relative, data in outputs:
        path = _safe_relative(relative)
        if path.parts[:1] not in (("feedback",), ("autograded",)) or path.parts[1:3] != (student, assignment):
            raise ValueError(f"a task for {student!r} returned a file outside its folders: {relative!r}")
        target = course_root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _course(description):
    """A task holding the course description, on which every grading task depends: Dask copies
    it between workers, and computes it again from the scheduler's copy if its holder dies."""
    return description


def _lost(student, error):
    return {"student": student, "parts": {}, "seconds": 0.0,
            "flags": [("internal-error", f"the Dask task failed: {type(error).__name__}: {error}")]}


@contextlib.contextmanager
def grade_batch(settings, course, students):
    """Connect to ``settings.scheduler``; yields an iterator of results in the order they arrive.

    At most max(16, 4 per worker thread) tasks are submitted at once, so neither the
    scheduler nor this process holds a whole large class's notebooks in memory.
    """
    from distributed import Client, as_completed

    try:
        client = Client(settings.scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as error:
        raise pipeline.UsageError(f"cannot reach the Dask scheduler at {settings.scheduler}: {error}") from None
    try:
        if not client.nthreads() and not settings.quiet:
            print(f"the scheduler at {settings.scheduler} has no worker yet: tasks wait until one joins "
                  f"(see the README, \"Grading on a Dask cluster\")", file=sys.stderr, flush=True)
        description = client.submit(_course, describe_course(settings, course), pure=False,
                                    key=f"course-{settings.assignment}-{uuid.uuid4().hex}")
        batch = uuid.uuid4().hex
        pending = list(enumerate(students))
        pending.reverse()
        futures = as_completed(loop=client.loop)
        owner = {}

        def submit_more():
            limit = max(MIN_IN_FLIGHT, IN_FLIGHT_PER_THREAD * sum(client.nthreads().values()))
            while pending and futures.count() < limit:
                number, student = pending.pop()
                files = collect_files(course.root / "submitted" / student / settings.assignment)
                future = client.submit(grade_task, description, settings, student, files, pure=False,
                                       key=f"grade-{settings.assignment}-{number:06d}-{batch}")
                owner[future.key] = student
                futures.add(future)

        def arriving():
            submit_more()
            for future in futures:
                student = owner.pop(future.key)
                try:
                    result = future.result()
                    result["student"] = student
                    write_outputs(course.root, student, settings.assignment, result.pop("outputs"))
                except Exception as error:  # noqa: BLE001 (a lost task is this student's internal error)
                    result = _lost(student, error)
                future.release()
                submit_more()
                yield result

        yield arriving()
    finally:
        client.close()
