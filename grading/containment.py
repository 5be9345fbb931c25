"""Limits over all the processes of one submission: a cgroup, a wall clock and a tmpfs.

Per-process limits (``setrlimit`` in the worker) cap each process alone: four forked
children may each use the whole memory limit, and a child that leaves the worker's
session outlives it. So every submission being graded also gets, for all its processes
together (every worker the judge starts for it, and whatever they fork):

- a **cgroup** of its own (cgroup v1 ``memory`` and ``pids`` controllers, or one cgroup v2
  group with both): memory (``Limits.memory_bytes`` plus the disk size, since files in a
  tmpfs are memory charged to the group that wrote them) and process count
  (``Limits.processes``). Going over the memory kills every process of the group (v1: the
  kernel pauses them at the limit and the watchdog kills them; v2: ``memory.oom.group``);
  at the process limit ``fork`` fails (the limit itself stops a fork bomb);
- a **wall clock** (``Limits.wall_seconds``), enforced from here, outside the untrusted
  processes: at the limit every process of the group is killed, whatever signals it
  ignores, and any worker started afterwards within ``POLL_SECONDS``;
- a **disk** of its own: a tmpfs of ``Limits.disk_bytes`` mounted on the submission's
  scratch folder, which the sandbox binds as its only writable folder (home and /tmp).
  Filling it affects no other submission.

A watchdog thread in the grading process polls the group (every ``POLL_SECONDS``) and
does the killing. ``close()`` (or leaving ``contain(...)``) always kills the group,
removes it and unmounts the tmpfs, errors and KeyboardInterrupt included; ``sweep()`` removes what a
grader killed by SIGKILL left behind. Where cgroups or root are missing, ``probe()`` names
each limit that cannot be enforced; the grader prints one warning line per run and every
submission gets a ``limit-not-enforced`` report line. Per-process rlimits stay on either way.
"""
import contextlib
import ctypes
import dataclasses
import os
import re
import signal
import tempfile
import threading
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
POLL_SECONDS = 0.05
PREFIX = "nnlib-grading"          # cgroup names and tmpfs sources: nnlib-grading-<grader pid>-<n>
_NAME = re.compile(rf"^{PREFIX}-(\d+)-\d+$")
MNT_DETACH = 2


# --------------------------------------------------------------------------- what this machine allows

@dataclasses.dataclass(frozen=True)
class Support:
    """Where new groups go (None: not available) and why a limit cannot be enforced."""

    version: int = 0                  # 1, 2 or 0 (no usable cgroup)
    memory_parent: Path = None        # v1: folder for new memory groups; v2: folder for new groups
    pids_parent: Path = None          # v1 only
    tmpfs: bool = False
    missing: tuple = ()               # (limit, reason) pairs

    def warning(self):
        """One line naming every limit that is not enforced over a whole submission, or ''."""
        if not self.missing:
            return ""
        parts = "; ".join(f"{limit} ({reason})" for limit, reason in self.missing)
        return (f"warning: per-submission limits not enforced: {parts}; "
                f"only the per-process rlimits apply")


def _own_group(controller, lines):
    """The grader's own group for a v1 controller ('memory') or v2 (''), from /proc/self/cgroup."""
    for line in lines:
        _, names, path = line.split(":", 2)
        if (controller == "" and names == "") or controller in names.split(","):
            return path.strip()
    return None


def _try_group(parent, files):
    """True when a new group under ``parent`` accepts the given limit files."""
    test = parent / f"{PREFIX}-probe-{os.getpid()}"
    try:
        test.mkdir()
    except OSError:
        return False
    try:
        for name, value in files.items():
            (test / name).write_text(value)
        return True
    except OSError:
        return False
    finally:
        with contextlib.suppress(OSError):
            test.rmdir()


def _v1_parent(controller, lines, root):
    mount = root / controller
    if not (mount / "cgroup.procs").exists():
        return None
    own = _own_group(controller, lines)
    candidates = [mount / own.lstrip("/")] if own and own != "/" else []
    candidates.append(mount)
    files = {"memory": {"memory.limit_in_bytes": str(2**30)}, "pids": {"pids.max": "64"}}[controller]
    for parent in candidates:
        if parent.is_dir() and _try_group(parent, files):
            return parent
    return None


def _v2_parent(lines, root):
    """A v2 folder whose children may use memory and pids (enabling them if needed)."""
    own = _own_group("", lines) or "/"
    parent = root / own.lstrip("/")
    try:
        enabled = (parent / "cgroup.subtree_control").read_text().split()
        if not {"memory", "pids"} <= set(enabled):
            (parent / "cgroup.subtree_control").write_text("+memory +pids")
    except OSError:
        return None
    return parent if _try_group(parent, {"memory.max": str(2**30), "pids.max": "64"}) else None


def _tmpfs_problem():
    """'' when a tmpfs can be mounted here, else why not."""
    folder = tempfile.mkdtemp(prefix=f"{PREFIX}-probe-")
    try:
        _mount_tmpfs(folder, 2**20, f"{PREFIX}-probe")
        _unmount(folder)
        return ""
    except OSError as error:
        return os.strerror(error.errno) if error.errno else str(error)
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(folder)


_probed = {}


def probe(root=CGROUP_ROOT, refresh=False):
    """What this machine allows (cached per process; pool processes inherit it at fork)."""
    key = str(root)
    if key in _probed and not refresh:
        return _probed[key]
    missing = []
    version, memory_parent, pids_parent = 0, None, None
    if os.geteuid() != 0:
        why = "the grader does not run as root"
        missing = [("memory over all processes", why), ("process count over all processes", why),
                   ("wall time over processes that leave the worker's session", why),
                   ("disk (own tmpfs)", why)]
        _probed[key] = Support(missing=tuple(missing))
        return _probed[key]
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        lines = []
    if (root / "cgroup.controllers").exists():  # the unified (v2) hierarchy is mounted at the root
        parent = _v2_parent(lines, root)
        if parent is not None:
            version, memory_parent = 2, parent
        else:
            why = f"no cgroup v2 folder under {root} accepts memory and pids limits"
            missing += [("memory over all processes", why), ("process count over all processes", why)]
    else:
        memory_parent = _v1_parent("memory", lines, root)
        pids_parent = _v1_parent("pids", lines, root)
        if memory_parent is None:
            missing.append(("memory over all processes", f"no writable cgroup v1 memory controller in {root}"))
        if pids_parent is None:
            missing.append(("process count over all processes", f"no writable cgroup v1 pids controller in {root}"))
        version = 1 if memory_parent or pids_parent else 0
    if version == 0:
        missing.append(("wall time over processes that leave the worker's session", "no cgroup to find them"))
    problem = _tmpfs_problem()
    tmpfs = not problem
    if problem:
        missing.append(("disk (own tmpfs)", f"mount -t tmpfs failed: {problem}"))
    _probed[key] = Support(version, memory_parent, pids_parent, tmpfs, tuple(missing))
    return _probed[key]


# --------------------------------------------------------------------------- mounts

def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _mount_tmpfs(target, size_bytes, source):
    options = f"size={int(size_bytes)},mode=0755".encode()
    flags = 0x2 | 0x4  # MS_NOSUID | MS_NODEV
    if _libc().mount(source.encode(), str(target).encode(), b"tmpfs", flags, options) != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"mount -t tmpfs on {target}: {os.strerror(number)}")


def _unmount(target, lazy=False):
    if _libc().umount2(str(target).encode(), MNT_DETACH if lazy else 0) != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"umount {target}: {os.strerror(number)}")


def _our_mounts():
    """(source, target) of every tmpfs a grader mounted, from /proc/self/mounts."""
    found = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mounts").read_text().splitlines():
            source, target, kind = line.split()[:3]
            if kind == "tmpfs" and _NAME.match(source):
                found.append((source, target.encode().decode("unicode_escape")))
    return found


# --------------------------------------------------------------------------- one submission's group

def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read(path, default=""):
    try:
        return path.read_text()
    except OSError:
        return default


def _field(text, name):
    """The number after ``name`` in a 'key value' file such as memory.events (0 when absent)."""
    for line in text.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == name:
            return int(words[1])
    return 0


def _procs(folders):
    pids = set()
    for folder in folders:
        for word in _read(folder / "cgroup.procs").split():
            pids.add(int(word))
    return pids


def _kill_all(folders, timeout=5.0):
    """SIGKILL every process in the groups until they are empty (a fork bomb is bounded by pids)."""
    kill_file = [folder / "cgroup.kill" for folder in folders if (folder / "cgroup.kill").exists()]
    deadline = time.monotonic() + timeout
    while True:
        pids = _procs(folders)
        if not pids:
            return True
        for path in kill_file:
            with contextlib.suppress(OSError):
                path.write_text("1")
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)


def _remove(folders):
    for folder in folders:
        for _ in range(100):
            try:
                folder.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                _kill_all([folder], timeout=0.1)
                time.sleep(0.01)


class Containment:
    """The limits of one submission, its watchdog, and the report lines they produce."""

    _count = 0

    def __init__(self, scratch_root, limits, support):
        Containment._count += 1
        self.name = f"{PREFIX}-{os.getpid()}-{Containment._count}"
        self.scratch_root, self.limits, self.support = Path(scratch_root), limits, support
        self.folders = []            # every cgroup folder of this submission
        self.memory_group = self.pids_group = None
        self.mounted = False
        self.flags = [("limit-not-enforced", f"{limit}: {reason}") for limit, reason in support.missing]
        self.started = time.monotonic()
        self.deadline = self.started + limits.wall_seconds
        self.expired = False
        self.kills = {"memory": 0}
        self._seen = {"memory": 0}
        self.refused_forks = 0
        self._stop = threading.Event()
        self._thread = None
        self._lock = threading.Lock()

    # -- set-up and clean-up
    def __enter__(self):
        try:
            self._create_groups()
            if self.support.tmpfs:
                _mount_tmpfs(self.scratch_root, self.limits.disk_bytes, self.name)
                self.mounted = True
            if self.folders:
                self._thread = threading.Thread(target=self._watch, name=self.name, daemon=True)
                self._thread.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _create_groups(self):
        limits, support = self.limits, self.support
        memory = limits.memory_bytes + limits.disk_bytes
        if support.version == 2:
            group = support.memory_parent / self.name
            group.mkdir()
            self.folders.append(group)
            (group / "memory.max").write_text(str(memory))
            with contextlib.suppress(OSError):
                (group / "memory.swap.max").write_text("0")
            with contextlib.suppress(OSError):
                (group / "memory.oom.group").write_text("1")
            (group / "pids.max").write_text(str(limits.processes))
            self.memory_group = self.pids_group = group
            return
        if support.memory_parent is not None:
            group = support.memory_parent / self.name
            group.mkdir()
            self.folders.append(group)
            (group / "memory.limit_in_bytes").write_text(str(memory))
            with contextlib.suppress(OSError):  # only with swap accounting
                (group / "memory.memsw.limit_in_bytes").write_text(str(memory))
            # At the limit the kernel then pauses the group's processes (under_oom) instead of
            # killing one of them: the watchdog kills them all, before the judge can see one
            # worker die and start the next (which a late kill would then hit).
            with contextlib.suppress(OSError):
                (group / "memory.oom_control").write_text("1")
            self.memory_group = group
        if support.pids_parent is not None:
            group = support.pids_parent / self.name
            group.mkdir()
            self.folders.append(group)
            (group / "pids.max").write_text(str(limits.processes))
            self.pids_group = group

    def close(self):
        """Kill every process of the submission, remove its groups, unmount its disk. Idempotent."""
        global _current
        if _current is self:
            _current = None
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2)
        if self.folders:
            self._check()
            _kill_all(self.folders)
        if self.mounted:
            self._note_disk()
            try:
                _unmount(self.scratch_root)
            except OSError:
                _unmount(self.scratch_root, lazy=True)
            self.mounted = False
        _remove(self.folders)
        self.folders = []

    # -- processes
    def join(self):
        """For ``preexec_fn``: move the (forked, not yet exec'd) child into the groups."""
        pid = str(os.getpid()).encode()
        for folder in self.folders:
            fd = os.open(folder / "cgroup.procs", os.O_WRONLY)
            try:
                os.write(fd, pid)
            finally:
                os.close(fd)

    def processes(self):
        return _procs(self.folders)

    @contextlib.contextmanager
    def admitting(self):
        """Around starting a process that joins the groups: wait for a kill in progress to end.

        A kill sweeps the groups until they are empty. Without this a worker started as soon
        as the judge saw the last one die could join mid-sweep and be killed with the old
        processes; a part that had nothing to do with the memory would then score 0.
        """
        with self._lock:
            yield

    def _wait_memory_released(self, timeout=2.0):
        """v1: after the kill, wait until the kernel no longer reports the group paused at its
        limit, so the next poll does not take the old episode for a new one."""
        if self.support.version != 1 or self.memory_group is None:
            return
        deadline = time.monotonic() + timeout
        while _field(_read(self.memory_group / "memory.oom_control"), "under_oom"):
            if time.monotonic() > deadline:
                return
            time.sleep(0.005)

    # -- the watchdog
    def _watch(self):
        while not self._stop.wait(POLL_SECONDS):
            self._check()

    def _check(self):
        with self._lock:
            reason = None
            if self.memory_group is not None:
                events = _read(self.memory_group / ("memory.events" if self.support.version == 2
                                                    else "memory.oom_control"))
                count = _field(events, "oom_kill") + _field(events, "oom_group_kill")
                if count > self._seen["memory"]:  # the kernel killed (v2: the whole group)
                    self._seen["memory"] = count
                    reason = "memory"
                if self.support.version == 1 and _field(events, "under_oom"):  # paused at the limit
                    reason = "memory"
            if self.pids_group is not None:  # a refused fork is the limit at work: counted, no kill
                self.refused_forks = _field(_read(self.pids_group / "pids.events"), "max")
            if reason is not None:
                self.kills[reason] += 1
                _kill_all(self.folders)
                self._wait_memory_released()
            if not self.expired and time.monotonic() >= self.deadline:
                self.expired = True
                self.flags.append(("wall-time-limit",
                                   f"its processes ran {self.limits.wall_seconds:g} s in all (the "
                                   f"submission's wall-time limit): every one was killed"))
            if self.expired and self.processes():
                _kill_all(self.folders)

    def _note_disk(self):
        try:
            stats = os.statvfs(self.scratch_root)
        except OSError:
            return
        if stats.f_bavail * stats.f_frsize < 64 * 2**10:
            self.flags.append(("disk-limit", f"its files filled its {self.limits.disk_bytes / 2**20:g} MiB "
                                             f"disk; writes beyond it failed"))

    def report(self):
        """(kind, detail) report lines: limits reached and limits not enforced."""
        lines = list(self.flags)
        memory = (self.limits.memory_bytes + self.limits.disk_bytes) / 2**20
        if self.kills["memory"]:
            lines.append(("memory-limit", f"its processes together used more than {memory:g} MiB: every "
                                          f"one was killed ({self.kills['memory']} time(s))"))
        if self.refused_forks:
            lines.append(("process-limit", f"it tried to run more than {self.limits.processes} processes "
                                           f"at once: {self.refused_forks} fork(s) refused"))
        return lines


_current = None


def current():
    """The containment of the submission this process is grading (None outside ``contain``)."""
    return _current


OFF = Support(missing=(("every per-submission limit", "switched off with --no-containment"),))


def support_for(limits, root=CGROUP_ROOT):
    """What ``contain`` will enforce under ``limits`` (``limits.contain`` False: nothing)."""
    return probe(root) if limits.contain else OFF


def start(scratch_root, limits, root=CGROUP_ROOT):
    """Set up one submission's limits (its scratch folder ``scratch_root`` must exist).

    Workers started until ``close()`` join its group; ``close()`` must follow in a ``finally``.
    """
    global _current
    containment = Containment(scratch_root, limits, support_for(limits, root))
    containment.__enter__()
    _current = containment
    return containment


@contextlib.contextmanager
def contain(scratch_root, limits, root=CGROUP_ROOT):
    """``start`` and ``close`` around a block."""
    containment = start(scratch_root, limits, root)
    try:
        yield containment
    finally:
        containment.close()


def sweep(root=CGROUP_ROOT):
    """Remove groups and tmpfs mounts left by graders that are gone (killed by SIGKILL)."""
    support = probe(root)
    for source, target in _our_mounts():
        pid = int(_NAME.match(source).group(1))
        if not _pid_alive(pid):
            with contextlib.suppress(OSError):
                _unmount(target, lazy=True)
            with contextlib.suppress(OSError):
                os.rmdir(target)
    for parent in {support.memory_parent, support.pids_parent} - {None}:
        with contextlib.suppress(OSError):
            for folder in parent.iterdir():
                match = _NAME.match(folder.name)
                if match and folder.is_dir() and not _pid_alive(int(match.group(1))):
                    _kill_all([folder], timeout=1)
                    _remove([folder])

