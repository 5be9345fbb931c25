"""Serve the built site on 127.0.0.1 and open its pages in headless Chromium.

Any browser test gets the `open_page` fixture: it opens a page of the site in a
fresh browser context and returns the page with a record of what went wrong
while it loaded (and keeps recording while the test drives it):

    @pytest.mark.browser
    def test_explorer_redraws(open_page):
        page, problems = open_page("book/08_architecture.html")
        page.get_by_label("hidden units").fill("8")
        assert not problems, problems.report()

The site must work served over http and opened from disk, so pages can be opened
both ways: `open_page(path, way)` with way "http" (the default: served on
127.0.0.1) or "file" (a file:// address under _build/html, as the README tells a
newcomer to open it); `WAYS` lists both for tests to parametrize over.

Only 127.0.0.1 and the site's own files are reachable from these pages: a
request to any other host or file is aborted and recorded in
`problems.outside_requests`.

Lower-level fixtures: `load_page(path)` and `load_url(url)` return
(context, page, problems) and leave closing the context to the caller;
`serve_directory(folder)` serves another folder, such as a book built by a test.
"""
import contextlib
import functools
import http.server
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from playwright.sync_api import sync_playwright

from book_toc import SITE, WAYS  # noqa: F401 (WAYS: the ways tests open pages)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
HOST = "127.0.0.1"


def is_local(url):
    """True for 127.0.0.1 and for files of the built site; everything else is off limits."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return Path(unquote(parts.path)).resolve().is_relative_to(SITE.resolve())
    return parts.scheme in ("data", "blob") or parts.hostname == HOST


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


def load(browser, url):
    """Open `url` in a fresh browser context and wait until the network is idle.

    Returns (context, page, problems); `problems` keeps recording console errors,
    failed requests and outside requests (aborted) for as long as the page lives.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    problems = Problems()

    def route(route):
        if is_local(route.request.url):
            route.continue_()
        else:
            problems.outside_requests.append(route.request.url)
            route.abort()

    def on_request_failed(request):
        if is_local(request.url):
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
    page.wait_for_load_state("networkidle")
    return context, page, problems


@pytest.fixture(scope="session")
def serve_directory():
    """serve_directory(folder): a context manager serving another built site; yields its URL."""
    return serve


@pytest.fixture(scope="session")
def load_url(browser):
    """load_url(url) -> (context, page, problems); the caller closes the context."""
    return functools.partial(load, browser)


@pytest.fixture(scope="session")
def site_base(site_url):
    """site_base(way) -> the URL the site's root has when opened that way ("http" or "file")."""
    bases = {"http": site_url, "file": SITE.resolve().as_uri() + "/"}
    return lambda way: bases[way]


@pytest.fixture(scope="session")
def load_page(load_url, site_base):
    """load_page(path, way="http") -> (context, page, problems) for a page of the site; the caller closes the context."""
    return lambda path, way="http": load_url(urljoin(site_base(way), path))


@pytest.fixture
def open_page(load_page):
    """open_page(path, way="http") -> (page, problems): a page of the site, closed after the test."""
    contexts = []

    def open_(path, way="http"):
        context, page, problems = load_page(path, way)
        contexts.append(context)
        return page, problems

    yield open_
    for context in contexts:
        context.close()
