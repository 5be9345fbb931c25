"""`make pdf` (scripts/print_pdf.py) prints every page of the book, titles and figures included."""
import importlib.util
import re

import pytest
from pypdf import PdfReader

from book_toc import ROOT, SITE, toc_docnames

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def page_title_and_figures(docname):
    html = (SITE / f"{docname}.html").read_text(encoding="utf-8")
    heading = re.search(r"<h1>(.*?)</h1>", html, re.S).group(1)
    heading = re.sub(r'<a class="headerlink".*?</a>', "", heading, flags=re.S)
    title = " ".join(re.sub(r"<[^>]+>", "", heading).split())
    return title, html.count('<img alt=')


@pytest.fixture(scope="module")
def book_pdf(tmp_path_factory, browser):
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no built site in {SITE}: run `make book` first")
    spec = importlib.util.spec_from_file_location("print_pdf", ROOT / "scripts" / "print_pdf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    output = tmp_path_factory.mktemp("pdf") / "book.pdf"
    module.main(output, browser=browser)
    return PdfReader(output)


def test_the_pdf_has_every_page_in_toc_order_with_its_figures(book_pdf):
    bookmarks = [item.title for item in book_pdf.outline]
    expected = [page_title_and_figures(docname) for docname in toc_docnames()]
    assert bookmarks == [title for title, _ in expected]
    text = " ".join(" ".join((page.extract_text() or "").split()) for page in book_pdf.pages)
    missing = [title for title, _ in expected if title not in text]
    assert not missing, f"page titles not in the PDF's text: {missing}"
    images = sum(len(page.images) for page in book_pdf.pages)
    figures = sum(count for _, count in expected)
    assert figures > 20 and images >= figures, (images, figures)
