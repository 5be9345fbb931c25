"""The feedback page of one student: scores, what is wrong, and the student's own code.

Built here rather than by nbconvert so that it can never contain the test cells, hidden
tests or solutions: the only code on the page is the student's answer cells and the cells
they added; every string is HTML-escaped.
"""
import html
import os
import re
import stat
import unicodedata

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #1a1a1a; line-height: 1.45; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #bbb; padding: .35rem .6rem; text-align: left; vertical-align: top; }
td.score { text-align: right; white-space: nowrap; }
pre { background: #f4f4f4; padding: .6rem; overflow-x: auto; border-left: 3px solid #888; }
.full { color: #1b5e20; } .partial { color: #8a5a00; } .none { color: #b00020; }
"""


_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def visible(value):
    """``value`` as text on one line with every control character shown as a Python escape.

    Tabs, line breaks, other control and format characters (``unicodedata`` categories
    C* and the line and paragraph separators) become ``\\t``, ``\\n``, ``\\x1b``,
    ``\\u2028`` ...; a backslash becomes two, so no two names look alike. A name cannot
    then add a line or a column to a text report.
    """
    out = []
    for char in str(value):
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif unicodedata.category(char)[0] == "C" or unicodedata.category(char) in ("Zl", "Zp"):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000
                       else f"\\U{code:08x}")
        else:
            out.append(char)
    return "".join(out)


def _escape(value):
    return html.escape(str(value), quote=True)


def _status(score, points):
    if points and score >= points:
        return "full"
    return "partial" if score > 0 else "none"


def render(student, assignment, rows, total, max_total, student_cells, notes):
    """HTML text of the page.

    rows: dicts with grade_id, score, points, messages (judge), notebook (the learner-
    visible outcome of the notebook's own test cell: "passed", "failed: ..." or "not run").
    """
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_escape(assignment)}: feedback for {_escape(visible(student))}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{_escape(assignment)}: feedback for {_escape(visible(student))}</h1>",
        f"<p><strong>Score: {total:g} / {max_total:g}</strong></p>",
        "<table><thead><tr><th>Part</th><th>Score</th><th>What the grader found</th>"
        "<th>Your notebook's own test</th></tr></thead><tbody>",
    ]
    for row in rows:
        status = _status(row["score"], row["points"])
        messages = "".join(f"<li>{_escape(message)}</li>" for message in row["messages"])
        found = f"<ul>{messages}</ul>" if messages else ("all checks passed" if status == "full" else "")
        out.append(
            f'<tr><td>{_escape(row["grade_id"])}</td>'
            f'<td class="score {status}">{row["score"]:g} / {row["points"]:g}</td>'
            f"<td>{found}</td><td>{_escape(row['notebook'])}</td></tr>"
        )
    out.append("</tbody></table>")
    if notes:
        out.append("<h2>Notes</h2><ul>")
        out += [f"<li>{_escape(note)}</li>" for note in notes]
        out.append("</ul>")
    out.append("<h2>Your code</h2>")
    if not student_cells:
        out.append("<p>No code was found in the submission.</p>")
    for label, source in student_cells:
        out.append(f"<h3>{_escape(label)}</h3><pre><code>{_escape(source)}</code></pre>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# What nbgrader's release_feedback needs beside each page: `nbgrader submit` writes both into
# the submission, `collect` copies them into submitted/; the secret names the released page
# (md5 of the secret and the notebook's name), which the student's fetch_feedback recomputes
# from the copy in their own cache.
RELEASE_FILES = {
    "timestamp.txt": re.compile(r"[0-9A-Za-z:.+\- ]{1,64}"),
    "submission_secret.txt": re.compile(r"[0-9a-f]{1,256}"),
}


def read_release_files(submission):
    """{name: text} of the RELEASE_FILES in the folder ``submission`` that are usable.

    Only a small regular file with a single name (never followed through a link) whose text
    has nbgrader's form is read; its text is kept byte for byte, since the secret is hashed.
    """
    found = {}
    for name, form in RELEASE_FILES.items():
        try:
            descriptor = os.open(os.path.join(submission, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        with os.fdopen(descriptor, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or info.st_size > 1024:
                continue
            raw = handle.read(1024)
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            continue
        if form.fullmatch(text.strip()):
            found[name] = text
    return found


def file_release_files(found, *folders):
    """Write ``found`` (from ``read_release_files``) into each folder, removing stale copies.

    A file the current submission does not have is removed, so a page is never filed under
    an earlier submission's secret (after ``nbgrader collect --update``).
    """
    for folder in folders:
        for name in RELEASE_FILES:
            path = os.path.join(folder, name)
            if os.path.lexists(path):
                os.unlink(path)
            if name in found:
                with open(path, "w", encoding="ascii", newline="") as handle:
                    handle.write(found[name])
