"""Write the run directory before submitting: frozen config, code snapshot, logs folder.

The job reads only this directory. Relaunching the same run name resumes it, so an existing
config may differ only in where/how it runs (`slurm`, `ray`), never in what it trains.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import yaml

from olmo3hpc.atomic import write_text_atomic
from olmo3hpc.config import ConfigError, Run, dump_run
from olmo3hpc.launch.params import run_dir_of

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
REPO_ROOT = PACKAGE_ROOT.parent
_RELAUNCH_MAY_CHANGE = {"slurm", "ray"}
_SNAPSHOT_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


def check_relaunch(run: Run) -> None:
    """Refuse to reuse a run directory whose frozen config trains something else."""
    path = run_dir_of(run) / "config.yaml"
    if not path.exists():
        return
    old = yaml.safe_load(path.read_text()) or {}
    new = yaml.safe_load(dump_run(run))
    changed = sorted(k for k in set(old) | set(new) if k not in _RELAUNCH_MAY_CHANGE and old.get(k) != new.get(k))
    if changed:
        raise ConfigError(f"{path} already holds a different run (sections {changed} differ); relaunching "
                          f"resumes a run, so pick a new meta.name or restore the old values")


def write_run_dir(run: Run, driver: str) -> tuple[Path, bool]:
    """Create/refresh the run directory; returns (path, whether it existed before)."""
    run_dir = run_dir_of(run)
    existed = (run_dir / "config.yaml").exists()
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    write_text_atomic(run_dir / "config.yaml", dump_run(run))
    snapshot_code(run_dir / "code")
    driver_file = run_dir / "driver.txt"
    if driver:
        write_text_atomic(driver_file, driver + "\n")
    elif driver_file.exists():
        driver_file.unlink()
    wandb_id = run_dir / "wandb_id"
    if not wandb_id.exists():
        write_text_atomic(wandb_id, secrets.token_hex(4) + "\n")  # W&B run ids: 8 lowercase alphanumerics
    return run_dir, existed


def snapshot_code(dest: Path) -> None:
    """Copy the package (and recipes) the job will import: later edits in the checkout do not
    change a queued or requeued job."""
    tmp = dest.with_name(dest.name + ".new")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(PACKAGE_ROOT, tmp / PACKAGE_ROOT.name, ignore=_SNAPSHOT_IGNORE)
    if (REPO_ROOT / "recipes").is_dir():
        shutil.copytree(REPO_ROOT / "recipes", tmp / "recipes", ignore=_SNAPSHOT_IGNORE)
    old = dest.with_name(dest.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        os.replace(dest, old)
    os.replace(tmp, dest)
    shutil.rmtree(old, ignore_errors=True)


def remove_new_run_dir(run_dir: Path) -> None:
    """Undo write_run_dir for a run directory this launch created (its submission failed)."""
    shutil.rmtree(run_dir, ignore_errors=True)
