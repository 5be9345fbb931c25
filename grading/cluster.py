"""Grading on a Dask cluster: ``python -m grading ASSIGNMENT --scheduler tcp://HOST:8786``.

``Executor`` stands in for the local process pool of ``pipeline.run``: the pipeline
submits one job per student and reads the results as they arrive, exactly as it does
locally, and records them; only the place where a submission is graded changes.

In the instructor's process, for each student:

1. the pipeline's own collect step runs on the instructor's disk (``repair.check_folder``
   and ``repair.collect``): links, hard links, FIFOs and devices are refused there with the
   same ``refused-file`` lines as a local run, and nothing is read by following them. A
   student whose folder is missing, refused or unusable runs no code at all, so that
   submission is graded right here by ``pipeline.grade_student``;
2. otherwise one Dask task carries the ``repair.Collected`` listing, the bytes of its
   regular files (read with ``repair.read_regular``, within the same budget
   ``repair.copy_collected`` applies), and the course description: assignment, course id,
   nbgrader template, the parts and points, the course's grading secret
   (``grading/secret.py``) and a fingerprint of the ``grading`` and ``nnlib`` code.

On a worker (``grade_task``), nothing is read from the instructor's disk: the task
rebuilds a throw-away course in a temporary folder (the submission's files, the secret as
``.nbgrader/grading-secret`` with mode 0600) and runs the same ``pipeline.grade_student``
a local run does, with the instructor's collect result in place of a second walk: same
repair, same sandbox, same per-submission containment (``grading/containment.py``: its
cgroup, wall clock and tmpfs on the worker's machine), same judge, the same hidden inputs,
hence the same grades. One submission is graded at a time per worker process (a lock),
since containment and the sandbox's uid are per process. The result comes back with the
feedback page and the autograded notebook as bytes; the instructor's process checks that
they belong to that student's folders and writes them. The gradebook, ``scores.csv``, the
reports and the feedback pages are written by the instructor's process only.

A worker that dies mid-task (killed, out of memory, machine lost) loses only the task it
held: the scheduler runs it again on another worker, and each student has exactly one
task, so no row is lost or recorded twice. A task whose workers keep dying (Dask's
``distributed.scheduler.allowed-failures``, 3 by default) becomes that student's
``internal-error``.
"""
import collections
import functools
import hashlib
import os
import socket
import stat
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path, PurePosixPath

from grading import containment, pipeline, repair, sandbox, secret
from grading.checks import load as load_checks

PACKAGES = ("grading", "nnlib")         # the code whose fingerprint workers must share
CONNECT_TIMEOUT_S = 20
MIN_IN_FLIGHT = 8                       # tasks kept submitted at once, at least...
IN_FLIGHT_PER_THREAD = 2                # ...and this many per worker thread of the cluster
OUTPUT_FOLDERS = ("feedback", "autograded")


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
            "secret": secret.load_or_create(course.root).hex(), "fingerprint": code_fingerprint()}


# --------------------------------------------------------------------------- the instructor's side

def runs_no_code(course, student, assignment):
    """True when the student's submission cannot reach a sandbox: an unusable name, or a
    folder (``submitted/<student>`` or its assignment folder) that is missing or refused."""
    if not pipeline.usable_name(student):
        return True
    folder = course.root / "submitted" / student / assignment
    for path in (folder.parent, folder):
        try:
            repair.check_folder(path)
        except (FileNotFoundError, repair.Refused):
            return True
    return False


def hard_links_of(folder):
    """The pipeline's hard-link rule for ``COURSE/submitted/<student>/<assignment>``."""
    folder = Path(folder)
    return repair.HardLinks(folder.parents[2], folder.parent.name, folder.name)


def snapshot(folder):
    """The pipeline's collect step on ``folder``, and the files a task carries.

    Returns ``(collected, files)``: ``collected`` is ``repair.collect`` of ``folder``, with the pipeline's hard-link rule (the refused
    entries and their flags included); ``files`` maps each collected path (POSIX text) to
    its bytes, or to its size (an int) when ``repair.copy_collected`` would refuse it as too
    large: the worker then makes a sparse file of that size, so the same lines come out. The
    notebook candidates (top-level ``.ipynb``) are carried up to the notebook size limit,
    since the pipeline reads the notebook under that limit before it copies files.
    """
    collected = repair.collect(folder, hard_links_of(folder))
    files, budget = {}, repair.MAX_COPY_BYTES
    for relative in collected.files:
        notebook = len(relative.parts) == 1 and relative.suffix == ".ipynb"
        limit = max(budget, repair.MAX_NOTEBOOK_BYTES) if notebook else budget
        try:
            data = repair.read_regular(folder / relative, limit)
        except repair.Refused as refused:
            if str(refused).startswith("too large"):
                files[relative.as_posix()] = os.lstat(folder / relative).st_size
            continue  # changed since it was listed: on the worker it is missing (a race only)
        files[relative.as_posix()] = data
        if len(data) <= budget:
            budget -= len(data)
    return collected, files


def _course(description):
    return description


def _lost(student, error):
    return {"student": student, "parts": {}, "seconds": 0.0,
            "flags": [("internal-error", f"the Dask task failed: {type(error).__name__}: {error}")]}


class Executor:
    """A stand-in for ``concurrent.futures.ProcessPoolExecutor`` that grades on a Dask cluster.

    ``submit(fn, settings, student)`` returns a ``concurrent.futures.Future`` of the
    student's result (``fn`` is the pipeline's local grading function, which on the cluster
    is ``grade_task``). At most max(MIN_IN_FLIGHT, IN_FLIGHT_PER_THREAD per worker thread)
    tasks are on the cluster at once, so neither the scheduler nor this process holds a
    whole large class's notebooks in memory.
    """

    def __init__(self, settings, course):
        from distributed import Client

        self.settings, self.course = settings, course
        try:
            self.client = Client(settings.scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as error:
            raise pipeline.UsageError(f"cannot reach the Dask scheduler at {settings.scheduler}: "
                                      f"{type(error).__name__}: {error}") from None
        if not self.client.nthreads() and not settings.quiet:
            print(f"python -m grading: the scheduler at {settings.scheduler} has no worker yet; tasks wait "
                  f"until one joins (README, \"Grading on a Dask cluster\")", file=sys.stderr, flush=True)
        # A task holding the course description, on which every grading task depends: Dask copies it
        # between workers, and computes it again from the scheduler's copy if its holder dies.
        self.description = self.client.submit(_course, describe_course(settings, course), pure=False,
                                              key=f"course-{settings.assignment}-{uuid.uuid4().hex[:12]}")
        self.batch = uuid.uuid4().hex[:12]
        self.number = 0
        self.waiting = collections.deque()  # (key, student, concurrent future) not yet on the cluster
        self.in_flight = {}                 # Dask key -> (student, concurrent future, Dask future)
        self.lock = threading.Lock()
        self._sized = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()
        return False

    def shutdown(self):
        with self.lock:
            self.waiting.clear()
            running = list(self.in_flight.values())
            self.in_flight.clear()
        for _, _, task in running:
            task.cancel()
        self.client.close()

    def submit(self, fn, settings, student):
        import concurrent.futures

        done = concurrent.futures.Future()
        if runs_no_code(self.course, student, settings.assignment):
            done.set_result(pipeline.grade_student(settings, self.course, student))
            return done
        key = f"grade-{settings.assignment}-{self.number:06d}-{self.batch}"
        self.number += 1
        with self.lock:
            self.waiting.append((key, student, done))
        self._fill()
        return done

    def _limit(self):
        """How many tasks may be on the cluster now (the cluster's size is asked at most once a second)."""
        if time.monotonic() - self._sized.get("at", -1.0) > 1.0:
            threads = sum(self.client.nthreads().values())
            self._sized.update(at=time.monotonic(), limit=max(MIN_IN_FLIGHT, IN_FLIGHT_PER_THREAD * threads))
        return self._sized["limit"]

    def _fill(self):
        while True:
            with self.lock:
                if not self.waiting or len(self.in_flight) >= self._limit():
                    return
                key, student, done = self.waiting.popleft()
            try:
                folder = self.course.root / "submitted" / student / self.settings.assignment
                collected, files = snapshot(folder)
                task = self.client.submit(grade_task, self.description, self.settings, student, collected, files,
                                          key=key, pure=False)
            except Exception as error:  # noqa: BLE001 (this student's internal error, not the batch's)
                done.set_result(_lost(student, error))
                continue
            with self.lock:
                self.in_flight[key] = (student, done, task)
            task.add_done_callback(self._arrived)

    def _arrived(self, task):
        """Runs in Dask's callback thread: write the task's files, hand the result over."""
        with self.lock:
            entry = self.in_flight.pop(task.key, None)
        if entry is None:  # shut down meanwhile
            return
        student, done, _ = entry
        try:
            result = task.result()
            outputs = result.pop("outputs")
            result["student"] = student
            write_outputs(self.course.root, student, self.settings.assignment, outputs)
        except Exception as error:  # noqa: BLE001 (a lost task is this student's internal error)
            result = _lost(student, error)
        task.release()
        done.set_result(result)
        self._fill()


def _safe_relative(text):
    """``text`` as a relative path that stays inside its folder, or ValueError."""
    path = PurePosixPath(text)
    if path.is_absolute() or not path.parts or any(part in ("", ".", "..") for part in path.parts):
        raise ValueError(f"unsafe relative path {text!r}")
    return Path(*path.parts)


def write_outputs(course_root, student, assignment, outputs):
    """Write a task's files under the course folder: only under feedback/ or autograded/ of that student."""
    checked = []
    for relative, data in outputs:
        path = _safe_relative(relative)
        if path.parts[:1] not in [(name,) for name in OUTPUT_FOLDERS] or path.parts[1:3] != (student, assignment) \
                or len(path.parts) < 4:
            raise ValueError(f"a task for {student!r} returned a file outside its folders: {relative!r}")
        checked.append((path, data))
    for path, data in checked:
        target = course_root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


# --------------------------------------------------------------------------- the worker's side

_ONE_AT_A_TIME = threading.Lock()     # containment and the sandbox uid are per process
_SWEPT = []


def _refusal(student, text):
    return {"student": student, "parts": {}, "seconds": 0.0, "outputs": [], "flags": [("internal-error", text)]}


def rebuild(root, description, student, collected, files):
    """The throw-away course of one task under ``root``: the submission and the secret."""
    nbgrader = root / ".nbgrader"
    nbgrader.mkdir(mode=0o700)
    fd = os.open(secret.secret_path(root), os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as handle:
        handle.write(description["secret"] + "\n")
    submission = root / "submitted" / student / description["assignment"]
    submission.mkdir(parents=True)
    for relative in collected.folders:
        (submission / _safe_relative(Path(relative).as_posix())).mkdir(parents=True, exist_ok=True)
    for text, content in files.items():
        target = submission / _safe_relative(text)
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, int):  # refused as too large by the copy step: same size, no data
            with open(target, "wb") as handle:
                handle.truncate(content)
        else:
            target.write_bytes(content)
    return submission


def grade_task(description, settings, student, collected, files):
    """Grade one submission on a worker (a Dask task); reads nothing of the instructor's disk.

    Returns ``pipeline.grade_student``'s result plus ``"outputs"``: ``[(path relative to the
    course folder, bytes)]`` of every file grading produced.
    """
    if description["fingerprint"] != code_fingerprint():
        return _refusal(student, f"the worker's grading code differs from the instructor's (fingerprint "
                                 f"{code_fingerprint()[:12]}, instructor's {description['fingerprint'][:12]}): "
                                 f"install the same course environment on every worker")
    if settings.use_bwrap and not sandbox.bwrap_available():
        return _refusal(student, f"{sandbox.BWRAP} not found on the worker {socket.gethostname()}: install "
                                 f"bubblewrap on every worker")
    parts = list(load_checks(description["assignment"]).PARTS)
    found = [(part.grade_id, float(part.points)) for part in parts]
    if found != description["parts"]:  # cannot happen with equal fingerprints; checked all the same
        raise RuntimeError(f"the worker's checks grade {found}, the instructor's {description['parts']}")
    with _ONE_AT_A_TIME:
        if not _SWEPT:
            containment.sweep()  # groups and mounts left by a worker killed with SIGKILL
            _SWEPT.append(True)
        with tempfile.TemporaryDirectory(prefix="grading-task-") as folder:
            root = Path(folder)
            rebuild(root, description, student, collected, files)
            course = pipeline.Course(root=root, db_url="", course_id=description["course_id"],
                                     template=description["template"], source_path=None, parts=parts,
                                     collect=lambda _folder, _hard_links=None: collected)
            result = pipeline.grade_student(settings, course, student)
            result["outputs"] = [(path.relative_to(root).as_posix(), path.read_bytes())
                                 for kind in OUTPUT_FOLDERS
                                 for path in sorted((root / kind).rglob("*")) if path.is_file()]
    return result
