"""The `olmo3hpc` command as a user types it (subprocess, installed console script semantics)."""

import json
import subprocess
import sys

import pytest


def olmo3hpc(*args, check=True, timeout=120, cwd=None):
    proc = subprocess.run([sys.executable, "-m", "olmo3hpc", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)
    if check and proc.returncode:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_recipes_lists_all_runs_with_stage_size_and_gpus():
    out = olmo3hpc("recipes").stdout
    for name in ("7b_think_rl_no_pipeline", "32b_think_rl", "7b_rlzero_instruction_following", "smoke_sft"):
        assert name in out
    line = next(l for l in out.splitlines() if l.startswith("32b_think_rl "))
    assert "rl" in line and "32B" in line and "28 x 8" in line


def test_show_json_resolves_overrides_at_the_same_paths():
    out = olmo3hpc("show", "7b_think_rl", "--optim.lr", "3e-7", "--slurm.nodes", "5", "--json").stdout
    cfg = json.loads(out)
    assert cfg["stage"] == "rl"
    assert cfg["optim"]["lr"] == 3e-7 and cfg["slurm"]["nodes"] == 5
    assert cfg["rl"]["tis_cap"] == 2.0 and cfg["placement"]["learners_per_node"] == [8, 8]


def test_show_text_includes_the_plan():
    out = olmo3hpc("show", "7b_instruct_rl").stdout
    assert "learners 8" in out and "plan: rl on 8 node(s)" in out
    assert "recipe:7b_instruct_dpo" in out


def test_unknown_recipe_lists_nearest_names():
    proc = olmo3hpc("show", "7b_thnk_rl", check=False)
    assert proc.returncode == 2
    assert "nearest: 7b_think_rl" in proc.stderr


@pytest.mark.parametrize("args,message", [
    (["--optim.lrr", "1"], "--optim.lr"),
    (["--optim.lr", "fast"], "could not convert string to float"),
    (["--rl.advantage_normalization", "median"], "standard"),
])
def test_bad_override_names_field_and_type(args, message):
    proc = olmo3hpc("show", "7b_think_rl", *args, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr + proc.stdout


def test_impossible_plan_fails_before_anything_is_written(tmp_path):
    proc = olmo3hpc("launch", "7b_think_rl", "--rollout.num_engines", "40", "--meta.output_root", str(tmp_path),
                    "--dry-run", check=False)
    assert proc.returncode == 2 and "do not fit" in proc.stderr
    assert not any(tmp_path.iterdir())


def test_help_lists_field_docstrings():
    out = olmo3hpc("show", "7b_think_rl", "--help").stdout
    assert "--rl.tis_cap" in out and "Truncated importance sampling cap" in out


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_readme_main_command_trains_smoke_sft_and_leaves_a_loadable_model(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    proc = olmo3hpc("launch", "smoke_sft", "--executor", "local", timeout=540, cwd=tmp_path)
    assert "COMPLETED" in proc.stdout.splitlines()[-1]
    assert "step 64/64 | loss" in proc.stdout and "ETA" in proc.stdout  # the job's log streamed
    final = tmp_path / "runs" / "smoke_sft" / "hf" / "final"
    model = AutoModelForCausalLM.from_pretrained(final)
    assert model.config.vocab_size == len(AutoTokenizer.from_pretrained(final))
