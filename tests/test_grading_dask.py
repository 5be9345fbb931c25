"""Grading on a Dask cluster: ``python -m grading backprop --scheduler ADDRESS``.

One real ``dask scheduler`` and two ``dask worker`` processes (one thread each) run on
127.0.0.1 only (their HTTP endpoints too), shared by the whole module. A class of 36
simulated submissions (correct, wrong in different parts, untouched, misnamed, a data file,
links, FIFOs and hard links beside an honest notebook, folders that are links, a missing
notebook, one with a slow exploration cell) is graded once locally (shared by the module),
and once through the scheduler with the worker that grades the slow submission killed
mid-task: its task runs again on the other worker, and every output (scores.csv, the
reports, results.json but the seconds, feedback pages, autograded notebooks, gradebook rows)
equals the local run's. Both courses hold the same grading secret, as a re-grade does.
Every process the tests start is stopped at the end (fixtures with ``finally``).
"""
import contextlib
import csv
import dataclasses
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from adversarial import cases

REPO = cases.REPO
DASK = Path(sys.executable).with_name("dask")
ASSIGNMENT = cases.ASSIGNMENT
FAST = ["--call-timeout", "3", "--cell-timeout", "10", "--part-timeout", "20", "--notebook-timeout", "60"]
SLOW_STUDENT = "student-slow"
# With --no-dashboard alone, the scheduler and each worker still serve HTTP (health, metrics) on
# every interface, the scheduler on the fixed port 8787: bind them to the loopback, on free ports.
LOOPBACK_HTTP = ["--no-dashboard", "--dashboard-address", "127.0.0.1:0"]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

# (how many students, answer cell replacements or None for the untouched release, file name)
MIX = [
    (16, {}, None),
    (3, {"answer_affine_forward": cases.NO_BIAS}, None),
    (3, {"answer_relu_forward": cases.ABS_RELU}, None),
    (3, {"answer_softmax_cross_entropy": cases.NAIVE_SOFTMAX}, None),
    (2, None, None),
    (1, {}, "my-backprop.ipynb"),
]
# Graded by the instructor's process itself (no code of theirs can run): folders that are links.
NO_TASK = ["student-linked-folder", "student-linked-assignment"]


def build_course(folder):
    folder.mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", folder)
    for kind in ("solutions", "exercises"):
        shutil.copytree(REPO / kind / ASSIGNMENT, folder / kind / ASSIGNMENT)
    cases.submit(cases.answered())(folder, "reference")
    number = 0
    for count, replace, filename in MIX:
        for _ in range(count):
            nb = cases.release_notebook() if replace is None else cases.answered(replace)
            cases.submit(nb, filename)(folder, f"student{number:03d}")
            number += 1
    # A folder without a notebook, and a submission with a data file beside the notebook.
    (folder / "submitted" / "student-empty" / ASSIGNMENT).mkdir(parents=True)
    cases.submit(cases.answered())(folder, "student-datafile")
    (folder / "submitted" / "student-datafile" / ASSIGNMENT / "weights.npy").write_bytes(b"\x93NUMPY" * 1000)
    # The collect step's refusals: links, a FIFO and a hard link beside an honest notebook (whose
    # relu_forward is right only if none of them reached the sandbox), a notebook that is a FIFO,
    # a notebook that is a link to the solutions, folders that are links.
    cases.honest_with_links(folder, "student-links")
    cases.fifo_notebook(folder, "student-fifo")
    cases.symlinked_notebook(cases.solution_path)(folder, "student-symlinked-notebook")
    cases.symlinked_student_folder(folder, "student-linked-folder")
    cases.symlinked_assignment_folder(folder, "student-linked-assignment")
    # Honest, with an exploration cell that sleeps: its task runs long enough to be killed mid-task.
    slow = cases.answered(add_after={"answer_relu_backward": ["import time\ntime.sleep(4)\n"]})
    cases.submit(slow)(folder, SLOW_STUDENT)
    return folder


def grade(course, *args, **popen):
    command = [sys.executable, "-m", "grading", ASSIGNMENT, "--course-dir", str(course), *FAST, *args]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, OPENBLAS_NUM_THREADS="1"), **popen)


def finish(process, timeout=1200):
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


class Outputs:
    """Everything one grading run wrote: reports, feedback pages, autograded notebooks, gradebook rows."""

    def __init__(self, course):
        reports = course / ".nbgrader" / "reports" / ASSIGNMENT
        self.scores_csv = (reports / "scores.csv").read_text()
        with open(reports / "scores.csv", newline="") as handle:
            self.scores = list(csv.DictReader(handle))
        self.review = (reports / "needs-review.txt").read_text()
        self.results = json.loads((reports / "results.json").read_text())
        self.seconds = {student: result.pop("seconds") for student, result in self.results.items()}
        self.files = {str(path.relative_to(course)): path.read_bytes()
                      for path in sorted((course / "feedback").rglob("*")) if path.is_file()}
        # The autograded notebooks without their cell ids: the repair step gives its rebuilt cells
        # fresh random ids (nbformat's new_code_cell), so those differ between two local runs too.
        for path in sorted((course / "autograded").rglob("*.ipynb")):
            notebook = json.loads(path.read_text())
            for cell in notebook["cells"]:
                cell.pop("id", None)
            self.files[str(path.relative_to(course))] = notebook
        db = sqlite3.connect(f"file:{course / '.nbgrader' / 'gradebook.db'}?mode=ro", uri=True)
        try:
            self.grades = sorted(db.execute(
                "SELECT student.id, base_cell.name, grade.auto_score, grade.manual_score FROM grade "
                "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
                "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
                "JOIN student ON submitted_assignment.student_id = student.id "
                "JOIN base_cell ON grade.cell_id = base_cell.id").fetchall())
            self.submissions = sorted(db.execute(
                "SELECT student_id, COUNT(*) FROM submitted_assignment GROUP BY student_id").fetchall())
        finally:
            db.close()


def assert_same_outputs(local, remote):
    assert remote.scores_csv == local.scores_csv
    assert remote.review == local.review
    assert remote.results == local.results
    assert sorted(remote.files) == sorted(local.files)
    for name in local.files:
        assert remote.files[name] == local.files[name], f"{name} differs from the local run's"
    assert remote.grades == local.grades
    assert remote.submissions == local.submissions


# --------------------------------------------------------------------------- a real cluster on 127.0.0.1

def _stop(process):
    """SIGKILL the process's whole group (a dask worker is a nanny and its worker process)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait(30)


class Cluster:
    def __init__(self, folder, workers=2):
        self.folder, self.processes, self.workers = folder, [], []
        self.scheduler_file = folder / "scheduler.json"
        self.env = dict(os.environ, OPENBLAS_NUM_THREADS="1",
                        PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
        self._start([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", *LOOPBACK_HTTP,
                     "--scheduler-file", str(self.scheduler_file)], "scheduler")
        deadline = time.monotonic() + 120
        while not self.scheduler_file.exists() and time.monotonic() < deadline:
            assert self.processes[0].poll() is None, (folder / "scheduler.log").read_text()
            time.sleep(0.2)
        self.address = json.loads(self.scheduler_file.read_text())["address"]
        assert self.address.startswith("tcp://127.0.0.1:"), self.address
        from distributed import Client

        self.client = Client(self.address, timeout=60, set_as_default=False)
        for _ in range(workers):
            self.add_worker()

    def add_worker(self):
        """Start one more ``dask worker`` (one thread) and wait until the scheduler has it."""
        name = f"worker{len(self.workers)}"
        self.workers.append(self._start(
            [str(DASK), "worker", "--scheduler-file", str(self.scheduler_file), "--host", "127.0.0.1",
             "--nthreads", "1", *LOOPBACK_HTTP, "--name", name, "--local-directory", str(self.folder / name)],
            name))
        self.client.wait_for_workers(len(self.workers), timeout=120)

    def _start(self, command, name):
        log = open(self.folder / f"{name}.log", "w")
        process = subprocess.Popen(command, cwd=self.folder, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.processes.append(process)
        return process

    def worker_process(self, address):
        """The Popen of the ``dask worker`` whose worker listens at ``address``."""
        name = self.client.scheduler_info()["workers"][address]["name"]
        return self.workers[int(str(name).removeprefix("worker"))]

    def close(self):
        with contextlib.suppress(Exception):
            self.client.close(timeout=10)
        for process in reversed(self.processes):
            _stop(process)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = None
    try:
        cluster = Cluster(tmp_path_factory.mktemp("cluster"))
        yield cluster
    finally:
        if cluster is not None:
            cluster.close()


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    course = build_course(tmp_path_factory.mktemp("local") / "course")
    status, _, err = finish(grade(course))
    assert status == 0, err[-3000:]
    return course, Outputs(course)


def same_secret(local_course, course):
    """Give ``course`` the local run's grading secret (as a re-grade of the same course has)."""
    from grading import secret

    target = secret.secret_path(course)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(secret.secret_path(local_course), target)
    target.chmod(0o600)


def listening_ports(pids):
    """{(address, port)} of the TCP sockets in LISTEN state owned by processes ``pids`` (from /proc)."""
    inodes = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    match = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(f"/proc/{pid}/fd/{fd}"))
                    if match:
                        inodes.add(match.group(1))
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                address, port = fields[1].split(":")
                found.add((address, int(port, 16)))
    return found


def descendants(pid):
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    children.append(int(entry.name))
    return children + [grandchild for child in children for grandchild in descendants(child)]


# --------------------------------------------------------------------------- tests

def test_the_cluster_listens_on_the_loopback_only(cluster):
    pids = [pid for process in cluster.processes for pid in [process.pid, *descendants(process.pid)]]
    ports = listening_ports(pids)
    assert ports, "found no listening socket of the scheduler and workers"
    loopback = "0100007F"  # 127.0.0.1 in /proc/net/tcp's byte order
    assert {address for address, _ in ports} == {loopback}, ports


def executing(cluster):
    """{worker address: [keys of the tasks it is running now]}, asked of each worker."""
    return cluster.client.run(lambda dask_worker: [str(task.key) for task in dask_worker.state.executing])


def test_a_class_graded_on_the_cluster_with_a_worker_killed_matches_the_local_run(local_run, cluster, tmp_path):
    from grading import cluster as dask_grading, pipeline

    local_course, local = local_run
    assert len(local.scores) >= 30
    course = build_course(tmp_path / "course")
    same_secret(local_course, course)
    students = pipeline.discover_students(course, ASSIGNMENT)
    assert sorted(path.name for path in (course / "submitted").iterdir()) == students
    fake = pipeline.Course(course, "", "", None, None, [])
    on_cluster = [student for student in students if not dask_grading.runs_no_code(fake, student, ASSIGNMENT)]
    assert sorted(set(students) - set(on_cluster)) == sorted(NO_TASK)
    slow_key = f"grade-{ASSIGNMENT}-{on_cluster.index(SLOW_STUDENT):06d}-"
    cluster.client.get_task_stream()  # starts the scheduler's record of which worker ran what
    started = time.time()
    process = grade(course, "--scheduler", cluster.address)
    killed = None
    try:
        deadline = time.monotonic() + 900
        while killed is None and time.monotonic() < deadline and process.poll() is None:
            for address, keys in executing(cluster).items():
                if any(key.startswith(slow_key) for key in keys):
                    time.sleep(1.0)  # well inside the slow task (its cell sleeps 4 s, in each of two runs)
                    killed = cluster.worker_process(address)
                    _stop(killed)
                    break
            time.sleep(0.1)
        assert killed is not None, "never saw the slow submission being graded"
        status, _, err = finish(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert status == 0, err[-3000:]
    assert killed.returncode == -signal.SIGKILL
    remote = Outputs(course)
    assert_same_outputs(local, remote)
    progress = [match.group(1) for match in re.finditer(r"^\[ *\d+/\d+\] (\S+)", err, re.M)]
    assert sorted(progress) == students  # every student exactly once
    ran = [task for task in cluster.client.get_task_stream(start=started)
           if str(task["key"]).startswith(f"grade-{ASSIGNMENT}-")]
    keys = [str(task["key"]) for task in ran]
    assert len(keys) == len(set(keys)) == len(on_cluster)  # one finished task per submission sent
    assert any(key.startswith(slow_key) for key in keys)   # the killed worker's task ran again
    assert len({task["worker"] for task in ran}) == 2       # both workers graded (one before it died)
    # The links' submission was graded right: nothing the collect step refused reached its sandbox.
    links = {row["student"]: row for row in remote.scores}["student-links"]
    assert float(links["total"]) == float(links["max_total"]), links


def test_without_a_reachable_scheduler_the_command_says_so(tmp_path):
    course = build_course(tmp_path / "course")
    with socket.socket() as probe:  # a port with no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    status, _, err = finish(grade(course, "--scheduler", f"tcp://127.0.0.1:{port}", "--student", "student000"))
    assert status == 2, err[-3000:]
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in err
    assert not (course / "feedback").exists()


# --------------------------------------------------------------------------- the task on its own

def test_a_task_grades_from_its_arguments_alone(local_run, tmp_path):
    """The worker's function reads nothing of the course folder: it grades from bytes alone."""
    from grading import cluster, pipeline

    course_dir, local = local_run
    settings = pipeline.Settings(course_dir=course_dir, assignment=ASSIGNMENT,
                                 timeouts=pipeline.judge.Timeouts(call=3, cell=10, part=20, notebook=60))
    course = pipeline.load_course(settings)
    description = cluster.describe_course(settings, course)
    collected, files = cluster.snapshot(course_dir / "submitted" / "student-datafile" / ASSIGNMENT)
    assert sorted(files) == [f"{ASSIGNMENT}.ipynb", "weights.npy"]
    elsewhere = dataclasses.replace(settings, course_dir=tmp_path / "no-such-course")
    result = cluster.grade_task(description, elsewhere, "student-datafile", collected, files)
    outputs = result.pop("outputs")
    result.pop("seconds")
    expected = dict(local.results["student-datafile"])
    assert json.loads(json.dumps(result, default=str)) == expected
    assert {name for name, _ in outputs} == {f"feedback/student-datafile/{ASSIGNMENT}/{ASSIGNMENT}.html",
                                              f"autograded/student-datafile/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"}
    assert not (tmp_path / "no-such-course").exists()


def test_the_snapshot_is_the_pipelines_collect_step(local_run):
    """Links, FIFOs and hard links are refused on the instructor's disk, with the local run's lines."""
    from grading import cluster, repair

    course_dir, local = local_run
    folder = course_dir / "submitted" / "student-links" / ASSIGNMENT
    collected, files = cluster.snapshot(folder)
    assert collected == repair.collect(folder, cluster.hard_links_of(folder))
    assert sorted(files) == [f"{ASSIGNMENT}.ipynb", "data/table.csv"]
    assert files["data/table.csv"] == (folder / "data" / "table.csv").read_bytes()
    refused = sorted(detail for kind, detail in local.results["student-links"]["flags"] if kind == "refused-file")
    assert sorted(flag.detail for flag in collected.flags) == refused and len(refused) == 5


def test_a_file_over_the_copy_budget_travels_as_its_size(tmp_path, monkeypatch):
    from grading import cluster, repair

    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / f"{ASSIGNMENT}.ipynb").write_bytes(b"{}" * 10)
    (folder / "big.bin").write_bytes(b"x" * 5000)
    (folder / "small.bin").write_bytes(b"y" * 10)
    monkeypatch.setattr(repair, "MAX_COPY_BYTES", 1000)
    collected, files = cluster.snapshot(folder)
    assert files == {f"{ASSIGNMENT}.ipynb": b"{}" * 10, "big.bin": 5000, "small.bin": b"y" * 10}
    description = {"assignment": ASSIGNMENT, "secret": "ab" * 32}
    (tmp_path / "task").mkdir()
    rebuilt = cluster.rebuild(tmp_path / "task", description, "someone", collected, files)
    assert (rebuilt / "big.bin").stat().st_size == 5000
    # The copy step refuses the rebuilt file exactly as it refuses the original.
    here = repair.copy_collected(folder, collected, tmp_path / "copy-here", budget=1000)
    there = repair.copy_collected(rebuilt, collected, tmp_path / "copy-there", budget=1000)
    assert here == there and [flag.detail for flag in here] == ["big.bin: too large (5,000 bytes; the limit is "
                                                                 "980); not copied"]


def test_a_task_carries_the_courses_secret(local_run, tmp_path):
    """The worker's hidden inputs come from the instructor's secret, written with mode 0600."""
    from grading import cluster, pipeline, secret

    course_dir, _ = local_run
    settings = pipeline.Settings(course_dir=course_dir, assignment=ASSIGNMENT)
    description = cluster.describe_course(settings, pipeline.load_course(settings))
    collected, files = cluster.snapshot(course_dir / "submitted" / "reference" / ASSIGNMENT)
    cluster.rebuild(tmp_path, description, "reference", collected, files)
    assert secret.secret_path(tmp_path).stat().st_mode & 0o777 == 0o600
    assert secret.load_or_create(tmp_path) == secret.load_or_create(course_dir)
    here = secret.hidden_inputs(course_dir, ASSIGNMENT).for_part("p").seeds(6)
    assert secret.hidden_inputs(tmp_path, ASSIGNMENT).for_part("p").seeds(6) == here


def test_a_task_refuses_a_worker_with_different_grading_code(local_run):
    from grading import cluster, pipeline

    course_dir, _ = local_run
    settings = pipeline.Settings(course_dir=course_dir, assignment=ASSIGNMENT)
    description = dict(cluster.describe_course(settings, pipeline.load_course(settings)), fingerprint="0" * 64)
    collected, files = cluster.snapshot(course_dir / "submitted" / "reference" / ASSIGNMENT)
    result = cluster.grade_task(description, settings, "student000", collected, files)
    assert result["parts"] == {} and result["outputs"] == []
    [(kind, detail)] = result["flags"]
    assert kind == "internal-error" and "differs from the instructor's" in detail


@pytest.mark.parametrize("name", ["../other/backprop/backprop.html", "/etc/passwd", "feedback/../../x",
                                  "feedback/student001/backprop/backprop.html", "gradebook.db",
                                  "feedback/student000/dropout/dropout.html"])
def test_a_result_cannot_write_outside_its_students_folders(tmp_path, name):
    from grading import cluster

    with pytest.raises(ValueError):
        cluster.write_outputs(tmp_path, "student000", ASSIGNMENT, [(name, b"x")])
    assert list(tmp_path.iterdir()) == []
