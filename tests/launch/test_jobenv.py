"""The environment handed to `ray start` and to the driver."""

from __future__ import annotations

import pytest

from olmo3hpc.launch.bootstrap import SOCKET_PATH_LIMIT, object_store_bytes, short_temp_dir
from olmo3hpc.launch.jobenv import node_environment, parse_env_lines, ray_settings


def test_launcher_variables_are_scrubbed_and_site_env_added() -> None:
    inherited = {"SLURM_CPU_BIND": "cores", "SLURM_PROCID": "0", "OMPI_COMM_WORLD_RANK": "0", "PMI_RANK": "0",
                 "RANK": "3", "MASTER_PORT": "1", "CUDA_VISIBLE_DEVICES": "NoDevFiles", "HOME": "/root",
                 "HF_TOKEN": "secret", "PATH": "/bin"}
    env = node_environment(inherited, parse_env_lines(("NCCL_SOCKET_IFNAME=ib0", "NCCL_IB_HCA=mlx5_0=1")))
    assert env == {"HOME": "/root", "HF_TOKEN": "secret", "PATH": "/bin", "NCCL_SOCKET_IFNAME": "ib0",
                   "NCCL_IB_HCA": "mlx5_0=1"}


def test_ray_auth_mode_is_always_explicit() -> None:
    assert ray_settings({})["RAY_AUTH_MODE"] == "disabled"
    assert ray_settings({"RAY_AUTH_MODE": "token"})["RAY_AUTH_MODE"] == "token"
    assert ray_settings({})["RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S"] == "0"


def test_temp_dir_is_short_and_long_roots_are_refused() -> None:
    path = short_temp_dir("/tmp", "123456r2", 3)
    assert path == "/tmp/o3h-123456r2-3" and len(path) < 40
    with pytest.raises(ValueError, match=str(SOCKET_PATH_LIMIT)):
        short_temp_dir("/scratch/" + "x" * 60, "123456r0", 0)


def test_object_store_is_capped() -> None:
    assert object_store_bytes(100, 10**12) == 100 * 1024 * 1024
    assert object_store_bytes(0, 2 * 1024**4) == 20 * 1024**3
    assert object_store_bytes(0, 8 * 1024**3) == 8 * 1024**3 // 10


def test_node_ip_of_a_named_interface() -> None:
    from olmo3hpc.launch.bootstrap import interface_ip

    assert interface_ip("lo") == "127.0.0.1"
    with pytest.raises(ValueError, match="OLMO3HPC_NODE_IFNAME=nope0"):
        interface_ip("nope0")


def test_requeue_exit_code_matches_the_preemption_contract() -> None:
    from olmo3hpc.engine.preempt import REQUEUE_EXIT_CODE
    from olmo3hpc.launch.head import REQUEUE_EXIT_CODE as launcher_code

    assert launcher_code == REQUEUE_EXIT_CODE
