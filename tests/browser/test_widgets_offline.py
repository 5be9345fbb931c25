"""A page with ipywidgets works offline: the widget manager, its icon fonts, maths in labels.

No chapter stores widget state yet, so this builds a one-page book with the
course's own _config.yml (and the folders it names) around a notebook with
widgets, then opens it like the site's pages.
"""
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from book_toc import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIDGETS_CODE = """import ipywidgets as widgets

widgets.VBox([
    widgets.FloatSlider(value=0.5, description=r"\\(\\alpha\\)"),
    widgets.Button(description="Train", icon="check"),
])"""


def copy_into(book, relative_path):
    source, destination = ROOT / relative_path, book / relative_path
    destination.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, destination)
    else:
        shutil.copy2(source, destination)


@pytest.fixture(scope="module")
def widget_page(tmp_path_factory):
    """Path of the built widget page inside its site folder."""
    book = tmp_path_factory.mktemp("widget_book")
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    sphinx_config = config["sphinx"]["config"]
    copy_into(book, "_config.yml")
    folders = [
        *sphinx_config["html_static_path"], *sphinx_config["html_extra_path"], *config["bibtex_bibfiles"],
        *sphinx_config.get("templates_path", []), *config["sphinx"].get("local_extensions", {}).values(),
    ]
    for path in folders:
        copy_into(book, path)
    (book / "_toc.yml").write_text("format: jb-book\nroot: book/widgets\n", encoding="utf-8")
    notebook = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        cells=[
            nbformat.v4.new_markdown_cell("# Widgets\n\nThe page has maths too: $a = f(z)$."),
            nbformat.v4.new_code_cell(WIDGETS_CODE),
        ],
    )
    nbformat.write(notebook, book / "book" / "widgets.ipynb")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    build = subprocess.run([jupyter_book, "build", book, "-W", "-n"], capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return book / "_build" / "html", "book/widgets.html"


def test_widgets_render_with_icons_and_typeset_labels_and_nothing_fetched_elsewhere(
    serve_directory, load_url, widget_page
):
    site, path = widget_page
    with serve_directory(site) as url:
        context, page, problems = load_url(url + path)
        try:
            page.wait_for_selector(".widget-slider .widget-label mjx-container", timeout=15_000)
            assert page.locator(".widget-button .fa-check").count() == 1
            page.wait_for_load_state("networkidle")
            assert not problems, problems.report()
        finally:
            context.close()
