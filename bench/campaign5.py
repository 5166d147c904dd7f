"""The fifth bad-input campaign (issue 21): 60+ new bad inputs, none of them in campaigns 3 / 4 or in
docs/HARDENING.md, on the ground those rounds covered thinly: ``report``, ``export``, ``sweep``, ``info``, ``data``,
``demo``, ``pseudo --method sam``, odd output paths, the ``Predictor`` / ``Instances`` / ``coco_results`` API, odd
dataset files (COCO, instance PNGs, instance folders, VOC palettes) and ``list`` files.

    python bench/campaign5.py [--work /tmp/campaign5] [--only R01,N02] [--out docs/results/hardening/campaign5.json]

Reuses campaign 3's runner and verdicts and campaign 4's fixtures and ``api`` helper (``bench/campaign4.py``), and adds
an ``evaluate`` output (``ev0``, the cc baseline on ``ds/good.yaml``). The cases are in ``bench/campaign5_cases.py``
(commands) and ``bench/campaign5_cases_b.py`` (the API and dataset files). Not a test: the fixes it led to have tests
(tests/test_bad_inputs_campaign5.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run by its path: import the package ``bench`` (the repository root on sys.path only for that)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import bench  # noqa: F401
    del sys.path[0]
from bench.campaign3 import baiseg  # noqa: E402
from bench.campaign4 import build_fixtures4, campaign_main  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def build_fixtures5(work: Path) -> None:
    """Campaign 4's fixtures plus an evaluate output ``ev0`` (idempotent)."""
    build_fixtures4(work)
    if (work / "ev0" / "metrics.json").is_file():
        return
    r = baiseg(work, ["evaluate", "--data", "ds/good.yaml", "--method", "cc", "--semantic", "gt", "--out", "ev0"],
               background=True)  # fmt: skip
    assert r.wait(timeout=600) == 0, r.stderr.read()


def all_cases() -> list:
    from bench.campaign5_cases import cli_cases
    from bench.campaign5_cases_b import api_cases, data_cases

    return [*cli_cases(), *api_cases(), *data_cases()]


def main() -> int:
    return campaign_main(5, build_fixtures5, all_cases)


if __name__ == "__main__":
    sys.exit(main())
