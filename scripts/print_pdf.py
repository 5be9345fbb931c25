"""Print the built website into one PDF (`make pdf`), offline, with no TeX.

Serves _build/html on 127.0.0.1, prints every page of _toc.yml in reading order
with the Chromium the browser tests use (Playwright's page.pdf, the theme's
print styles), and joins the pages with pypdf into _build/pdf/book.pdf, with one
bookmark per page titled as the page. Run `make book` first (make pdf does).

Usage: python scripts/print_pdf.py [output.pdf]
"""
import contextlib
import functools
import http.server
import io
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright
from pypdf import PdfReader, PdfWriter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from book_toc import SITE, toc_docnames  # noqa: E402

OUTPUT = ROOT / "_build" / "pdf" / "book.pdf"
HOST = "127.0.0.1"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
MATHJAX_TIMEOUT_MS = 30_000


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def serve(directory):
    handler = functools.partial(QuietHandler, directory=str(directory))
    with http.server.ThreadingHTTPServer((HOST, 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://{HOST}:{server.server_port}/"
        finally:
            server.shutdown()
            thread.join()


def print_page(page, url):
    """PDF bytes and title of one page, printed once its maths is typeset."""
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    if page.locator(".math").count():
        page.wait_for_function("() => window.MathJax?.startup?.promise", timeout=MATHJAX_TIMEOUT_MS)
        page.evaluate("() => MathJax.startup.promise")
    title = page.locator("main h1").first.inner_text().strip().rstrip("#¶").strip()
    pdf = page.pdf(format="A4", print_background=True,
                   margin={"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"})
    return pdf, title


def main(output=OUTPUT, browser=None):
    """Print the site into `output`; `browser` is a running Playwright Chromium to reuse, or None to start one.

    (Playwright's sync API runs one instance per thread, so the tests pass theirs.)
    """
    output = Path(output)
    if not (SITE / "index.html").is_file():
        raise SystemExit(f"no built site in {SITE}: run `make book` first")
    writer = PdfWriter()
    with contextlib.ExitStack() as stack:
        base = stack.enter_context(serve(SITE))
        if browser is None:
            playwright = stack.enter_context(sync_playwright())
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            stack.callback(browser.close)
        context = browser.new_context()
        stack.callback(context.close)
        # The site makes no outside request; if a page ever did, printing must not wait for it.
        context.route("**/*", lambda route: route.continue_()
                      if urlsplit(route.request.url).hostname == HOST else route.abort())
        page = context.new_page()
        page.emulate_media(media="print")
        for docname in toc_docnames():
            pdf, title = print_page(page, f"{base}{docname}.html")
            first = len(writer.pages)
            writer.append(PdfReader(io.BytesIO(pdf)))
            writer.add_outline_item(title=title, page_number=first)
            print(f"printed {docname} ({title}): pages {first + 1}-{len(writer.pages)}")
    writer.add_metadata({"/Title": "Neural Networks from the Neuron Up"})
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("wb") as file:
        writer.write(file)
    print(f"wrote {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output} "
          f"({len(writer.pages)} pages)")


if __name__ == "__main__":
    main(*sys.argv[1:])
