"""The result tables in docs/ say what their JSON says: each docs/results/<name>.md is regenerated from
<name>.json by the code of bench/results.py, and every table row of it appears verbatim in docs/RESULTS.md."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RESULTS = sorted(p for p in (REPO / "docs" / "results").glob("*.json") if "variant" in p.read_text()[:4000])


def _results_module():
    spec = importlib.util.spec_from_file_location("bench_results", REPO / "bench" / "results.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_there_are_result_tables():
    assert RESULTS, "docs/results holds no result JSON of bench/results.py"


@pytest.mark.parametrize("path", RESULTS, ids=[p.stem for p in RESULTS])
def test_markdown_matches_json_and_results_page(path: Path) -> None:
    mod = _results_module()
    info = json.loads(path.read_text())
    md = path.with_suffix(".md").read_text()
    assert mod.render(info["rows"]) == md, f"{path.with_suffix('.md').name} is stale: rerun {info['command']}"
    page = (REPO / "docs" / "RESULTS.md").read_text()
    rows = [line for line in md.splitlines() if line.startswith("| ") and not line.startswith("| method")]
    missing = [r for r in rows if r not in page]
    assert not missing, f"docs/RESULTS.md lacks these rows of {path.stem}.md: {missing[:3]}"


def _commands(text: str) -> str:
    """Shell text with backslash continuations joined and whitespace collapsed."""
    return " ".join(text.replace("\\\n", " ").split())


def test_readme_reproduction_commands_are_those_of_the_results_page() -> None:
    readme = (REPO / "README.md").read_text()
    block = readme.split("## Reproducing the measured runs", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    page = _commands((REPO / "docs" / "RESULTS.md").read_text())
    lines = [c for c in block.replace("\\\n", " ").splitlines() if c.strip()]
    assert lines
    missing = [c for c in lines if _commands(c.split("  #")[0]) not in page]
    assert not missing, f"README commands not in docs/RESULTS.md: {missing}"


def test_docs_never_point_outside_the_repo_for_design() -> None:
    for folder in ("baiseg", "tests", "bench", "docs"):  # baiseg/ holds configs/
        for p in (REPO / folder).rglob("*"):
            if p.suffix in (".py", ".md", ".yaml", ".sh") and p != Path(__file__):
                assert "DESIGN §" not in p.read_text(errors="ignore"), p


REFINE = sorted((REPO / "docs" / "results" / "refine").glob("*.json"))


@pytest.mark.parametrize("path", REFINE, ids=[p.stem for p in REFINE])
def test_refinement_tables_match_their_json_and_the_results_page(path: Path) -> None:
    spec = importlib.util.spec_from_file_location("refine_table", REPO / "bench" / "refine_table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    info = json.loads(path.read_text())
    md = path.with_suffix(".md").read_text()
    assert mod.render(info) == md, f"{path.with_suffix('.md').name} is stale: rerun {info['command']}"
    page = (REPO / "docs" / "RESULTS.md").read_text()
    rows = [line for line in md.splitlines() if line.startswith("| ") and not line.startswith(("| model",
                                                                                                  "| pseudo labels"))]
    missing = [r for r in rows if r not in page]
    assert not missing, f"docs/RESULTS.md lacks these rows of refine/{path.stem}.md: {missing[:3]}"
