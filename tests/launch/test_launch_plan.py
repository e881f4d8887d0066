"""Launch-side checks that need no Slurm: executor choice, options, relaunch safety, sbatch shape."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from olmo3hpc.catalog import load_recipe
from olmo3hpc.config import ConfigError, replace_path
from olmo3hpc.launch.options import LaunchOptions
from olmo3hpc.launch.params import extra_sbatch
from olmo3hpc.launch.rundir import check_relaunch, write_run_dir
from olmo3hpc.launch.submit import LaunchError, executor_kind, launch, render_sbatch


def _run(tmp_path: Path, **over: object):
    run = replace_path(load_recipe("smoke_sft"), "meta.output_root", str(tmp_path))
    for key, value in over.items():
        run = replace_path(run, key, value)
    return run


def test_slurm_requested_without_slurm_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch anywhere
    run = _run(tmp_path)
    with pytest.raises(LaunchError, match="sbatch.*not on PATH"):
        launch(run, LaunchOptions(executor="slurm"))
    assert executor_kind(run, LaunchOptions()) == "local"
    assert not (tmp_path / "smoke_sft").exists()


def test_bad_options_are_rejected() -> None:
    for opts in (LaunchOptions(dependency="after ok 1"), LaunchOptions(driver="no_colon"), LaunchOptions(array=-1)):
        with pytest.raises(ConfigError):
            opts.validate()
    LaunchOptions(dependency="afterok:12:13", driver="pkg.mod:fn", array=4).validate()


def test_array_dependency_and_extra_lines_reach_the_script(tmp_path: Path) -> None:
    run = _run(tmp_path, **{"slurm.extra_sbatch": ("--reservation=maint", "#SBATCH --nice")})
    text = render_sbatch(run, LaunchOptions(array=6, array_parallelism=2, dependency="afterok:77"))
    assert "#SBATCH --array=0-5%2" in text and "#SBATCH --dependency=afterok:77" in text
    assert "#SBATCH --reservation=maint" in text and "#SBATCH --nice\n" in text
    assert "%A_%a" in text  # array logs per task
    with pytest.raises(ConfigError, match="extra_sbatch"):
        extra_sbatch(("reservation=x",))


def test_relaunch_may_change_where_not_what(tmp_path: Path) -> None:
    run = _run(tmp_path)
    run_dir, existed = write_run_dir(run, driver="")
    assert not existed and (run_dir / "config.yaml").exists() and (run_dir / "code" / "olmo3hpc" / "job.py").exists()
    check_relaunch(replace_path(run, "slurm.partition", "other"))  # fine: resumes elsewhere
    with pytest.raises(ConfigError, match="optim"):
        check_relaunch(replace_path(run, "optim.lr", 1.0))
    wandb_id = (run_dir / "wandb_id").read_text()
    write_run_dir(run, driver="pkg:fn")
    assert (run_dir / "wandb_id").read_text() == wandb_id and (run_dir / "driver.txt").read_text().strip() == "pkg:fn"


def test_login_side_imports_no_heavy_frameworks() -> None:
    code = ("import sys, olmo3hpc.launch.submit, olmo3hpc.launch.jobs, olmo3hpc.launch.sites; "
            "print(sorted(m for m in ('torch','ray','vllm','deepspeed') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
