"""How fast the explorers respond, live in a kernel and static in the browser. Prints figures.

Goals (issue #5): the live explorer's first redraw within 100 ms of a slider
change, a 1-layer 16-unit fit converged within 1 s, a static redraw within one
animation frame (16.7 ms), each explorer's data under 1 MB.

- first redraw: from setting a control in the kernel to the first new ``fit``
  trait serialized for the browser (kernel side; the message to the browser and
  the SVG redraw, measured below, come on top);
- convergence: from setting the control to the final fit of 600 epochs;
- static redraw: in headless Chromium on the built site, from a slider's input
  event to the redrawn SVG laid out (synchronous: the page's model looks the
  fit up and the module redraws in the same task), per explorer.

    .venv/bin/python benchmarks/bench_explorer.py [--site _build/html] [--no-browser]
"""
import argparse
import functools
import http.server
import statistics
import threading
import time
from pathlib import Path

from explorers import precompute
from explorers.widgets import HiddenUnitsExplorer

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# Steps every slider and select of one explorer through its values, timing each redraw.
STEP_ALL_CONTROLS_JS = """(id) => {
    const host = document.getElementById(id);
    const times = [];
    for (const input of host.querySelectorAll("input[type=range], select")) {
        if (input.closest("[hidden]")) continue;
        const count = input.tagName === "SELECT" ? input.options.length : Number(input.max) + 1;
        for (let step = 0; step < 3 * count; step += 1) {  // three sweeps
            const i = step % count;
            const start = performance.now();
            if (input.tagName === "SELECT") input.selectedIndex = i; else input.value = i;
            input.dispatchEvent(new Event("input", { bubbles: true }));
            host.querySelector("svg").getBoundingClientRect();  // force the layout
            times.push(performance.now() - start);
        }
    }
    return times;
}"""


def live_figures(trials):
    first, converged = [], []
    for seed in range(trials):
        widget = HiddenUnitsExplorer(units=4, seed=seed)
        widget.wait()
        pushed = []
        widget.observe(lambda change: pushed.append(time.perf_counter()), names="fit")
        start = time.perf_counter()
        widget.units = 16
        widget.wait()
        first.append(pushed[0] - start)
        converged.append(pushed[-1] - start)
    start = time.perf_counter()
    widget.units = 4  # seen before: from the cache
    cached = time.perf_counter() - start
    return first, converged, cached


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def browser_figures(site):
    from playwright.sync_api import sync_playwright

    handler = functools.partial(QuietHandler, directory=str(site))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{server.server_port}/book/explorers.html")
            page.wait_for_selector(".nn-explorer svg")
            page.wait_for_function("() => document.querySelectorAll('.nn-explorer svg').length === 3")
            results = {}
            for host in page.locator(".nn-explorer").all():
                kind, element_id = host.get_attribute("data-explorer"), host.get_attribute("id")
                results[kind] = page.evaluate(STEP_ALL_CONTROLS_JS, element_id)
            browser.close()
        server.shutdown()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html", help="the built website")
    parser.add_argument("--trials", type=int, default=3, help="live fits timed (seeds 0, 1, ...)")
    parser.add_argument("--no-browser", action="store_true", help="skip the static redraw timing")
    args = parser.parse_args()

    first, converged, cached = live_figures(args.trials)
    ms = lambda seconds: f"{1000 * seconds:.1f} ms"  # noqa: E731
    print(f"live, 1 hidden layer 4 -> 16 ReLU units, {args.trials} trials (median, max):")
    print(f"  first redraw after the change: {ms(statistics.median(first))}, {ms(max(first))}  (goal < 100 ms)")
    print(f"  converged fit (600 epochs):    {ms(statistics.median(converged))}, {ms(max(converged))}  (goal < 1 s)")
    print(f"  a setting seen before (cache): {ms(cached)}")

    print("static data per explorer:")
    for kind in precompute.KINDS:
        path = precompute.data_path(kind)
        print(f"  {kind}: {path.stat().st_size / 1024:.0f} KiB, {len(precompute.all_keys(kind))} fits")

    if args.no_browser:
        return
    if not (args.site / "book" / "explorers.html").is_file():
        raise SystemExit(f"no built site with book/explorers.html in {args.site}: run `make book` first")
    print("static redraw per control step in headless Chromium (median, 90th percentile, max; goal < 16.7 ms):")
    for kind, times in browser_figures(args.site).items():
        tenth = statistics.quantiles(times, n=10)[-1]
        print(f"  {kind}: {statistics.median(times):.2f} ms, {tenth:.2f} ms, {max(times):.2f} ms "
              f"over {len(times)} steps")


if __name__ == "__main__":
    main()
