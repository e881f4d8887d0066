"""Eval sweeps: cells of checkpoint x task group, scored by the real verifiers, resumable, merged to tables."""

from __future__ import annotations

import csv
import json
import multiprocessing
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from olmo3hpc.tools.eval_cells import score_responses
from olmo3hpc.tools.eval_results import merge_results
from olmo3hpc.tools.eval_sweep import EvalSweepArgs, eval_sweep, find_checkpoints, plan_cells
from olmo3hpc.tools.suites import BUNDLED, SuiteError, load_rows, resolve_suite
from tests.tools.conftest import save_tiny_hf


def test_bundled_suites_are_scored_correctly_by_the_verifiers() -> None:
    """A right answer scores 1 and a wrong one 0 on every bundled row (gsm8k, math, ifeval, code)."""
    rows = [r for g in resolve_suite("sample") for r in load_rows(g)]
    assert {len(load_rows(g)) for g in resolve_suite("sample")} <= set(range(10, 21))
    good = {"gsm8k-00": "They sold 48 + 24 = 72 clips. The answer is 72.",
            "math-00": "2^10 = 1024, so the value is \\boxed{1000}.",
            "ifeval-01": "Autumn is my favorite season because the air is crisp and the leaves turn gold.",
            "humaneval-00": "```python\ndef add(a, b):\n    return a + b\n```"}
    bad = {"gsm8k-00": "The answer is 71.", "math-00": "\\boxed{1024}", "ifeval-01": "Autumn, clearly.",
           "humaneval-00": "```python\ndef add(a, b):\n    return a - b\n```"}
    index = {r["id"]: i for i, r in enumerate(rows)}
    assert score_responses(rows, {index[k]: v for k, v in good.items()}) == [
        1.0 if r["id"] in good else 0.0 for r in rows]
    assert sum(score_responses(rows, {index[k]: v for k, v in bad.items()})) == 0.0


def test_bad_suite_inputs_name_the_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(SuiteError, match=f"{empty}: task file is empty"):
        load_rows(resolve_suite(str(empty))[0])
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"messages": [{"role": "user", "content": "hi"}], "ground_truth": "1", "dataset": "gsm8k"}\n{"x": \n')
    with pytest.raises(SuiteError, match=f"{broken}:2: not valid JSON"):
        load_rows(resolve_suite(str(broken))[0])
    with pytest.raises(SuiteError, match="neither a bundled suite"):
        resolve_suite("no-such-suite")
    assert set(BUNDLED) == {"sample", "math", "ifeval", "code"}


def _run_dir(root: Path, steps: tuple[int, ...], **slurm: object) -> Path:
    from olmo3hpc.catalog import load_recipe
    from olmo3hpc.config import dump_run

    run = load_recipe("smoke_rl")
    run = replace(run, meta=replace(run.meta, output_root=str(root)), slurm=replace(run.slurm, **slurm),
                  ray=replace(run.ray, object_store_mb=80, ready_timeout_s=120.0))
    run_dir = root / run.meta.name
    (run_dir / "hf").mkdir(parents=True)
    (run_dir / "config.yaml").write_text(dump_run(run))
    for step in steps:
        save_tiny_hf(run_dir / "hf" / f"step_{step:08d}", seed=step)
    return run_dir


def _one_item_suite(root: Path) -> Path:
    path = root / "tiny_gsm8k.jsonl"
    path.write_text(Path(resolve_suite("math")[0].path).read_text().splitlines()[0] + "\n")
    return path


def test_checkpoint_discovery_and_cells(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path, (10, 20))
    save_tiny_hf(run_dir / "hf" / "final", seed=3)
    found = find_checkpoints(str(run_dir))
    assert [(label, step) for _, label, step in found] == [("final", None), ("step_00000010", 10),
                                                            ("step_00000020", 20)]
    assert [label for _, label, _ in find_checkpoints(str(run_dir / "hf" / "step_*"))] == ["step_00000010",
                                                                                            "step_00000020"]
    cells = plan_cells(EvalSweepArgs(checkpoints=str(run_dir), suite="math"))
    assert sorted(c.key for c in cells)[:2] == ["final__gsm8k", "final__math"] and len(cells) == 6
    with pytest.raises(FileNotFoundError, match="matches no HF model directory"):
        find_checkpoints(str(tmp_path / "nothing*"))


def test_merge_shows_pending_cells(tmp_path: Path) -> None:
    cells = tmp_path / "cells"
    cells.mkdir()
    for label, step, group, score in [("step_00000010", 10, "gsm8k", 0.25), ("step_00000020", 20, "gsm8k", 0.5),
                                      ("step_00000010", 10, "math", 0.1)]:
        (cells / f"{label}__{group}.json").write_text(json.dumps(
            {"checkpoint": "/x", "label": label, "step": step, "group": {"name": group, "path": "p"},
             "n": 4, "score": score, "too_long": 0, "engine": "transformers", "seconds": 1.0}))
    merge_results(tmp_path)
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert [(r["label"], r["group"], r["score"]) for r in rows] == [
        ("step_00000010", "gsm8k", "0.25"), ("step_00000010", "math", "0.1"), ("step_00000020", "gsm8k", "0.5")]
    table = (tmp_path / "results.md").read_text()
    assert "| step_00000010 | 10 | 0.250 (n=4) | 0.100 (n=4) | 0.175 |" in table
    assert "| step_00000020 | 20 | 0.500 (n=4) | pending | - |" in table
    assert (tmp_path / "scores.png").stat().st_size > 10_000


def test_concurrent_merges_do_not_collide(tmp_path: Path) -> None:
    """Array tasks finishing together each re-merge the same sweep directory."""
    cells = tmp_path / "cells"
    cells.mkdir()
    (cells / "final__gsm8k.json").write_text(json.dumps(
        {"checkpoint": "/x", "label": "final", "step": 3, "group": "gsm8k", "n": 1, "score": 1.0,
         "too_long": 0, "engine": "transformers", "seconds": 1.0}))
    with multiprocessing.get_context("fork").Pool(4) as pool:
        merged = pool.map(_merge_count, [tmp_path] * 16)
    assert merged == [1] * 16
    assert (tmp_path / "scores.png").is_file() and not list(tmp_path.glob(".*tmp*"))


def _merge_count(sweep_dir: Path) -> int:
    return len(merge_results(sweep_dir))


def _sweep_and_resume(run_dir: Path, suite: Path, executor: str, gpus_args: dict) -> None:
    args = EvalSweepArgs(checkpoints=str(run_dir), suite=str(suite), executor=executor, max_new_tokens=2,
                         wait_timeout_s=900, **gpus_args)
    first = eval_sweep(args)
    assert (first.submitted, first.finished, first.total) == (2, 2, 2)
    rows = list(csv.DictReader((first.sweep_dir / "results.csv").open()))
    assert [(r["label"], r["step"], r["group"], r["n"]) for r in rows] == [
        ("step_00000001", "1", "tiny_gsm8k", "1"), ("step_00000002", "2", "tiny_gsm8k", "1")]
    assert (first.sweep_dir / "scores.png").is_file() and (first.sweep_dir / "results.md").is_file()
    cells = first.sweep_dir / "cells"
    kept = cells / "step_00000001__tiny_gsm8k.json"
    stamp = kept.stat().st_mtime_ns
    assert eval_sweep(args).submitted == 0  # everything finished: nothing is submitted again
    (cells / "step_00000002__tiny_gsm8k.json").unlink()
    again = eval_sweep(args)
    assert (again.submitted, again.finished) == (1, 2)
    assert kept.stat().st_mtime_ns == stamp  # the finished cell was not re-run
    assert len(list((first.sweep_dir / "jobs").glob("job_*"))) == 2


@pytest.mark.slow
def test_local_sweep_is_resumable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    run_dir = _run_dir(tmp_path, (1, 2))
    _sweep_and_resume(run_dir, _one_item_suite(tmp_path), "local", {"gpus": 0})


@pytest.mark.slurm
@pytest.mark.slow
@pytest.mark.usefixtures("slurm_cluster", "job_env")
def test_slurm_array_sweep_is_resumable(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path, (1, 2), cpus_per_node=1, time="00:15:00", signal_delay_s=30)
    _sweep_and_resume(run_dir, _one_item_suite(tmp_path), "slurm", {"gpus": 0, "time": "00:15:00"})


@pytest.mark.vllm
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_cell_with_the_vllm_engine(tmp_path: Path) -> None:
    pytest.importorskip("vllm")
    model = save_tiny_hf(tmp_path / "step_00000005", seed=5, size="tiny_hd64")
    # In its own process, as an array task runs it: an in-process vLLM engine leaves global state behind.
    cell = ("from olmo3hpc.tools.eval_cells import Cell, EvalSettings, evaluate_cell\n"
            "from olmo3hpc.tools.suites import resolve_suite\n"
            "import json, sys\n"
            "cell = Cell(sys.argv[1], 'step_00000005', 5, resolve_suite('math')[0])\n"
            "print(json.dumps(evaluate_cell(cell, EvalSettings(engine='vllm', max_new_tokens=4, limit=2), "
            "__import__('pathlib').Path(sys.argv[2]))))\n")
    proc = subprocess.run([sys.executable, "-c", cell, str(model), str(tmp_path / "cells")], capture_output=True,
                          text=True, timeout=800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (result["engine"], result["n"], result["step"]) == ("vllm", 2, 5)
    samples = [json.loads(line) for line in (tmp_path / "cells" / "step_00000005__gsm8k.samples.jsonl").open()]
    assert [s["id"] for s in samples] == ["gsm8k-00", "gsm8k-01"] and all(s["response"] for s in samples)
