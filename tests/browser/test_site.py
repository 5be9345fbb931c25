"""Every page of the built site, opened in headless Chromium as a reader would.

Each page is opened both ways a reader may open it: served over http and from
disk (file://). Loading a page takes seconds on a small machine, so each page
is loaded once per way, by the `inspect` fixture, and the tests below check
what that visit recorded.
"""
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urljoin

import pytest

from book_toc import ROOT, SITE, WAYS, toc_docnames

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
RAW_TEX = ["\\frac", "\\sum", "\\begin{", "\\(", "\\[", "$$"]
MATHJAX_TIMEOUT_MS = 15_000

# The text a reader sees as prose: code and maths left out.
PROSE_TEXT_JS = """() => {
    const body = document.body.cloneNode(true);
    body.querySelectorAll("pre, code, script, style, .math").forEach((node) => node.remove());
    return body.textContent;
}"""
IMAGES_JS = "images => images.map(image => [image.getAttribute('src'), image.getAttribute('alt')])"


def built_pages():
    """Every HTML page of the site, relative to its root (theme snippets in _static/ excluded).

    Without a built site this returns the home page alone, so the tests fail with
    "run `make book` first" rather than silently collecting nothing.
    """
    pages = sorted(
        path.relative_to(SITE).as_posix()
        for path in SITE.rglob("*.html")
        if not path.relative_to(SITE).parts[0].startswith("_")
    )
    return pages or ["index.html"]


PAGES = built_pages()
TOC_PAGES = [f"{docname}.html" for docname in toc_docnames()]


@dataclass
class Visit:
    """What one load of a page showed; `problems` is empty when nothing went wrong."""

    url: str
    problems: str
    display_maths_typeset: int
    untypeset_maths: list
    raw_tex_in_prose: list
    images: list
    next_link: str | None


def visit(load_page, path, way):
    context, page, problems = load_page(path, way)
    try:
        maths = page.locator(".math")
        if maths.count():
            page.wait_for_function("() => window.MathJax?.startup?.promise", timeout=MATHJAX_TIMEOUT_MS)
            page.evaluate("() => MathJax.startup.promise")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"{way}__{path.replace('/', '__')}.png", full_page=True)
        prose = page.evaluate(PROSE_TEXT_JS)
        next_link = page.locator("a.right-next")
        return Visit(
            url=page.url,
            problems=problems.report(),
            display_maths_typeset=page.locator('mjx-container[display="true"]').count(),
            untypeset_maths=page.locator(".math:not(:has(mjx-container))").all_text_contents(),
            raw_tex_in_prose=[marker for marker in RAW_TEX if marker in prose],
            images=page.eval_on_selector_all("img", IMAGES_JS),
            next_link=next_link.evaluate("link => link.href") if next_link.count() == 1 else None,
        )
    finally:
        context.close()


@pytest.fixture(scope="session")
def inspect(load_page):
    """inspect(path, way="http") -> Visit, loading each page once per way and session (screenshot included)."""
    visits = {}

    def inspect_(path, way="http"):
        if (path, way) not in visits:
            visits[path, way] = visit(load_page, path, way)
        return visits[path, way]

    return inspect_


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("path", PAGES)
def test_page_loads_without_errors_or_outside_requests(inspect, path, way):
    problems = inspect(path, way).problems
    assert not problems, problems


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("path", PAGES)
def test_maths_is_typeset_and_no_raw_tex_is_left(inspect, path, way):
    page = inspect(path, way)
    assert not page.untypeset_maths, f"maths left raw: {page.untypeset_maths[:3]}"
    assert not page.raw_tex_in_prose, f"raw TeX in the page's text: {page.raw_tex_in_prose}"


def test_intro_shows_its_equation_typeset(inspect):
    assert inspect(TOC_PAGES[0]).display_maths_typeset >= 1


@pytest.mark.parametrize("path", PAGES)
def test_every_image_has_alt_text(inspect, path):
    # Sphinx writes the file name as alt when a figure has none: that describes nothing.
    missing = [
        src for src, alt in inspect(path).images
        if not (alt or "").strip() or alt in (src, PurePosixPath(src).name)
    ]
    assert not missing, f"images without alt text: {missing}"


@pytest.mark.parametrize("index", range(len(TOC_PAGES)), ids=TOC_PAGES)
def test_next_link_leads_to_the_next_page_in_the_toc(inspect, site_url, index):
    next_link = inspect(TOC_PAGES[index]).next_link
    if index == len(TOC_PAGES) - 1:
        assert next_link is None, f"the last page of the toc links on to {next_link}"
        return
    expected = TOC_PAGES[index + 1]
    assert next_link == urljoin(site_url, expected), f"next link goes to {next_link}, not {expected}"
    target = inspect(expected)
    assert target.url == next_link and not target.problems, target.problems
