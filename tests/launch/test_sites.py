"""Site profiles: a cluster's facts become the run's slurm/ray values; bad profiles name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from olmo3hpc.catalog import load_recipe
from olmo3hpc.config import ConfigError, replace_path
from olmo3hpc.launch.sites import apply_site, site_names


def test_every_shipped_site_applies_to_a_recipe() -> None:
    assert {"local", "example_h100_pyxis", "example_a100_apptainer"} <= set(site_names())
    for name in site_names():
        run = apply_site(load_recipe("smoke_sft"), name)
        assert run.slurm.site == name


def test_site_values_replace_recipe_values_and_cli_overrides_win() -> None:
    run = apply_site(load_recipe("7b_think_rl"), "example_h100_pyxis")
    assert (run.slurm.partition, run.slurm.account, run.slurm.signal_delay_s) == ("gpu", "my-lab", 300)
    assert "NCCL_SOCKET_IFNAME=ib0" in run.slurm.env
    assert run.slurm.container.kind == "pyxis" and run.ray.ready_timeout_s == 600.0
    assert run.optim == load_recipe("7b_think_rl").optim  # a site never touches what is trained
    after_cli = replace_path(run, "slurm.partition", "gpu-long")
    assert after_cli.slurm.partition == "gpu-long" and after_cli.slurm.account == "my-lab"


def test_unknown_site_lists_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown site 'nowhere'.*local"):
        apply_site(load_recipe("smoke_sft"), "nowhere")


def test_bad_site_key_names_the_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "typo.toml"
    bad.write_text('[slurm]\npartiton = "gpu"\n')
    with pytest.raises(ConfigError, match=r"typo\.toml.*partiton"):
        apply_site(load_recipe("smoke_sft"), str(bad))
    worse = tmp_path / "section.toml"
    worse.write_text('[optim]\nlr = 1.0\n')
    with pytest.raises(ConfigError, match=r"section\.toml.*optim"):
        apply_site(load_recipe("smoke_sft"), str(worse))


def test_invalid_site_value_is_rejected_with_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "clock.toml"
    bad.write_text('[slurm]\ntime = "two days"\n')
    with pytest.raises(ConfigError, match=r"clock\.toml.*slurm\.time"):
        apply_site(load_recipe("smoke_sft"), str(bad))
