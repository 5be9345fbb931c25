"""How fast the hidden-units explorer trains and redraws in the page (issue 12 section 3).

Opens, from disk in headless Chromium, a page with the static site's explorer
(explorers.js, trainer.js and the data scripts) and prints, as the median of
repeated runs:
- a redraw: the explorer drawing one snapshot of an in-page run (goal < 16 ms,
  one frame at 60 Hz), and one click of "Step one epoch" (a step and a redraw);
- 2,000 Adam steps of a 1x16 ReLU network on the 64 training points (goal < 1 s),
  by the recipe (each step also solves the output layer) and by Adam alone.

    .venv/bin/python benchmarks/bench_js_trainer.py [--repeats 5]
"""
import argparse
import shutil
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "explorers" / "static"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>bench</title>
<script src="_static/explorers.js"></script><script src="_static/explorers-data/hidden_units.js"></script>
</head><body><div id="host"></div><script>
window.nnModel = nnExplorers.createStaticModel(nnExplorersData.hidden_units);
nnExplorers.render({ model: nnModel, el: document.getElementById("host") });
</script></body></html>"""

MEASURE = """async ([repeats]) => {
  const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const time = (fn) => { const t0 = performance.now(); fn(); return performance.now() - t0; };
  const buttons = [...document.querySelectorAll("#host button")];
  const stepButton = buttons.find((b) => b.textContent.startsWith("Step"));
  const resetButton = buttons.find((b) => b.textContent.startsWith("Reset"));
  const setting = { units: 16, layers: 1, activation: "relu", seed: 0 };
  resetButton.click();
  const clicks = [], steps = {}, snapshots = [];
  const host = document.getElementById("host");
  for (let r = 0; r < 20 * repeats; r += 1) clicks.push(time(() => { stepButton.click(); host.getBoundingClientRect(); }));
  const run = nnTrainer.createRun(setting);
  for (let r = 0; r < 20 * repeats; r += 1) { run.step(); snapshots.push(time(() => run.snapshot())); }
  for (const [name, options] of [["recipe", {}], ["adam", { solveOutput: false }]]) {
    steps[name] = [];
    for (let r = 0; r < repeats; r += 1) {
      const fresh = nnTrainer.createRun(setting, options);
      steps[name].push(time(() => { for (let t = 0; t < 2000; t += 1) fresh.step(); }));
    }
  }
  return { click: median(clicks), snapshot: median(snapshots), recipe: median(steps.recipe), adam: median(steps.adam) };
}"""

REDRAW = """([repeats]) => {
  // The explorer's draw of one in-page snapshot, timed by the change event it listens to:
  // a precomputed fit swapped in by a control (the same draw function and the same amount to draw).
  const times = [];
  const units = nnModel.get("options").units;
  for (let r = 0; r < 20 * repeats; r += 1) {
    nnModel.set("units", units[r % units.length]);
    const t0 = performance.now();
    nnModel.save_changes();
    document.getElementById("host").getBoundingClientRect();  // include the layout it causes
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each measurement (median printed)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        shutil.copytree(STATIC, folder / "_static")
        (folder / "index.html").write_text(PAGE)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page()
            page.goto((folder / "index.html").as_uri(), wait_until="load")
            page.wait_for_function("() => [...document.querySelectorAll('#host button')].every((b) => !b.disabled)")
            figures = page.evaluate(MEASURE, [args.repeats])
            figures["redraw"] = page.evaluate(REDRAW, [args.repeats])
            browser.close()
    print(f"redraw with a control's precomputed fit: {figures['redraw']:.2f} ms (goal < 16 ms)")
    print(f"snapshot of an in-page run (curve, errors, hinges): {figures['snapshot']:.2f} ms")
    print(f"'Step one epoch' click (a step, a snapshot, a redraw), 1x16 ReLU: {figures['click']:.2f} ms (goal < 16 ms)")
    print(f"2,000 steps of the recipe (Adam + least-squares output), 1x16 ReLU: {figures['recipe'] / 1000:.3f} s "
          "(goal < 1 s)")
    print(f"2,000 Adam steps alone, 1x16 ReLU: {figures['adam'] / 1000:.3f} s (goal < 1 s)")


if __name__ == "__main__":
    main()
