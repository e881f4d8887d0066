"""Golden sbatch scripts: the exact text `launch` submits for real recipes on an example site.

Regenerate after an intended change with `OLMO3HPC_UPDATE_GOLDEN=1 pytest tests/launch/test_sbatch_golden.py`
and review the diff like code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from olmo3hpc.catalog import load_recipe
from olmo3hpc.config import replace_path
from olmo3hpc.launch.options import LaunchOptions
from olmo3hpc.launch.sites import apply_site
from olmo3hpc.launch.submit import render_sbatch

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
ROOT = "/shared/olmo3hpc/runs"
CASES = {
    # RL on an H100 site with Pyxis: partition/account/NCCL env/container come from the site
    "sbatch_7b_think_rl.sh": ("7b_think_rl", "example_h100_pyxis", LaunchOptions(), False),
    # SFT without a site, chained after its CPU cache job, on an explicit interpreter
    "sbatch_7b_instruct_sft.sh": ("7b_instruct_sft", "", LaunchOptions(python="/opt/olmo3hpc/bin/python",
                                                                       dependency="afterok:1234"), False),
    "sbatch_7b_instruct_sft_pretokenize.sh": ("7b_instruct_sft", "", LaunchOptions(python="/opt/olmo3hpc/bin/python"),
                                              True),
}


def _render(recipe: str, site: str, opts: LaunchOptions, pretokenize: bool) -> str:
    run = replace_path(load_recipe(recipe), "meta.output_root", ROOT)
    if site:
        run = apply_site(run, site)
    return render_sbatch(run, opts, pretokenize=pretokenize)


@pytest.mark.parametrize("golden", sorted(CASES))
def test_sbatch_matches_golden(golden: str) -> None:
    text = _render(*CASES[golden])
    path = GOLDEN / golden
    if os.environ.get("OLMO3HPC_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.exists(), f"{path} missing: run with OLMO3HPC_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(), f"{golden} changed; if intended, rerun with OLMO3HPC_UPDATE_GOLDEN=1 and review"


def test_render_is_deterministic_and_secret_free(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_do_not_write_me")
    monkeypatch.setenv("WANDB_API_KEY", "wandb_do_not_write_me")
    first = _render(*CASES["sbatch_7b_think_rl.sh"])
    assert first == _render(*CASES["sbatch_7b_think_rl.sh"])
    assert "do_not_write_me" not in first
    assert "HF_TOKEN WANDB_API_KEY" in first  # named, never valued
