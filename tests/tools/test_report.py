"""`report <run_dir>` on finished and still-running runs, including a metrics.jsonl cut mid-line."""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from pathlib import Path

import pytest

from olmo3hpc.tools.report import ReportArgs, read_metrics, report


def _run_dir(tmp_path: Path, recipe: str = "smoke_rl") -> Path:
    from olmo3hpc.catalog import load_recipe
    from olmo3hpc.config import dump_run

    run = load_recipe(recipe)
    run = replace(run, meta=replace(run.meta, output_root=str(tmp_path)))
    run_dir = tmp_path / run.meta.name
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(dump_run(run))
    return run_dir


def _records(steps: range, start: float) -> list[str]:
    return [json.dumps({"step": s, "time": start + s, "loss": 2.0 * math.exp(-s / 10), "lr": 1e-3 * min(1, s / 5),
                        "reward_mean": s / 20, "tokens_per_s": 900.0 + s}) for s in steps]


def test_running_run_with_cut_last_line(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    lines = _records(range(1, 11), time.time() - 20)
    lines.insert(4, '{"step": 4, "loss": ')  # a malformed line in the middle (e.g. a killed writer)
    lines.append(_records(range(6, 16), time.time() - 10)[0])  # step 6 logged again after a requeue
    text = "\n".join(lines) + "\n" + '{"step": 16, "time": 1'  # a write in progress
    (run_dir / "metrics.jsonl").write_text(text)
    metrics = read_metrics(run_dir / "metrics.jsonl")
    assert [r["step"] for r in metrics.records] == list(range(1, 11))
    assert metrics.skipped_lines == [5]
    out = report(ReportArgs(run_dir=str(run_dir), smooth=3))
    assert sorted(p.name for p in out.iterdir()) == ["loss.png", "lr.png", "reward.png", "summary.md",
                                                    "throughput.png"]
    summary = (out / "summary.md").read_text()
    assert "status: running" in summary and "stage: rl" in summary
    from olmo3hpc.config import load_run, plan

    planned = plan(load_run(run_dir / "config.yaml")).training_steps
    assert f"steps logged: 10 of {planned} planned" in summary
    assert "skipped malformed metrics lines: [5]" in summary
    assert "| reward_mean | 0.5 | 0.05 | 0.5 |" in summary
    assert all((out / p).stat().st_size > 10_000 for p in ("loss.png", "lr.png", "reward.png", "throughput.png"))


def test_finished_sft_run_without_reward(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path, "smoke_sft")
    lines = [json.dumps({"step": s, "time": 1.0e9 + s, "loss": 1.0 / s, "lr": 1e-4, "tokens_per_s": 50.0})
             for s in range(1, 6)]
    (run_dir / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    (run_dir / "events.jsonl").write_text(json.dumps({"event": "done", "time": 1.0e9 + 6}) + "\n")
    out = report(ReportArgs(run_dir=str(run_dir)))
    summary = (out / "summary.md").read_text()
    assert "status: finished" in summary and "stage: sft" in summary
    assert "Reward: no metrics of this kind in this run" in summary
    assert not (out / "reward.png").exists()
    report(ReportArgs(run_dir=str(run_dir)))  # re-rendering replaces the report in place
    assert not list(run_dir.glob(".report.*"))


def test_empty_and_missing(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    summary = (report(ReportArgs(run_dir=str(run_dir))) / "summary.md").read_text()
    assert "No metrics logged yet." in summary
    with pytest.raises(FileNotFoundError, match="nope"):
        report(ReportArgs(run_dir=str(tmp_path / "nope")))
