"""Where things are in the repository, and the book's page order as _toc.yml gives it."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "_build" / "html"
PAGE_SUFFIXES = (".md", ".ipynb")


def toc_docnames():
    """Every page of _toc.yml in reading order, as Sphinx docnames such as 'book/intro'."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    docnames = [toc["root"]]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                docnames.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", [{"chapters": toc.get("chapters", [])}]):
        walk(part["chapters"])
    return docnames


def source_of(docname):
    """The .md or .ipynb file a docname comes from, or None if there is none."""
    for suffix in PAGE_SUFFIXES:
        path = ROOT / f"{docname}{suffix}"
        if path.is_file():
            return path
    return None
