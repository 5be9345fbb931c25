"""Starting a worker process in a bubblewrap sandbox, one student at a time.

The sandbox sees the system (/usr), the Python install and the course environment, the
``nnlib`` and ``grading`` packages, all read-only, and one writable folder: the
submission's scratch copy, mounted as the home directory (and /tmp). It has no network,
its own process and IPC namespaces, an unprivileged user (a user namespace's nobody, or
for a root grader a dedicated uid set by ``setpriv`` with every capability dropped), no
environment but a few variables set here, and it dies with the judge. The worker then lowers its own
resource limits (memory, CPU time, file size, processes) before running student code. Inside
``grading.containment.contain`` (one per submission) the worker also joins the submission's
cgroup, and its scratch folder is the submission's own size-limited tmpfs.

``use_bwrap=False`` (``--no-sandbox``) runs the same worker as a plain child process,
with the same limits and environment but the judge's view of the file system; the
report says so on every line.
"""
import contextlib
import dataclasses
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

from grading import containment

BWRAP = "/usr/bin/bwrap"
SETPRIV = "/usr/bin/setpriv"
FIRST_SANDBOX_UID = 60000
# Inside the sandbox the course looks like /course/grading (read-only) next to
# /course/submission (the scratch copy of the submission: home and working folder), so a
# notebook that looks for grading/ in its parent folders finds it.
SANDBOX_COURSE = "/course"
SANDBOX_HOME = "/course/submission"
GRADING_DIR = Path(__file__).resolve().parent
MOUNTED = {Path("/"), Path("/tmp")}


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits of one worker process (rlimits) and of a whole submission (containment).

    ``memory_bytes`` and ``processes`` apply twice: to each process (RLIMIT_AS, RLIMIT_NPROC)
    and to all the submission's processes together (its cgroup, whose memory limit adds
    ``disk_bytes``: files in its tmpfs are memory). ``disk_bytes`` and ``wall_seconds`` are
    per submission (``grading.containment``).
    """

    memory_bytes: int = 2 * 2**30      # RLIMIT_AS: address space; beyond it MemoryError
    cpu_seconds: int = 120             # RLIMIT_CPU: then SIGXCPU kills the worker
    file_bytes: int = 64 * 2**20       # RLIMIT_FSIZE: largest file it may write
    processes: int = 32                # RLIMIT_NPROC: counted in the sandbox's user namespace
    open_files: int = 256              # RLIMIT_NOFILE
    disk_bytes: int = 256 * 2**20      # the submission's tmpfs (its scratch folder)
    wall_seconds: float = 600.0        # all the submission's processes, from its first worker
    contain: bool = True               # False (--no-containment): rlimits only, flagged on every line

    def as_rlimits(self):
        return {"RLIMIT_AS": self.memory_bytes, "RLIMIT_CPU": self.cpu_seconds,
                "RLIMIT_FSIZE": self.file_bytes, "RLIMIT_NPROC": self.processes,
                "RLIMIT_NOFILE": self.open_files, "RLIMIT_CORE": 0}


def bwrap_available():
    return os.access(BWRAP, os.X_OK)


def _package_dir(name):
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"cannot find the package {name}")
    return Path(spec.origin).resolve().parent


def _environment(home, python_path):
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": "/tmp" if home == SANDBOX_HOME else os.path.join(home, "tmp"),
        "LANG": "C.UTF-8",
        "PYTHONPATH": python_path,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": os.path.join(home, ".config", "matplotlib"),
        "IPYTHONDIR": os.path.join(home, ".ipython"),
    }


def _bind_system(args):
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    args += ["--ro-bind", "/usr", "/usr"]
    for path in ("/etc/ld.so.cache", "/etc/fonts", "/etc/localtime", "/etc/alternatives"):
        if os.path.exists(path):
            args += ["--ro-bind", path, path]


def _read_only_trees():
    """Folders outside /usr the worker needs: Python install, environment, nnlib, grading."""
    trees = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), _package_dir("nnlib")}
    numpy_dir = _package_dir("numpy")
    if not any(numpy_dir.is_relative_to(tree) for tree in trees):
        trees.add(numpy_dir.parent)
    trees = sorted(tree for tree in trees if not tree.is_relative_to("/usr"))
    # Drop folders inside another bound folder.
    return [tree for tree in trees if not any(tree != other and tree.is_relative_to(other) for other in trees)]


def prepare_scratch(scratch):
    """Make the folders the sandboxed worker expects in its home (scratch) folder."""
    for sub in ("tmp", ".config/matplotlib", ".ipython"):
        (scratch / sub).mkdir(parents=True, exist_ok=True)
    cache = _matplotlib_font_cache()
    if cache is not None:
        shutil.copy(cache, scratch / ".config" / "matplotlib" / cache.name)


def _matplotlib_font_cache():
    """The judge's matplotlib font list, so each worker skips rebuilding it (about 1 s)."""
    try:
        import matplotlib

        folder = Path(matplotlib.get_cachedir())
    except Exception:  # noqa: BLE001 (no matplotlib: nothing to copy)
        return None
    found = sorted(folder.glob("fontlist-v*.json"))
    return found[-1] if found else None


def worker_command(scratch, config_json, use_bwrap=True):
    """(argv, env, cwd) starting ``python -m grading.worker`` for the scratch folder.

    Without bwrap the scratch folder's parent must hold a ``grading`` link to this package.
    """
    if not use_bwrap:
        env = _environment(str(scratch), str(scratch.parent))
        return [sys.executable, "-m", "grading.worker", config_json], env, str(scratch)
    uid = sandbox_uid()
    if uid is None:  # not root: an unprivileged user namespace, nobody inside
        args = [BWRAP, "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534",
                "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv"]
    else:  # root: no user namespace; setpriv below drops to an unprivileged uid
        args = [BWRAP, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--clearenv"]
    _bind_system(args)
    # The writable folders first, then the read-only trees on top of them: a course (or
    # its .venv) living under /tmp stays visible instead of being hidden by the /tmp bind.
    args += ["--perms", "0755", "--dir", SANDBOX_COURSE,
             "--proc", "/proc", "--dev", "/dev",
             "--bind", str(scratch), SANDBOX_HOME,
             "--bind", str(scratch / "tmp"), "/tmp"]
    trees = _read_only_trees()
    # Folders bwrap would create on the way to a mount point get mode 0700; the sandbox's
    # uid must be able to pass through them (0711). /tmp is a mount point already.
    ancestors = sorted({parent for tree in trees for parent in tree.parents if parent not in MOUNTED},
                       key=lambda path: len(path.parts))
    for folder in ancestors:
        args += ["--perms", "0711", "--dir", str(folder)]
    for tree in trees:
        args += ["--ro-bind", str(tree), str(tree)]
    args += ["--chdir", SANDBOX_HOME]
    args += ["--ro-bind", str(GRADING_DIR), f"{SANDBOX_COURSE}/grading"]
    for name, value in _environment(SANDBOX_HOME, SANDBOX_COURSE).items():
        args += ["--setenv", name, value]
    if uid is not None:
        args += ["--", SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                 "--bounding-set=-all", "--no-new-privs", "--"]
    args += [sys.executable, "-m", "grading.worker", config_json]
    return args, {}, str(scratch)


def sandbox_uid():
    """The unprivileged uid a root grader runs student code as (None when not root).

    Root's processes are exempt from RLIMIT_NPROC even in a user namespace mapped to root,
    so a root grader gives each of its processes its own unused uid instead: the process
    limit then counts that sandbox's processes only.
    """
    if os.geteuid() != 0 or not os.access(SETPRIV, os.X_OK):
        return None
    return FIRST_SANDBOX_UID + os.getpid() % 5000


def hand_over(scratch):
    """Give the scratch folder to the sandbox's uid (root graders only)."""
    uid = sandbox_uid()
    if uid is None:
        return
    for path in [scratch, *scratch.rglob("*")]:
        os.chown(path, uid, uid, follow_symlinks=False)


def start_worker(scratch, config, pass_fds, log_file, use_bwrap=True):
    """Start the worker; ``config`` is JSON-able and tells it its pipe descriptors and limits."""
    import json

    if use_bwrap:
        hand_over(scratch)
    argv, env, cwd = worker_command(scratch, json.dumps(config), use_bwrap)
    # Inside ``containment.contain`` the child joins the submission's cgroup before it
    # runs anything, so every process it starts is counted and killed with it.
    group = containment.current()
    joins = group is not None and bool(group.folders)
    # Never into a group that the watchdog is still emptying (see Containment.admitting).
    with group.admitting() if joins else contextlib.nullcontext():
        return subprocess.Popen(argv, env=env, cwd=cwd, pass_fds=pass_fds, stdin=subprocess.DEVNULL,
                                stdout=log_file, stderr=log_file, start_new_session=True,
                                preexec_fn=group.join if joins else None)
