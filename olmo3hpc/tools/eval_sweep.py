"""`olmo3hpc eval-sweep --checkpoints <run_dir or glob> --suite <name>`: every checkpoint x task group as
one Slurm array task, resumable, merged into results.csv / results.md / scores.png.

    eval_sweep(EvalSweepArgs(checkpoints="runs/smoke_rl", suite="sample")) -> SweepOutcome

Layout of a sweep directory (default <run_dir>/eval/<suite>):
    cells/<label>__<group>.json      a finished cell (written last, atomically) + .samples.jsonl
    jobs/job_NNN/                    one launcher run dir per submission (config.yaml, cells.json, logs/)
    results.csv, results.md, scores.png

Submission goes through the project launcher (`launch.launch` with `array` = unfinished cells and
`driver` = `olmo3hpc.tools.eval_sweep:drive`), so a task gets the same sbatch/site/container handling as
training. Each array task evaluates cells[OLMO3HPC_ARRAY_INDEX]; the local executor has no arrays, so
its single job runs every cell in turn. Cells whose result exists are never submitted or re-run, so
re-running the command resumes an interrupted sweep. Each task re-merges the tables when it finishes.
"""

from __future__ import annotations

import glob
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from olmo3hpc.config import Run
from olmo3hpc.tools.eval_cells import Cell, EvalSettings, evaluate_cell
from olmo3hpc.tools.eval_results import merge_results
from olmo3hpc.tools.suites import TaskGroup, resolve_suite

DRIVER = "olmo3hpc.tools.eval_sweep:drive"
CELLS_FILE = "cells.json"
_STEP = re.compile(r"step_0*(\d+)$")


class EvalSweepError(RuntimeError):
    """Some cells of a waited-for sweep did not finish (the message names the job logs)."""


@dataclass(frozen=True)
class EvalSweepArgs:
    checkpoints: str
    """A run directory (evaluates its hf/step_* and hf/final exports) or a glob of HF model directories."""
    suite: str = "sample"
    """Bundled suite (sample, math, ifeval, code), a task .jsonl file, or a directory of them."""
    output: str = ""
    """Sweep directory; empty = <run_dir>/eval/<suite> for a run directory, else ./eval/<suite>."""
    engine: Literal["auto", "vllm", "transformers"] = "auto"
    """Generation engine; auto = vLLM on GPUs when installed, else transformers."""
    gpus: int = 1
    """GPUs per array task (0 = CPU)."""
    executor: Literal["auto", "slurm", "local"] = "auto"
    """auto = Slurm when sbatch exists, else run the cells on this machine."""
    time: str = "02:00:00"
    """Wall time of one array task."""
    parallelism: int = 0
    """At most this many array tasks at once (0 = all)."""
    max_new_tokens: int = 0
    """Generation budget per answer; 0 = each task group's own."""
    limit: int = 0
    """Items per task group (0 = all)."""
    chat_template: str = ""
    """Prompt template; empty = the run's model.chat_template, else olmo."""
    wait: bool = True
    """Wait for the array and merge the results (else return after submitting)."""
    wait_timeout_s: float = 0.0
    """Give up waiting after this long (0 = no limit); finished cells are merged either way."""
    merge_only: bool = False
    """Only merge the finished cells into the tables and plot; submit nothing."""


@dataclass(frozen=True)
class SweepOutcome:
    sweep_dir: Path
    submitted: int
    """Cells submitted by this call (0 when everything was already done)."""
    job_ids: tuple[str, ...]
    finished: int
    """Finished cells after this call (results rows)."""
    total: int


def _is_model_dir(path: Path) -> bool:
    """A finished HF model directory (exports are staged in hidden or `.tmp` directories first)."""
    if path.name.startswith(".") or path.name.endswith(".tmp"):
        return False
    return (path / "config.json").is_file() and any(path.glob("*.safetensors"))


def _label(path: Path, clash: bool) -> str:
    return f"{path.parent.parent.name}-{path.name}" if clash else path.name


def find_checkpoints(spec: str) -> list[tuple[str, str, int | None]]:
    """(HF dir, label, step) for a run directory's exports or a glob's HF directories."""
    root = Path(spec)
    if (root / "config.yaml").is_file():
        found = sorted(p for p in (root / "hf").glob("*") if _is_model_dir(p))
        if not found:
            raise FileNotFoundError(f"{root / 'hf'}: no HF exports to evaluate; export or convert checkpoints "
                                    f"first (`olmo3hpc convert --checkpoint {root}`)")
    else:
        found = sorted(Path(p) for p in glob.glob(spec) if _is_model_dir(Path(p)))
        if not found:
            raise FileNotFoundError(f"{spec}: matches no HF model directory (a directory with config.json)")
    names = [p.name for p in found]
    out = []
    for p in found:
        m = _STEP.search(p.name)
        out.append((str(p.resolve()), _label(p, names.count(p.name) > 1), int(m.group(1)) if m else None))
    return out


def plan_cells(args: EvalSweepArgs) -> list[Cell]:
    groups: list[TaskGroup] = resolve_suite(args.suite)
    return [Cell(path, label, step, g) for path, label, step in find_checkpoints(args.checkpoints) for g in groups]


def sweep_dir_of(args: EvalSweepArgs) -> Path:
    if args.output:
        return Path(args.output).resolve()
    root = Path(args.checkpoints)
    name = Path(args.suite).stem if args.suite.endswith(".jsonl") else Path(args.suite).name
    base = root / "eval" if (root / "config.yaml").is_file() else Path("eval")
    return (base / name).resolve()


def _settings(args: EvalSweepArgs, chat_template: str) -> EvalSettings:
    gpu = args.gpus > 0
    engine = args.engine
    if engine == "auto":
        import importlib.util

        engine = "vllm" if gpu and importlib.util.find_spec("vllm") else "transformers"
    return EvalSettings(engine=engine, device="gpu" if gpu else "cpu", dtype="bfloat16" if gpu else "float32",
                        chat_template=chat_template, max_new_tokens=args.max_new_tokens, limit=args.limit)


def _done(sweep_dir: Path, cell: Cell) -> bool:
    return (sweep_dir / "cells" / f"{cell.key}.json").is_file()


def eval_sweep(args: EvalSweepArgs) -> SweepOutcome:
    """Submit the unfinished cells (unless merge_only), optionally wait, merge; see module docstring."""
    from olmo3hpc.tools.eval_submit import submit_cells, wait_for

    sweep_dir = sweep_dir_of(args)
    cells = plan_cells(args)
    pending = [c for c in cells if not _done(sweep_dir, c)]
    job_ids: tuple[str, ...] = ()
    job_dir = None
    if pending and not args.merge_only:
        (sweep_dir / "cells").mkdir(parents=True, exist_ok=True)
        job_dir, job_ids = submit_cells(args, sweep_dir, pending, _settings)
        if args.wait:
            wait_for(job_dir, lambda: all(_done(sweep_dir, c) for c in pending), args.wait_timeout_s)
    merge_results(sweep_dir)
    finished = sum(_done(sweep_dir, c) for c in cells)
    if job_dir is not None and args.wait and finished < len(cells):
        raise EvalSweepError(f"{len(cells) - finished} of {len(cells)} cells did not finish; see {job_dir / 'logs'} "
                             f"(re-run the same command to retry only those)")
    return SweepOutcome(sweep_dir, 0 if args.merge_only else len(pending), job_ids, finished, len(cells))


def drive(run: Run) -> int:
    """Array-task driver (run on the job's head): evaluate this task's cell, or every cell locally."""
    job_dir = Path(run.meta.run_dir).resolve()
    spec = json.loads((job_dir / CELLS_FILE).read_text())
    sweep_dir = Path(spec["sweep_dir"])
    settings = EvalSettings(**spec["settings"])
    cells = [Cell.from_json(c) for c in spec["cells"]]
    index = os.environ.get("OLMO3HPC_ARRAY_INDEX")
    mine = cells if index is None else [cells[int(index)]]
    for cell in mine:
        if not _done(sweep_dir, cell):
            start = time.time()
            result = evaluate_cell(cell, settings, sweep_dir / "cells")
            print(f"[eval-sweep] {cell.key}: score {result['score']:.3f} on {result['n']} items "
                  f"in {time.time() - start:.1f}s", flush=True)
    merge_results(sweep_dir)
    return 0


