"""The instructor's grading secret: the key the hidden test inputs are derived from.

The committed seeds in ``grading/checks`` serve the learner's visible self-checks only;
anyone with the public repository can read them. The hidden cases that decide a grade
draw their inputs from seeds derived (HMAC-SHA256, see ``checks.base.HiddenInputs``)
from a secret that lives outside the repository, in the course's ``.nbgrader/`` folder:

- created on first use as ``.nbgrader/grading-secret``, 32 random bytes in hex, mode
  0600, written whole then linked into place (two graders started together end with the
  same file);
- read again by every later run, so a re-grade reproduces the same hidden inputs and
  therefore the same grades;
- never released: it is not under ``source/``, ``release/`` or ``feedback/``, the
  sandbox does not mount the course, and only the seeds' positions (never their values)
  appear in case labels.

Back the file up with the gradebook: without it a re-grade draws other hidden inputs.
"""
import os
import secrets
from pathlib import Path

from grading.checks.base import HiddenInputs

FILE_NAME = "grading-secret"
KEY_BYTES = 32


class SecretError(Exception):
    """The secret file exists but cannot be used (unreadable, malformed, too open)."""


def secret_path(course_root):
    return Path(course_root) / ".nbgrader" / FILE_NAME


def load_or_create(course_root):
    """The course's secret key (bytes), creating ``.nbgrader/grading-secret`` on first use."""
    path = secret_path(course_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Written whole under a private name, then linked into place: a concurrent grader
        # sees either no file or the complete one, and the first link wins.
        draft = path.with_name(f".{FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(KEY_BYTES) + "\n")
            try:
                os.link(draft, path)
            except FileExistsError:
                pass
        finally:
            draft.unlink()
    return _read(path)


def _read(path):
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise SecretError(f"{path} has mode {mode:04o}, expected 0600: others could read the hidden inputs' "
                          f"key; run chmod 600 {path}")
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise SecretError(f"{path} must hold at least 32 hexadecimal digits (a 16-byte key), got "
                          f"{len(text)} characters; delete it to create a new one (hidden inputs change)")
    return key


def hidden_inputs(course_root, assignment):
    """The HiddenInputs of ``assignment`` for this course (the judge passes it to every check)."""
    return HiddenInputs(load_or_create(course_root), assignment)
