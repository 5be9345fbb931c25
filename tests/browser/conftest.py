"""Serve the built site on 127.0.0.1 and open its pages in headless Chromium.

Any browser test gets the `open_page` fixture: it opens a page of the site in a
fresh browser context and returns the page with a record of what went wrong
while it loaded (and keeps recording while the test drives it):

    @pytest.mark.browser
    def test_explorer_redraws(open_page):
        page, problems = open_page("book/08_architecture.html")
        page.get_by_label("hidden units").fill("8")
        assert not problems, problems.report()

Only 127.0.0.1 (and, for pages opened as files, file:// addresses) is reachable
from these pages: a request to any other host is aborted and recorded in
`problems.outside_requests`.

Every page must work both served over http and opened from disk: `MODES` names
the two ways, and `load_site_page(path, mode)` / `open_site_page(path, mode)`
open a page of the built site either way; parametrize a test with
`@pytest.mark.parametrize("mode", MODES)` to run it both ways. `run_axe(page)`
checks the page with axe-core (node_modules/axe-core, pinned in package-lock.json)
and returns its violations.

Lower-level fixtures: `load_page(path)` and `load_url(url)` return
(context, page, problems) and leave closing the context to the caller;
`serve_directory(folder)` serves another folder, such as a book built by a test.
"""
import contextlib
import functools
import http.server
import threading
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import sync_playwright

from book_toc import ROOT, SITE

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
HOST = "127.0.0.1"
MODES = ("http", "file")
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 800}


@dataclass
class Problems:
    """What went wrong on a page: each list holds human-readable lines."""

    console_errors: list = field(default_factory=list)
    failed_requests: list = field(default_factory=list)
    outside_requests: list = field(default_factory=list)

    def __bool__(self):
        return bool(self.console_errors or self.failed_requests or self.outside_requests)

    def report(self):
        return "\n".join(
            f"{kind}: {line}"
            for kind, lines in vars(self).items()
            for line in lines
        )


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def serve(directory):
    """Serve `directory` over HTTP on a free port of 127.0.0.1; yields the base URL."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    with http.server.ThreadingHTTPServer((HOST, 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://{HOST}:{server.server_port}/"
        server.shutdown()
        thread.join()


@pytest.fixture(scope="session")
def site_url():
    """Base URL of the built site, served from _build/html."""
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no built site in {SITE}: run `make book` first")
    with serve(SITE) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def on_this_machine(url):
    parts = urlsplit(url)
    return parts.hostname == HOST or parts.scheme in ("file", "data", "blob")


def load(browser, url, viewport=DESKTOP, color_mode=None):
    """Open `url` in a fresh browser context and wait until the network is idle.

    viewport: {"width", "height"} in CSS pixels (PHONE for a phone);
    color_mode: None for the theme's default, or "light" / "dark" chosen as a
    reader's earlier visit would have (the theme keeps it in localStorage).
    Returns (context, page, problems); `problems` keeps recording console errors,
    failed requests and outside requests (aborted) for as long as the page lives.
    """
    context = browser.new_context(viewport=viewport)
    if color_mode is not None:
        context.add_init_script(f"localStorage.setItem('mode', {color_mode!r});")
    page = context.new_page()
    problems = Problems()

    def route(route):
        if on_this_machine(route.request.url):
            route.continue_()
        else:
            problems.outside_requests.append(route.request.url)
            route.abort()

    def on_request_failed(request):
        if on_this_machine(request.url):
            problems.failed_requests.append(f"{request.url} ({request.failure})")

    def on_response(response):
        if response.status >= 400:
            problems.failed_requests.append(f"{response.url} (HTTP {response.status})")

    def on_console(message):
        if message.type == "error":
            problems.console_errors.append(f"{message.text} at {message.location.get('url')}")

    context.route("**/*", route)
    page.on("requestfailed", on_request_failed)
    page.on("response", on_response)
    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.console_errors.append(f"uncaught: {error}"))
    page.goto(url, wait_until="load")
    if urlsplit(url).scheme == "file":
        # Chromium never reports a file:// page's network as idle; "load" has
        # waited for its scripts, styles and images, so wait for the scripts
        # that run after it (the theme's, MathJax's start) to settle.
        page.wait_for_function("() => document.readyState === 'complete'")
        page.wait_for_timeout(300)
    else:
        page.wait_for_load_state("networkidle")
    return context, page, problems


def site_address(site_url, path, mode):
    """The address of `path` (relative to the site's root) served (mode "http") or as a file ("file")."""
    if mode == "http":
        return urljoin(site_url, path)
    if mode == "file":
        return (SITE / path).as_uri()
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}")


def run_axe(page, impacts=None):
    """Run axe-core on `page`; returns its violations (list of dicts), optionally only of `impacts`.

    Over file:// axe cannot re-read the page's stylesheets (its "preload" uses
    XMLHttpRequest, which Chromium refuses there): that only skips the one rule
    that needs them (css-orientation-lock); over http it runs.
    """
    page.add_script_tag(path=str(AXE_JS))
    preload = urlsplit(page.url).scheme != "file"
    result = page.evaluate(
        "preload => axe.run(document, {resultTypes: ['violations'], preload})", preload
    )
    violations = result["violations"]
    if impacts is not None:
        violations = [violation for violation in violations if violation["impact"] in impacts]
    return violations


def axe_report(violations):
    """Rule ids, impacts and the nodes (CSS selector, what to fix) of axe violations, one per line."""
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} [{len(violation['nodes'])} nodes]")
        for node in violation["nodes"][:8]:
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    {' > '.join(map(str, node['target']))}: {summary[:300]}")
    return "\n".join(lines)


@pytest.fixture(scope="session")
def serve_directory():
    """serve_directory(folder): a context manager serving another built site; yields its URL."""
    return serve


@pytest.fixture(scope="session")
def load_url(browser):
    """load_url(url) -> (context, page, problems); the caller closes the context."""
    return functools.partial(load, browser)


@pytest.fixture(scope="session")
def load_page(load_url, site_url):
    """load_page(path) -> (context, page, problems) for a page of the site; the caller closes the context."""
    return lambda path: load_url(urljoin(site_url, path))


@pytest.fixture(scope="session")
def load_site_page(browser, site_url):
    """load_site_page(path, mode, **load_options) -> (context, page, problems); the caller closes the context.

    mode is "http" (served from 127.0.0.1) or "file" (opened from _build/html on
    disk); load_options are `load`'s (viewport, color_mode).
    """
    return lambda path, mode, **options: load(browser, site_address(site_url, path, mode), **options)


@pytest.fixture
def open_site_page(load_site_page):
    """open_site_page(path, mode, **load_options) -> (page, problems), closed after the test."""
    contexts = []

    def open_(path, mode, **options):
        context, page, problems = load_site_page(path, mode, **options)
        contexts.append(context)
        return page, problems

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture
def open_page(load_page):
    """open_page(path) -> (page, problems): a page of the site, closed after the test."""
    contexts = []

    def open_(path):
        context, page, problems = load_page(path)
        contexts.append(context)
        return page, problems

    yield open_
    for context in contexts:
        context.close()
