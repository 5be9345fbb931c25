"""Copy the front-end files the site serves itself from node_modules/ into book/_vendor/.

The book's pages load MathJax, require.js and the Jupyter widget manager from
the site, never from a CDN, so they work offline. `make book` runs `npm ci`
(versions locked in package-lock.json) and then this script:

- book/_vendor/static/ is in Sphinx's html_static_path: it lands in _static/.
- book/_vendor/extra/ is in html_extra_path: it lands at the site root, for
  the files that must sit beside the pages rather than in _static/.

Usage: python scripts/vendor_assets.py
"""
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "book" / "_vendor"

# (source under node_modules/, destination under book/_vendor/); a folder is copied whole.
ASSETS = [
    # tex-chtml.js, plus what it loads on demand: TeX extensions (autoload),
    # its fonts, and the accessibility tools offered in its right-click menu.
    ("mathjax/es5/tex-chtml.js", "static/mathjax/tex-chtml.js"),
    ("mathjax/es5/input/tex/extensions", "static/mathjax/input/tex/extensions"),
    ("mathjax/es5/output/chtml/fonts/woff-v2", "static/mathjax/output/chtml/fonts/woff-v2"),
    ("mathjax/es5/a11y", "static/mathjax/a11y"),
    ("mathjax/es5/sre", "static/mathjax/sre"),
    ("mathjax/es5/ui", "static/mathjax/ui"),
    ("requirejs/require.js", "static/requirejs/require.js"),
    ("@jupyter-widgets/html-manager/dist/embed-amd.js", "static/html-manager/embed-amd.js"),
]
# The widget manager's icon fonts (Font Awesome 5, under hashed names). It asks
# for them relative to the page, in the folders its bundled modules would have
# if require.js had loaded them one by one: for the pages in book/, these two.
# Only the woff2 files: every current browser takes woff2, the first format listed.
WIDGET_FONT_FOLDERS = ["extra/book/@jupyter-widgets", "extra/book/@jupyter-widgets/html-manager/dist"]


def copy(source, destination):
    destination.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, destination)
    else:
        shutil.copy2(source, destination)


def main():
    if not NODE_MODULES.is_dir():
        raise SystemExit("node_modules/ is missing: run `npm ci` first (make book does).")
    shutil.rmtree(VENDOR, ignore_errors=True)
    for source, destination in ASSETS:
        copy(NODE_MODULES / source, VENDOR / destination)
    for font in sorted((NODE_MODULES / "@jupyter-widgets/html-manager/dist").glob("*.woff2")):
        for folder in WIDGET_FONT_FOLDERS:
            copy(font, VENDOR / folder / font.name)
    print(f"vendored front-end assets into {VENDOR.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
