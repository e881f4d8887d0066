#!/usr/bin/env python
"""Render a run's loss/reward/lr/throughput curves and a summary (= `olmo3hpc report <run_dir>`).

    tools/report.py runs/smoke_rl [--smooth 10]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # usable from a checkout without installing

import tyro  # noqa: E402

from olmo3hpc.tools.report import ReportArgs, report  # noqa: E402

if __name__ == "__main__":
    print(report(tyro.cli(ReportArgs)) / "summary.md")
