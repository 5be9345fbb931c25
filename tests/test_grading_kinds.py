"""The one table of report kinds (``grading.pipeline.REPORT_KINDS``) against the code and the README."""
import re
from pathlib import Path

from grading import pipeline

REPO = Path(__file__).resolve().parents[1]


def test_the_readme_table_is_the_code_table():
    readme = (REPO / "README.md").read_text()
    table = pipeline.kinds_table()
    assert table in readme, "README.md's table of report kinds differs from grading.pipeline.kinds_table()"
    # And it is the only table of kinds there: every kind the README names in a table row is in the code.
    rows = re.findall(r"^\| `([a-z-]+)` \|", readme, re.M)
    assert set(rows) == set(pipeline.REPORT_KINDS)


def test_every_kind_the_grader_can_report_is_in_the_table():
    emitted = set(pipeline.JUDGE_EVENTS.values())
    patterns = [r'Flag\(\s*"([a-z-]+)"', r'flags\.append\(\(\s*"([a-z-]+)"', r'events\.append\(\(\s*"([a-z-]+)"',
                r'"flags": \[\(\s*"([a-z-]+)"', r'kind = "([a-z-]+)" if']
    for path in (REPO / "grading").glob("*.py"):
        text = path.read_text()
        for pattern in patterns:
            emitted |= set(re.findall(pattern, text))
    emitted -= set(pipeline.JUDGE_EVENTS)  # the judge's own names, mapped by the pipeline
    assert emitted, "the scan found no report kinds: the patterns no longer match the code"
    assert {"refused-file", "oversized-cell", "tests-disagree", "deeply-nested-notebook"} <= emitted
    assert emitted <= set(pipeline.REPORT_KINDS), emitted - set(pipeline.REPORT_KINDS)


def test_the_exit_status_comes_from_the_table():
    def results(*kinds):
        return {"s": {"flags": [(kind, "detail") for kind in kinds]}}

    assert pipeline.exit_status(results()) == 0
    assert pipeline.exit_status(results("timeout", "refused-file", "manual-grade-kept", "no-sandbox")) == 0
    assert pipeline.exit_status(results("timeout", "check-error")) == 1
    assert pipeline.exit_status(results("internal-error")) == 1
    assert pipeline.exit_status(results("a-kind-nobody-documented")) == 1
    for name, kind in pipeline.REPORT_KINDS.items():
        assert kind.who in pipeline.WHO, name
        assert pipeline.exit_status(results(name)) == kind.exit_status
