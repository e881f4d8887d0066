"""Site profiles: `slurm/sites/<name>.toml` holds one cluster's facts.

A profile has `[slurm]` (partition, account, qos, constraint, gpus_per_node, setup lines, NCCL/IB
`env`, extra `#SBATCH` lines, ...), optionally `[slurm.container]` and `[ray]`, with the same field
names as `olmo3hpc.config.SlurmConfig`/`RayConfig`. Its values replace the recipe's (a recipe is
cluster-agnostic); CLI overrides are applied after `apply_site`.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from olmo3hpc.config import ConfigError, Run, run_from_dict, run_to_dict

SITES_DIR = Path(os.environ.get("OLMO3HPC_SITES", Path(__file__).resolve().parents[2] / "slurm" / "sites"))
_SECTIONS = ("slurm", "ray")


def site_names() -> list[str]:
    return sorted(p.stem for p in SITES_DIR.glob("*.toml"))


def site_path(name: str) -> Path:
    path = Path(name) if name.endswith(".toml") else SITES_DIR / f"{name}.toml"
    if not path.is_file():
        raise ConfigError(f"unknown site {name!r}: no {path} (known: {', '.join(site_names()) or 'none'})")
    return path


def load_site(name: str) -> dict[str, Any]:
    path = site_path(name)
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: {e}") from e
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {unknown}; a site sets only {list(_SECTIONS)}")
    return data


def apply_site(run: Run, name: str) -> Run:
    """The run with the site's values in its slurm/ray sections and `slurm.site` set to `name`."""
    site = load_site(name)
    data = run_to_dict(run)
    for section in _SECTIONS:
        data[section] = _merge(data[section], site.get(section, {}))
    data["slurm"]["site"] = Path(name).stem
    try:
        new = run_from_dict(data, source=f"site {site_path(name)}")
        new.validate()
    except ConfigError as e:
        raise ConfigError(f"site {site_path(name)}: {e}") from e
    return new


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = _merge(base[key], value)
        else:
            out[key] = value
    return out
