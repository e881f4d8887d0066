"""One learner rank: torch.distributed + model + DeepSpeed engine, checkpoints and HF export.

A stage subclasses `Learner` and adds its step methods (SFT `train_step`, DPO, GRPO); `LearnerGroup`
(engine/learners.py) runs the subclass as Ray actors and calls methods on every rank in parallel.

API for subclasses (all run inside the actor):
    self.run, self.plan, self.rank, self.world, self.device      # config, placement, torch.device
    self.tokenizer, self.model (the HF module), self.engine (DeepSpeedEngine)
    build_model() -> nn.Module        override to change the trained model (default: load_model(run.model))
    after_setup() -> None             override to build extras (e.g. a frozen reference model)
    set_lr(lr)                        set the optimizer's learning rate for the next step
    backward(loss)                    engine.backward without DeepSpeed's 1/grad_accum scaling
    optimizer_step() -> float|None    engine.step(); returns the pre-clip grad norm at a boundary
    to_device(batch) -> dict          tensors of a batch on this rank's device
    full_state_dict() -> dict         gathered CPU weights (ZeRO-3 safe) on rank 0, {} elsewhere
Driver-called (via LearnerGroup.call): address, setup (-> rank, params, where it runs), set_lr,
save_checkpoint, load_checkpoint, export_hf, ping.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import socket
from pathlib import Path
from typing import Any

import torch

from olmo3hpc.config import Plan, Run
from olmo3hpc.engine import modelfactory
from olmo3hpc.engine.cpuslots import CpuSlot, pin
from olmo3hpc.engine.placement import whereabouts
from olmo3hpc.engine.deepspeed_config import deepspeed_config

DS_TAG = "deepspeed"
"""Sub-directory of a checkpoint holding DeepSpeed's engine state."""


class Learner:
    """Base class of a stage's per-rank logic (instantiated as a Ray actor by LearnerGroup)."""

    def __init__(self, run: Run, plan: Plan, rank: int, local_rank: int) -> None:
        self.run, self.plan, self.rank, self.local_rank = run, plan, rank, local_rank
        self.world = plan.learners
        self.gpu = plan.device == "gpu"
        if not self.gpu:
            os.environ["DS_ACCELERATOR"] = "cpu"
            pin(CpuSlot(local_rank, plan.devices_per_node))  # learners take devices 0..L-1
        self.device = torch.device("cuda", 0) if self.gpu else torch.device("cpu")
        self.model: Any = None
        self.engine: Any = None
        self.tokenizer: Any = None
        self._hf_ds_config: Any = None

    # ----- driver-called -------------------------------------------------------------------------------
    def address(self) -> tuple[str, int]:
        """This node's IP and a free TCP port (rank 0's become MASTER_ADDR/PORT)."""
        import ray

        with socket.socket() as s:
            s.bind(("", 0))
            return ray.util.get_node_ip_address(), s.getsockname()[1]

    def ping(self) -> int:
        return self.rank

    def setup(self, master_addr: str, master_port: int) -> dict[str, Any]:
        """Join the process group, build the model and the DeepSpeed engine."""
        self._init_distributed(master_addr, master_port)
        self.tokenizer = modelfactory.load_tokenizer(self.run.model, self.run.meta.output_root)
        self.model = self.build_model()
        self.engine = self.build_engine(self.model)
        self.after_setup()
        return {"rank": self.rank, "params": sum(p.ds_numel if hasattr(p, "ds_numel") else p.numel()
                                                 for p in self.model.parameters()), **whereabouts()}

    def set_lr(self, lr: float) -> None:
        for group in self.engine.optimizer.param_groups:
            group["lr"] = lr

    def save_checkpoint(self, path: str) -> int:
        """Write this rank's part of a resumable checkpoint into `path` (every rank must call)."""
        self.engine.save_checkpoint(path, tag=DS_TAG, client_state={}, save_latest=False)
        rng = {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state() if self.gpu else None}
        torch.save(rng, Path(path) / f"rng_rank{self.rank:05d}.pt")
        return self.rank

    def load_checkpoint(self, path: str) -> int:
        load_path, _ = self.engine.load_checkpoint(path, tag=DS_TAG, load_lr_scheduler_states=False)
        if load_path is None:
            raise FileNotFoundError(f"rank {self.rank}: no DeepSpeed state under {path}/{DS_TAG}")
        rng_file = Path(path) / f"rng_rank{self.rank:05d}.pt"
        if rng_file.exists():  # absent when resuming on a different number of ranks
            rng = torch.load(rng_file, weights_only=False)
            torch.set_rng_state(rng["torch"])
            if self.gpu and rng["cuda"] is not None:
                torch.cuda.set_rng_state(rng["cuda"])
        return self.rank

    def export_hf(self, path: str) -> str | None:
        """Write the current weights as an HF safetensors directory (rank 0 writes; all ranks gather)."""
        state = self.full_state_dict()
        if self.rank != 0:
            return None
        return str(modelfactory.save_hf(state, self.model.config, self.tokenizer, path))

    # ----- subclass hooks and helpers -------------------------------------------------------------------
    def build_model(self) -> Any:
        cfg = self.run.model
        attn = _attn_implementation(cfg.attn_implementation, self.gpu)
        if self.run.deepspeed.zero_stage == 3 and not cfg.init.startswith("random:"):
            # Keep HfDeepSpeedConfig alive so from_pretrained loads straight into ZeRO-3 partitions.
            from transformers.integrations import HfDeepSpeedConfig

            self._hf_ds_config = HfDeepSpeedConfig(deepspeed_config(self.run, self.plan))
        model = modelfactory.load_model(cfg, seed=self.run.meta.seed, output_root=self.run.meta.output_root,
                                        tokenizer=self.tokenizer, attn_implementation=attn)
        model.config.use_cache = False
        if cfg.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        return model

    def build_engine(self, model: Any) -> Any:
        import deepspeed

        engine, *_ = deepspeed.initialize(model=model, model_parameters=[p for p in model.parameters()
                                                                         if p.requires_grad],
                                          config=deepspeed_config(self.run, self.plan))
        return engine

    def after_setup(self) -> None:
        """Hook: build anything else a stage needs once the engine exists."""

    def backward(self, loss: torch.Tensor) -> None:
        # The stage already normalized the loss over the rank's whole batch (OLMo-core semantics).
        self.engine.backward(loss, scale_wrt_gas=False)

    def optimizer_step(self) -> float | None:
        """Advance DeepSpeed's micro-step; at an accumulation boundary it clips and updates."""
        boundary = self.engine.is_gradient_accumulation_boundary()
        self.engine.step()
        if not boundary:
            return None
        norm = self.engine.get_global_grad_norm()
        return float(norm) if norm is not None else None

    def to_device(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        # Copy: arrays from Ray's object store are read-only views.
        return {k: torch.tensor(v).to(self.device, non_blocking=True) for k, v in batch.items()}

    def full_state_dict(self) -> dict[str, torch.Tensor]:
        """Full CPU weights under HF names on rank 0; ZeRO-3 parameters are gathered one at a time."""
        import deepspeed

        module, state = self.engine.module, {}
        for name, param in module.state_dict(keep_vars=True).items():
            partitioned = hasattr(param, "ds_id")
            gather = deepspeed.zero.GatheredParameters([param], modifier_rank=None) if partitioned \
                else contextlib.nullcontext()
            with gather:
                if self.rank == 0:
                    state[name] = param.detach().to("cpu", copy=True)
        return state

    def _init_distributed(self, master_addr: str, master_port: int) -> None:
        import deepspeed

        env = {"MASTER_ADDR": master_addr, "MASTER_PORT": str(master_port), "RANK": str(self.rank),
               "WORLD_SIZE": str(self.world), "LOCAL_RANK": str(0 if self.gpu else self.local_rank)}
        os.environ.update(env)  # Ray gives a GPU actor one visible device, hence LOCAL_RANK 0 there
        if not self.gpu:
            # No JIT build of DeepSpeed's shared-memory comm op on CPU: plain gloo collectives.
            deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False
        else:
            torch.cuda.set_device(0)
        timeout = datetime.timedelta(minutes=self.run.deepspeed.backend_timeout_min)
        deepspeed.init_distributed(dist_backend="nccl" if self.gpu else "gloo", auto_mpi_discovery=False,
                                   timeout=timeout)


def _attn_implementation(choice: str, gpu: bool) -> str:
    if choice != "auto":
        return choice
    if gpu:
        try:
            import flash_attn  # noqa: F401

            return "flash_attention_2"
        except ImportError:
            pass
    return "sdpa"
