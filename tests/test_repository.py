"""The repository's layout and the promises its top-level files make to each other."""
import os
import re

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from book_toc import PAGE_SUFFIXES, ROOT, source_of, toc_docnames

TOP_LEVEL = [
    "book/", "exercises/", "solutions/", "nnlib/", "tests/", "benchmarks/",
    "_config.yml", "_toc.yml", "README.md", "pyproject.toml", "nbgrader_config.py",
    "requirements.txt", "constraints.txt", "package.json", "package-lock.json",
    "Makefile", ".ci/run",
]


def shell_commands(text):
    """The lines of a shell snippet that run something (no blanks, no comments)."""
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_top_level_layout_exists():
    missing = [name for name in TOP_LEVEL if not (ROOT / name).exists()]
    assert not missing, f"missing from the repository root: {missing}"
    wrong_kind = [name for name in TOP_LEVEL if name.endswith("/") != (ROOT / name).is_dir()]
    assert not wrong_kind, f"folder/file mix-up: {wrong_kind}"


def test_readme_opens_with_make_book_then_make_test():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = re.search(r"^```[^\n]*\n(.*?)^```", readme, re.DOTALL | re.MULTILINE)
    assert first_block, "README.md has no code block"
    assert shell_commands(first_block.group(1)) == ["make book", "make test"]
    assert "\n## " not in readme[: first_block.start()], "the commands must come before the first section"


def test_ci_script_runs_make_test_and_stops_on_errors():
    script = ROOT / ".ci" / "run"
    assert os.access(script, os.X_OK), ".ci/run is not executable"
    lines = shell_commands(script.read_text(encoding="utf-8"))
    assert script.read_text(encoding="utf-8").startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in lines
    assert lines[-1] == "make test", f".ci/run must end by running `make test`, it ends with {lines[-1]!r}"


def test_every_requirement_is_pinned_in_constraints_within_its_range():
    pins = {}
    for line in shell_commands((ROOT / "constraints.txt").read_text(encoding="utf-8")):
        name, separator, version = line.partition("==")
        assert separator, f"constraints.txt line is not an exact pin: {line!r}"
        pins[canonicalize_name(name)] = version
    for line in shell_commands((ROOT / "requirements.txt").read_text(encoding="utf-8")):
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} (requirements.txt) is not pinned in constraints.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {name}=={pins[name]}, outside requirements.txt's {line!r}"
        )


def test_every_page_in_the_toc_exists():
    missing = [docname for docname in toc_docnames() if source_of(docname) is None]
    assert not missing, f"_toc.yml lists pages with no .md or .ipynb file: {missing}"


def test_every_page_in_book_is_in_the_toc():
    # The build skips pages missing from _toc.yml (only_build_toc_files), so a forgotten
    # entry would silently drop a chapter from the site.
    listed = set(toc_docnames())
    pages = [
        path.relative_to(ROOT).with_suffix("").as_posix()
        for path in (ROOT / "book").iterdir()
        if path.suffix in PAGE_SUFFIXES
    ]
    unlisted = sorted(set(pages) - listed)
    assert not unlisted, f"pages in book/ that _toc.yml does not list: {unlisted}"


def test_book_config_keeps_solutions_and_exercises_off_the_site():
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert config["only_build_toc_files"] is True
    for folder in ("solutions", "exercises"):
        assert folder in config["exclude_patterns"], f"_config.yml's exclude_patterns must list {folder}"
