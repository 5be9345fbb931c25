"""The feedback page of one student: scores, what is wrong, and the student's own code.

Built here rather than by nbconvert so that it can never contain the test cells, hidden
tests or solutions: the only code on the page is the student's answer cells and the cells
they added; every string is HTML-escaped.
"""
import html
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
