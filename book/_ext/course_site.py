"""Site-wide fixes to the HTML that Jupyter Book's parts write (registered in _config.yml).

Each fix is for a finding of axe-core on the built pages (tests/browser/test_site.py
runs it on every page), made here once rather than on any page:

- myst-nb's "Show code cell source" toggles are <summary> elements labelled
  "Toggle hidden content", a name that differs from the text they show (axe
  rule label-content-name-mismatch): the course's visitor writes them without
  that label, so they are named by the text a reader sees.
- docutils writes a bibliography as role="list" holding role="doc-biblioentry"
  entries, a deprecated role that a list may not hold (aria-required-children,
  aria-allowed-role, aria-deprecated-role): the entries become list items.

The theme's own findings are fixed by the templates in book/_templates/.
"""
from html import escape

from myst_nb.sphinx_ import HideCodeCellNode, depart_HideCellInput

BIBLIOGRAPHY_ENTRY_ROLE = ('role="doc-biblioentry"', 'role="listitem"')


def visit_hidden_cell(self, node):
    """myst-nb's visit_HideCellInput, less the summary's aria-label."""
    classes = " ".join(node["classes"])
    self.body.append(f'<details class="admonition hide {classes}">\n')
    self.body.append("<summary>\n")
    self.body.append(f'<p class="collapsed admonition-title">{escape(node["prompt_show"])}</p>\n')
    self.body.append(f'<p class="expanded admonition-title">{escape(node["prompt_hide"])}</p>\n')
    self.body.append("</summary>\n")


def fix_page_body(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if body and BIBLIOGRAPHY_ENTRY_ROLE[0] in body:
        context["body"] = body.replace(*BIBLIOGRAPHY_ENTRY_ROLE)


def setup(app):
    app.setup_extension("myst_nb")
    app.add_node(HideCodeCellNode, override=True, html=(visit_hidden_cell, depart_HideCellInput))
    app.connect("html-page-context", fix_page_body)
    app.add_css_file("course.css")
    app.add_js_file("course.js")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
