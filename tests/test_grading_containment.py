"""Containment per submission (issue 11, item 9), through real processes.

A small class is graded once through ``python -m grading backprop --course-dir COURSE``,
two submissions at a time, so every hostile submission is graded next to an honest one:
forked children that together go over the submission's memory, a fork bomb, code that
ignores SIGALRM and runs past the submission's wall-time limit (with a child that leaves
its session), and code that fills its own disk. Each honest submission must get full
marks. Then ``grading.containment`` is driven directly: clean-up on KeyboardInterrupt and
after a grader killed by SIGKILL, and a machine without cgroups (a limit named as not
enforced, never silently).
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from adversarial import cases
from grading import containment, sandbox
from test_grading_pipeline import MAX_TOTAL, make_course, read_reports

REPO = cases.REPO
pytestmark = pytest.mark.slow
SUPPORT = containment.probe()
# Where a machine cannot contain a submission the grader says so (tested below, without
# root); these tests need the real limits.
needs_cgroups = pytest.mark.skipif(bool(SUPPORT.missing),
                                   reason=f"this machine cannot contain a submission: {SUPPORT.warning()}")

MEMORY_MB = 768          # per process (RLIMIT_AS) and, plus the disk, for all of a submission's processes
DISK_MB = 32
WALL_SECONDS = 45
CHILD_MB = 240           # each forked child: under RLIMIT_AS alone, four of them over the group's limit
LIMITS = ["--call-timeout", "20", "--cell-timeout", "10", "--part-timeout", "40", "--notebook-timeout", "60",
          "--memory-mb", str(MEMORY_MB), "--disk-mb", str(DISK_MB), "--submission-timeout", str(WALL_SECONDS),
          "--jobs", "2"]
CONTAINMENT_KINDS = {"memory-limit", "process-limit", "wall-time-limit", "disk-limit", "limit-not-enforced"}

# relu_forward's first call in a worker forks four children that each hold CHILD_MB and
# exit; it returns the right answer once they all exited normally. Alone each child stays
# under its RLIMIT_AS (graded without containment, the part gets full marks); together they
# go over the submission's memory, so the group is killed and the part scores 0.
FORKED_MEMORY = cases.fn(f"""
    import os, time
    forked = []

    def relu_forward(x):
        children = []
        for _ in range(0 if forked else 4):
            forked.append(True)
            pid = os.fork()
            if pid == 0:
                hold = b"x" * ({CHILD_MB} * 2**20)
                time.sleep(2)
                os._exit(0)
            children.append(pid)
        for pid in children:
            _, status = os.waitpid(pid, 0)
            if status != 0:
                return x, x
        return np.maximum(x, 0.0), x
""")

# Every process forks as long as it can and keeps its children alive; relu_forward is right
# only while no more processes than the limit ever existed (the spy's ``leaks``).
FORK_BOMB = cases.spy(f"""
    import os, time
    started = 0
    for _ in range(500):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            for _ in range(500):
                try:
                    if os.fork() == 0:
                        time.sleep(600)
                        os._exit(0)
                except OSError:
                    time.sleep(0.2)
            os._exit(0)
        started += 1
    if started > {sandbox.Limits().processes}:
        leaks.append(f"{{started}} processes")
""")

# The first code cell ignores SIGALRM (the worker's cell timer), starts a child that
# leaves its session and ignores SIGTERM, SIGHUP and SIGALRM, and loops for ever.
IGNORES_ALARM = cases.fn("""
    import os, signal
    for number in (signal.SIGALRM, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)
    if os.fork() == 0:
        os.setsid()
        while True:
            pass
    while True:
        pass
""")

# Writes 1 MiB files into its /tmp until the disk is full (at most 96 MiB, so a disk that
# is not limited is still not filled), keeps them, and is right only if the disk stopped it.
FILLS_DISK = cases.spy(f"""
    import os
    written = 0
    try:
        while written < 96:
            with open(f"/tmp/fill-{{written}}", "wb") as handle:
                handle.write(b"x" * 2**20)
            written += 1
    except OSError:
        pass
    if written >= {DISK_MB}:
        leaks.append(f"{{written}} MiB written")
""")

HOSTILE = {
    "01-fills-disk": (cases.answered({"answer_relu_forward": FILLS_DISK}), cases.full(), {"disk-limit"}),
    "03-forked-memory": (cases.answered({"answer_relu_forward": FORKED_MEMORY}),
                         cases.zero("relu_forward", "relu_backward", "two_layer_net"), {"memory-limit"}),
    "05-fork-bomb": (cases.answered({"answer_relu_forward": FORK_BOMB}), None, {"process-limit"}),
    "07-ignores-alarm": (None, None, {"wall-time-limit"}),  # built by _ignores_alarm_notebook
}
HONEST = ["02-honest", "04-honest", "06-honest", "08-honest"]


def _ignores_alarm_notebook():
    nb = cases.answered()
    first_code = next(i for i, cell in enumerate(nb["cells"]) if cell["cell_type"] == "code")
    nb["cells"].insert(first_code + 1, cases.code_cell(IGNORES_ALARM))
    return nb


def _leftovers():
    """Processes in, and tmpfs mounts of, any submission's containment on this machine."""
    processes = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if containment.PREFIX in (entry / "cgroup").read_text():
                    processes.append(int(entry.name))
            except OSError:
                pass
    return processes, containment._our_mounts()


def _groups():
    found = []
    for parent in {SUPPORT.memory_parent, SUPPORT.pids_parent} - {None}:
        found += [path for path in parent.iterdir() if path.name.startswith(containment.PREFIX + "-")]
    return found


class Graded:
    def __init__(self, course, process, seconds):
        self.course, self.process, self.seconds = course, process, seconds
        self.scores, self.review = read_reports(course)
        report = course / ".nbgrader" / "reports" / cases.ASSIGNMENT / "results.json"
        self.results = json.loads(report.read_text())

    def flags(self, student):
        return {line[1] for line in self.review if line[0] == student}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("contained"))
    for student, (nb, _, _) in HOSTILE.items():
        cases.submit(nb if nb is not None else _ignores_alarm_notebook())(course, student)
    for student in HONEST:
        cases.submit(cases.answered())(course, student)
    started = time.monotonic()
    process = subprocess.run([sys.executable, "-m", "grading", cases.ASSIGNMENT, "--course-dir", str(course),
                              *LIMITS], cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert process.returncode == 0, process.stderr[-3000:]
    return Graded(course, process, time.monotonic() - started)


@needs_cgroups
@pytest.mark.timeout(1300)
@pytest.mark.parametrize("student", HONEST)
def test_an_honest_submission_graded_next_to_hostile_ones_gets_full_marks(graded, student):
    assert float(graded.scores[student]["total"]) == MAX_TOTAL, graded.results[student]
    assert not graded.flags(student) & CONTAINMENT_KINDS, graded.flags(student)


@needs_cgroups
@pytest.mark.timeout(1300)
def test_forked_children_together_over_the_memory_limit_are_all_killed(graded):
    student = "03-forked-memory"
    _, expected, flags = HOSTILE[student]
    row = graded.scores[student]
    for grade_id, points in expected.items():
        assert float(row[grade_id]) == points, (grade_id, graded.results[student]["parts"][grade_id])
    assert flags <= graded.flags(student), graded.review
    detail = next(line[2] for line in graded.review if line[:2] == [student, "memory-limit"])
    assert f"{MEMORY_MB + DISK_MB} MiB" in detail


@needs_cgroups
@pytest.mark.timeout(1300)
def test_a_fork_bomb_is_stopped_at_the_process_limit(graded):
    student = "05-fork-bomb"
    assert "process-limit" in graded.flags(student), graded.review
    # Its relu_forward answers right only if no more processes than the limit ever started.
    assert float(graded.scores[student]["relu_forward"]) == cases.POINTS["relu_forward"], graded.results[student]


@needs_cgroups
@pytest.mark.timeout(1300)
def test_a_process_ignoring_sigalrm_is_killed_at_the_wall_limit(graded):
    student = "07-ignores-alarm"
    assert "wall-time-limit" in graded.flags(student), graded.review
    assert float(graded.scores[student]["total"]) == 0
    # Killed at the limit (plus the clean-up of its parts), not after every cell timeout in turn.
    assert WALL_SECONDS <= graded.results[student]["seconds"] < WALL_SECONDS + 20


@needs_cgroups
@pytest.mark.timeout(1300)
def test_filling_its_own_disk_stops_that_submission_only(graded):
    student = "01-fills-disk"
    assert "disk-limit" in graded.flags(student), graded.review
    # Its probe stopped at its disk size, so relu_forward is right; the rest is graded as usual.
    assert float(graded.scores[student]["total"]) == MAX_TOTAL, graded.results[student]
    assert float(graded.scores["02-honest"]["total"]) == MAX_TOTAL  # graded at the same time


@needs_cgroups
@pytest.mark.timeout(1300)
def test_no_process_group_or_mount_outlives_the_grader(graded):
    processes, mounts = _leftovers()
    assert processes == [] and mounts == [], (processes, mounts)
    assert _groups() == []
    assert "per-submission limits not enforced" not in graded.process.stderr


@pytest.mark.timeout(900)
def test_without_containment_the_same_submissions_get_through_and_every_line_says_so(tmp_path):
    course = make_course(tmp_path / "course")
    for student in ("01-fills-disk", "03-forked-memory"):
        cases.submit(HOSTILE[student][0])(course, student)
    process = subprocess.run([sys.executable, "-m", "grading", cases.ASSIGNMENT, "--course-dir", str(course),
                              *LIMITS, "--no-containment"], cwd=REPO, capture_output=True, text=True, timeout=800)
    assert process.returncode == 0, process.stderr[-3000:]
    assert sum("per-submission limits not enforced" in line for line in process.stderr.splitlines()) == 1
    scores, review = read_reports(course)
    # Only its own disk stopped the filler (its probe wrote 96 MiB into the shared /tmp here) ...
    assert float(scores["01-fills-disk"]["relu_forward"]) == 0
    # ... and only the group's limit stopped the four children, each under its own RLIMIT_AS.
    assert float(scores["03-forked-memory"]["relu_forward"]) == cases.POINTS["relu_forward"]
    for student in ("01-fills-disk", "03-forked-memory"):
        kinds = {line[1] for line in review if line[0] == student}
        assert "limit-not-enforced" in kinds and not kinds & (CONTAINMENT_KINDS - {"limit-not-enforced"})


# --------------------------------------------------------------------------- containment alone

def _limits(**changes):
    return sandbox.Limits(**dict(dict(memory_bytes=256 * 2**20, disk_bytes=8 * 2**20, wall_seconds=30), **changes))


def _start(contained, code):
    return subprocess.Popen([sys.executable, "-c", code], preexec_fn=contained.join, start_new_session=True)


@needs_cgroups
def test_keyboard_interrupt_still_kills_the_group_and_removes_groups_and_mount(tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with pytest.raises(KeyboardInterrupt):
        with containment.contain(scratch, _limits()) as contained:
            assert os.path.ismount(scratch)
            child = _start(contained, "import os, time\nos.setsid() if os.fork() == 0 else None\ntime.sleep(600)")
            deadline = time.monotonic() + 10
            while len(contained.processes()) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            pids = contained.processes()
            assert len(pids) == 2
            folders = list(contained.folders)
            raise KeyboardInterrupt
    assert child.wait(timeout=10) == -signal.SIGKILL
    assert not os.path.ismount(scratch)
    assert not any(folder.exists() for folder in folders)
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "State:\tZ" in Path(f"/proc/{pid}/status").read_text()


# Four children that together go over a 256 MiB group and wait to be killed.
GROUP_HOG = """
import os, time
children = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        hold = bytearray(100 * 2**20)
        for i in range(0, len(hold), 4096):
            hold[i] = 1
        time.sleep(60)
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
"""


@needs_cgroups
def test_a_worker_started_as_soon_as_the_last_one_died_of_memory_is_not_killed_with_it(tmp_path):
    # The judge starts the next part's worker as soon as it sees the last one die, while the
    # watchdog may still be sweeping that worker's children out of the group. Without
    # ``admitting`` the newcomer joined mid-sweep and died in about 3 of 10 runs here.
    for trial in range(10):
        scratch = tmp_path / f"scratch-{trial}"
        scratch.mkdir()
        with containment.contain(scratch, _limits()) as contained:
            hog = _start(contained, GROUP_HOG)
            assert hog.wait(timeout=30) == -signal.SIGKILL
            with contained.admitting():
                newcomer = subprocess.Popen(["sleep", "60"], preexec_fn=contained.join, start_new_session=True)
            time.sleep(0.5)  # several watchdog polls
            assert newcomer.poll() is None, f"run {trial}: the next worker was killed with the old one"
            assert contained.kills["memory"] == 1
        assert newcomer.wait(timeout=10) == -signal.SIGKILL  # and leaving ``contain`` kills it


@needs_cgroups
def test_a_grader_killed_with_sigkill_leaves_nothing_after_the_next_sweep(tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    code = (f"import os, signal, subprocess, sys\nsys.path.insert(0, {str(REPO)!r})\n"
            "from grading import containment, sandbox\n"
            f"with containment.contain({str(scratch)!r}, sandbox.Limits()) as c:\n"
            "    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
            "    subprocess.Popen(['sleep', '600'], preexec_fn=c.join, **quiet)\n"
            "    print(' '.join(map(str, c.folders)), flush=True)\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    grader = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert grader.returncode == -signal.SIGKILL
    folders = [Path(word) for word in grader.stdout.split()]
    assert folders and all(folder.exists() for folder in folders) and os.path.ismount(scratch)
    containment.sweep()
    assert not any(folder.exists() for folder in folders)
    assert not os.path.ismount(scratch)


def test_without_cgroups_each_limit_that_cannot_be_enforced_is_named(tmp_path):
    support = containment.probe(root=tmp_path, refresh=True)  # an empty folder: no controller at all
    limits = {limit for limit, _ in support.missing}
    if os.geteuid() == 0:
        assert {"memory over all processes", "process count over all processes"} <= limits
    warning = support.warning()
    assert warning.startswith("warning: per-submission limits not enforced: memory over all processes")
    assert "\n" not in warning
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with containment.contain(scratch, _limits(), root=tmp_path) as contained:
        assert contained.folders == []
    kinds = [kind for kind, _ in contained.report()]
    assert kinds.count("limit-not-enforced") == len(support.missing)


@pytest.mark.timeout(900)
def test_a_grader_that_cannot_mount_says_which_limit_it_cannot_enforce(tmp_path):
    # Root with every capability dropped: mounting a tmpfs is refused (and, on this kernel,
    # creating a pids group at the top of the hierarchy).
    if os.geteuid() != 0 or not os.access("/usr/bin/setpriv", os.X_OK):
        pytest.skip("needs root, to start a grader with its capabilities dropped")
    course = make_course(tmp_path / "course")
    cases.submit(cases.answered())(course, "honest")
    process = subprocess.run(
        ["/usr/bin/setpriv", "--bounding-set=-all", "--inh-caps=-all", "--",
         sys.executable, "-m", "grading", cases.ASSIGNMENT, "--course-dir", str(course), "--no-sandbox",
         "--call-timeout", "20", "--cell-timeout", "20"],
        cwd=REPO, capture_output=True, text=True, timeout=800)
    assert process.returncode == 0, process.stderr[-3000:]
    warnings = [line for line in process.stderr.splitlines() if "per-submission limits not enforced" in line]
    assert len(warnings) == 1 and "disk (own tmpfs)" in warnings[0], process.stderr[-3000:]
    scores, review = read_reports(course)
    assert float(scores["honest"]["total"]) == MAX_TOTAL
    details = [line[2] for line in review if line[:2] == ["honest", "limit-not-enforced"]]
    assert "disk (own tmpfs): mount -t tmpfs failed: Operation not permitted" in details, review
    # Whatever else the kernel refuses without capabilities is named the same way in both places.
    for detail in details:
        limit, reason = detail.split(": ", 1)
        assert f"{limit} ({reason})" in warnings[0]
