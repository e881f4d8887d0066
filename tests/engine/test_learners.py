"""A real Ray cluster and real DeepSpeed learners over gloo: placement, lockstep calls, fast failure."""

from __future__ import annotations

import json
import os
import sys
import time

import ray.cloudpickle as cloudpickle
import pytest

from olmo3hpc.config import (DataConfig, DeepSpeedConfig, MetaConfig, ModelConfig, PlacementConfig, SFTRun,
                             SlurmConfig, plan)
from olmo3hpc.engine.cluster import connect
from olmo3hpc.engine.learner import Learner
from olmo3hpc.engine.placement import whereabouts
from olmo3hpc.engine.learners import LearnerError, LearnerGroup

pytestmark = pytest.mark.slow
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import test modules


def tiny_run(tmp_path, learners: int = 2, zero: int = 2) -> SFTRun:
    return SFTRun(
        meta=MetaConfig(name="learners", output_root=str(tmp_path)),
        model=ModelConfig(init="random:tiny", tokenizer="random:bpe", dtype="float32", gradient_checkpointing=False),
        data=DataConfig(mixer_list=("unused.jsonl", "1.0")),
        deepspeed=DeepSpeedConfig(zero_stage=zero),
        slurm=SlurmConfig(nodes=1, gpus_per_node=0, time="00:30:00", signal_delay_s=60),
        placement=PlacementConfig(cpu_devices_per_node=learners),
    )


class ProbeLearner(Learner):
    """Group mechanics only: joins torch.distributed like every learner, builds no model."""

    def setup(self, master_addr: str, master_port: int) -> dict:
        self._init_distributed(master_addr, master_port)
        return {"rank": self.rank, **whereabouts()}

    def identity(self) -> dict:
        import torch.distributed as dist

        return {"rank": self.rank, "world": dist.get_world_size(), "env_rank": os.environ["RANK"],
                "pid": os.getpid()}

    def fail_on(self, bad_rank: int, how: str) -> None:
        import torch.distributed as dist

        if self.rank == bad_rank:
            if how == "exit":
                os._exit(3)
            raise ValueError(f"boom on {self.rank}")
        dist.barrier()  # the healthy rank blocks in a collective its dead peer never joins


@pytest.fixture(scope="module")
def ray_cluster():
    handle = connect()
    yield handle
    handle.shutdown()


def test_group_places_ranks_and_runs_calls_in_lockstep(ray_cluster, tmp_path):
    run = tiny_run(tmp_path)
    group = LearnerGroup(run, plan(run), ProbeLearner, setup_timeout_s=600)
    try:
        ids = group.call("identity")
        assert [i["rank"] for i in ids] == [0, 1] and {i["world"] for i in ids} == {2}
        assert [i["env_rank"] for i in ids] == ["0", "1"] and ids[0]["pid"] != ids[1]["pid"]
        assert group.call("ping") == [0, 1]
        assert [(p["rank"], p["node_index"], p["pid"]) for p in group.placement] == [
            (0, 0, ids[0]["pid"]), (1, 0, ids[1]["pid"])]  # where they really run: node:0, these processes
        record = json.loads(group.write_placement(tmp_path / "run").read_text())
        assert record == {"learners": group.placement, "engines": []}
        with pytest.raises(ValueError, match="3 shards for 2 learners"):
            group.call_sharded("ping", [1, 2, 3])
    finally:
        group.shutdown()


@pytest.mark.parametrize("how", ["raise", "exit"])
def test_a_failing_rank_raises_at_once_instead_of_hanging(ray_cluster, tmp_path, how):
    run = tiny_run(tmp_path)
    group = LearnerGroup(run, plan(run), ProbeLearner, setup_timeout_s=600)
    started = time.time()
    with pytest.raises(LearnerError, match="rank 1"):
        group.call("fail_on", 1, how)
    assert time.time() - started < 30  # gloo's own timeout would be deepspeed.backend_timeout_min
    assert group.actors == []
