"""The result tables in docs/ say what their JSON says: each docs/results/<name>.md is regenerated from
<name>.json by the code of bench/results.py, and every table row of it appears verbatim in docs/RESULTS.md."""

from __future__ import annotations

import importlib.util
import json
import re
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


def test_ablation_cells_match_the_sweep_json() -> None:
    """Each measured Table 3 row of docs/ABLATIONS.md shows the values of docs/results/ablations/table3.json, and the
    markdown table beside the JSON lists the same values."""
    path = REPO / "docs" / "results" / "ablations" / "table3.json"
    if not path.is_file():
        pytest.skip("no measured ablation yet")
    table = json.loads(path.read_text())
    page = (REPO / "docs" / "ABLATIONS.md").read_text().splitlines()
    md = (path.with_suffix(".md")).read_text()
    measured = [r for r in table["rows"] if r["seeds_done"] and r["summary"]["gt_mAP50"]["mean"] is not None]
    assert measured, "the JSON holds no measured row"
    for row in measured:
        line = next(x for x in page if x.startswith(f"| {row['name']} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        s = row["summary"]
        want = [s[k]["mean"] for k in ("gt_mAP50", "gt_mAP75", "model_mAP50", "model_mAP75")]
        shown = [float(c.split()[0]) for c in cells[7:11]]
        assert shown == [round(v, 1) for v in want], (row["name"], shown, want)
        assert f"| {row['name']} | {row['seeds_done']}/" in md and f"{want[0]:.1f}" in md


def _speed_rows(title: str) -> list[list[str]]:
    """Table rows (cells) of the docs/SPEED.md section whose heading starts with ``title``."""
    text = (REPO / "docs" / "SPEED.md").read_text()
    part = text[text.index(title):]
    part = part[: part.find("\n#", 1)] if "\n#" in part[1:] else part
    return [[c.strip() for c in line.strip("|").split("|")] for line in part.splitlines()
            if line.startswith("|") and not line.startswith("|---")][1:]  # fmt: skip


def test_speed_page_predict_and_int8_tables_match_their_json() -> None:
    speed = json.loads((REPO / "docs" / "results" / "speed_predict.json").read_text())
    data = {"coco128 val": "coco128_panoptic_val", "Penn-Fudan val": "pennfudan_val"}
    backends = {"PyTorch": "pytorch", "onnxruntime": "onnx", "onnxruntime int8": "onnx-int8"}
    rows = _speed_rows("### End-to-end `predict`")
    assert len(rows) == 6
    last = None
    for cells in rows:
        last = next((v for k, v in data.items() if cells[0].startswith(k)), last)
        s = speed["predict"][f"{last}/{backends[cells[1]]}"]
        assert cells[2].strip("*") == f"{s['img_per_s']:.2f}" and cells[3] == f"{s['wall_s']:.1f}", cells
        assert [cells[i] for i in (4, 5, 6, 7)] == [f"{s[k]:.1f}" for k in ("read_s", "network_s", "mep_s", "write_s")]
    net = _speed_rows("### The network")
    assert len(net) == 3
    for cells, backend in zip(net, ("pytorch", "onnx", "onnx-int8")):
        assert cells[1] == f"{speed['forward_416_ms'][backend]:.0f}"
        assert cells[3] == f"{speed['forward_640x480_ms'][backend]:.0f}"
    quality = json.loads((REPO / "docs" / "results" / "int8_quality.json").read_text())["models"]
    q_rows = _speed_rows("### Int8: what it costs")
    assert len(q_rows) == 4
    for cells, (model, sem) in zip(q_rows, [("pennfudan", "gt"), ("pennfudan", "model"), ("coco128", "gt"),
                                             ("coco128", "model")]):  # fmt: skip
        sc = quality[model]["scores"]
        want = [f"{sc[f'{b}/{sem}'][m]:.1f}" for m in ("mAP50", "mAP75", "AP") for b in ("float", "int8")]
        assert cells[2:8] == want, (cells, want)


def test_table7_cells_match_the_sweep_json() -> None:
    path = REPO / "docs" / "results" / "ablations" / "table7.json"
    if not path.is_file():
        pytest.skip("Table 7 not measured yet")
    table = json.loads(path.read_text())
    page = (REPO / "docs" / "ABLATIONS.md").read_text().splitlines()
    columns = {"T=0.1": 1, "T=0.2": 2, "T=0.5": 5}  # the page's columns are 0.1 ... 0.8
    checked = 0
    for label, key in (("ours mAP50, GT sem.", "gt_mAP50"), ("ours mAP75, GT sem.", "gt_mAP75"),
                       ("ours mAP50, model sem.", "model_mAP50"), ("ours mAP75, model sem.", "model_mAP75")):
        cells = [c.strip() for c in next(x for x in page if x.startswith(f"| {label} |")).strip("|").split("|")]
        for row in table["rows"]:
            mean = row["summary"][key]["mean"]
            if mean is not None:
                assert float(cells[columns[row["name"]]].split()[0]) == round(mean, 1), (label, row["name"])
                checked += 1
    assert checked


def test_ablation_directions_on_the_page_are_those_the_script_computes() -> None:
    """docs/ABLATIONS.md shows bench/ablation_directions.py's table for every measured sweep JSON that it cites."""
    spec = importlib.util.spec_from_file_location("ablation_directions", REPO / "bench" / "ablation_directions.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    page = (REPO / "docs" / "ABLATIONS.md").read_text()
    checked = 0
    for path in sorted((REPO / "docs" / "results" / "ablations").glob("*.json")):
        if f"bench/ablation_directions.py docs/results/ablations/{path.name}" not in page:
            continue
        for line in mod.markdown(json.loads(path.read_text())).splitlines():
            assert line in page, (path.name, line)
        checked += 1
    if not checked:
        pytest.skip("no direction table on the page yet")


def test_tables45_cells_match_the_sweep_json() -> None:
    path = REPO / "docs" / "results" / "ablations" / "tables45.json"
    if not path.is_file():
        pytest.skip("Tables 4-5 not measured yet")
    page = (REPO / "docs" / "ABLATIONS.md").read_text()
    table4 = page[page.index("Table 4 (paper"):page.index("Table 5 (paper")]
    table5 = page[page.index("Table 5 (paper"):]
    checked = 0
    for row in json.loads(path.read_text())["rows"]:
        s = row["summary"]
        if s["gt_mAP50"]["mean"] is None:
            continue
        r, dim = (int(v.split("=")[1]) for v in row["name"].split())
        for text, key in ((table4, r), (table5, dim)) if r == 4 and dim == 32 else (
                ((table4, r),) if dim == 32 else ((table5, dim),)):  # fmt: skip
            line = next(x for x in text.splitlines() if x.startswith(f"| {key} |"))
            cells = [c.strip() for c in line.strip("|").split("|")]
            shown = [float(cells[i].split()[0]) for i in (7, 8)]
            assert shown == [round(s["gt_mAP50"]["mean"], 1), round(s["model_mAP50"]["mean"], 1)], row["name"]
            checked += 1
    assert checked


def test_speed_page_fewer_pixels_table_is_the_bench_rendering() -> None:
    """docs/SPEED.md "Fewer pixels" shows ``bench/max_side.py --table`` of its JSON, line for line."""
    path = REPO / "docs" / "results" / "speed_max_side.json"
    if not path.is_file():
        pytest.skip("the --max-side bench has not been run")
    spec = importlib.util.spec_from_file_location("max_side", REPO / "bench" / "max_side.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    page = (REPO / "docs" / "SPEED.md").read_text()
    section = page[page.index("### Fewer pixels"):]
    lines = mod.markdown(json.loads(path.read_text())).splitlines()
    assert len(lines) > 2
    for line in lines:
        assert line in section, line


def test_speed_page_dim16_table_matches_its_json() -> None:
    rows = _speed_rows("### A lighter network")
    assert len(rows) == 6
    names = {"PyTorch": "pytorch", "onnxruntime": "onnx", "onnxruntime int8": "onnx-int8"}
    for cells in rows:
        s = json.loads((REPO / "docs" / "results" / f"speed_pf_dim{cells[0]}.json").read_text())["predict"]
        s = s[f"pennfudan_val/{names[cells[1]]}"]
        assert cells[2:] == [f"{s['img_per_s']:.2f}", *(f"{s[k]:.1f}" for k in ("network_s", "mep_s", "write_s"))]


def _bench_module(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


GEN = REPO / "docs" / "results" / "gen"


@pytest.mark.parametrize("path", sorted(GEN.glob("*_val.json")), ids=lambda p: p.stem)
def test_generalisation_val_markdown_matches_json(path: Path) -> None:
    info = json.loads(path.read_text())
    assert (GEN / f"{path.stem}.md").read_text() == _results_module().render(info["rows"])


def test_generalisation_page_shows_the_tables_of_its_json(tmp_path) -> None:
    page = (REPO / "docs" / "GENERALISATION.md").read_text()
    out = tmp_path / "val.md"
    _bench_module("generalise_table").main(["--domains", "pennfudan", "coco128_panoptic", "dsb2018", "--results",
                                            str(GEN / "{domain}_val.json"), "--sam",
                                            str(REPO / "docs" / "results" / "sam" / "{domain}_val*.json"),
                                            "--out", str(out)])  # fmt: skip
    assert out.read_text() == (GEN / "val_table.md").read_text()
    for line in out.read_text().splitlines():
        assert line in page, line
    tuning = REPO / "docs" / "results" / "tuning" / "gen"
    lodo = json.loads((tuning / "lodo.json").read_text())
    assert _bench_module("select_lodo").markdown(lodo) == (tuning / "lodo.md").read_text()
    for line in (tuning / "lodo.md").read_text().splitlines():
        assert line in page, line


def _mep_section() -> str:
    """docs/SPEED.md's "## MEP" section, whitespace collapsed."""
    page = (REPO / "docs" / "SPEED.md").read_text()
    part = page[page.index("## MEP ("):]
    return " ".join(part[: part.find("\n## ", 1)].split())


def test_speed_page_mep_figures_are_those_of_speed_mep_json() -> None:
    """The MEP speed is stated in docs/SPEED.md from docs/results/speed_mep.json: its table and text show its values."""
    d = json.loads((REPO / "docs" / "results" / "speed_mep.json").read_text())
    s = d["sizes"]["500x375"]
    text = _mep_section()
    rows = {cells[0]: cells[1:] for cells in _speed_rows("## MEP (")}
    ours = next(v for k, v in rows.items() if "C kernels)" in k and "without" not in k)
    assert ours == [f"{s['ours_median_ms']:.2f}", f"{s['ours_p90_ms']:.2f}"]
    assert next(v for k, v in rows.items() if "fallback" in k)[0] == f"{s['fallback_median_ms']:.2f}"
    assert next(v for k, v in rows.items() if "reference" in k)[0] == f"{s['reference_median_ms']:.2f}"
    iou = f"{s['matched_mean_iou']:.3f}"
    for phrase in (f"## MEP (500x375, one thread, {d['images']} images",
                   f"--images {d['images'] // 2} --repeats {d['repeats']} --sizes 500x375 --json",
                   f"speed-up over the reference is {s['speedup']:.1f}x",
                   f"{s['matched']} of its {s['reference_masks']} masks are matched (mean IoU {iou})",
                   f"identical label maps on all {s['fallback_identical_maps']} images",
                   f"met ({s['ours_median_ms']:.2f} ms)", f"met ({s['speedup']:.1f}x)",
                   f"met (mean IoU {iou}"):  # fmt: skip
        assert phrase in text, phrase
    assert s["fallback_identical_maps"] == d["images"]


def test_mep_speed_is_stated_only_on_the_speed_page() -> None:
    """No other page repeats a measured MEP timing (a decimal number of ms, or a decimal speed-up such as 4.4x, in a
    sentence or table row on the MEP, or anywhere in a section that shows the MEP bench's command): they link to
    SPEED.md. Targets (integers: "at most 15 ms") may be stated."""
    timing = re.compile(r"\b\d+\.\d+ ?ms\b|\b\d+\.\d+x\b")
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    found = []
    for page in pages:
        if page.name == "SPEED.md":
            continue
        for section in page.read_text().split("\n#"):
            if "bench_mep.py" in section and timing.search(section):
                found.append(f"{page.name}: section {section.splitlines()[0]!r}: {timing.search(section).group(0)}")
        for paragraph in page.read_text().split("\n\n"):
            table = paragraph.lstrip().startswith("|")
            for line in paragraph.splitlines() if table else re.split(r"(?<=\.)\s+(?=[A-Z])", paragraph):
                if re.search(r"\bMEP\b|bench_mep|extract_masks", line) and timing.search(line):
                    found.append(f"{page.name}: {' '.join(line.split())[:120]}")
    assert not found, found


def test_refine_table_keeps_earlier_rows_marked_and_drops_unmeasured_ones(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("refine_table", REPO / "bench" / "refine_table.py")
    rt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rt)
    info = rt.collect(tmp_path, "pf", "pf_val", 0)  # nothing measured under an empty root
    assert all(not r["measured"] for r in (*info["rows"], *info["pseudo"]))
    earlier = {"rows": [{"label": rt.ROWS[2][0], "voc": {k: 90.0 for k in rt.KEYS}, "coco_AP": 45.0,
                         "touching_mAP50": 86.0, "images": 50, "train_minutes": 80.0, "hardware": "2 CPU cores"}],
               "pseudo": [{"method": "cc", "voc": {k: 77.0 for k in rt.KEYS}, "coco_AP": 62.0, "instances": 250}]}
    kept = rt.keep_earlier(rt.collect(tmp_path, "pf", "pf_val", 0), earlier, "abc123")
    assert [r["label"] for r in kept["rows"]] == [rt.ROWS[2][0]] and kept["rows"][0]["earlier"] == "abc123"
    assert [p["method"] for p in kept["pseudo"]] == ["cc"]
    md = rt.render(kept)
    assert f"| {rt.ROWS[2][0]} ° | 90.0 |" in md and "commit abc123" in md
    assert rt.keep_earlier(rt.collect(tmp_path, "pf", "pf_val", 0), None)["rows"] == []
