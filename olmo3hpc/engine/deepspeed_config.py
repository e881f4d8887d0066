"""The DeepSpeed JSON of a run's learners: a pure function, golden-file tested (tests/golden/).

API: deepspeed_config(run, plan) -> dict, ready for `deepspeed.initialize(config=...)`.
The learning rate in the JSON is the peak; the learner sets each step's value from engine.schedule,
so there is no DeepSpeed scheduler (one schedule for every stage, resumable from the step count).
"""

from __future__ import annotations

from typing import Any

from olmo3hpc.config import Plan, Run


def deepspeed_config(run: Run, plan: Plan) -> dict[str, Any]:
    """DeepSpeed config: ZeRO stage/offload/hpZ, bf16 per model.dtype, AdamW, clipping, accumulation."""
    gpu = plan.device == "gpu"
    return {
        "train_micro_batch_size_per_gpu": run.train.micro_batch_size,
        "gradient_accumulation_steps": plan.grad_accum,
        "train_batch_size": run.train.micro_batch_size * plan.grad_accum * plan.learners,
        "gradient_clipping": run.optim.max_grad_norm,
        # Follows model.dtype (the learner builds the model in it): bf16 on GPU recipes, fp32 for CPU smokes.
        "bf16": {"enabled": run.model.dtype == "bfloat16"},
        "fp16": {"enabled": False},
        "zero_optimization": _zero_section(run, gpu),
        "optimizer": _optimizer_section(run, gpu),
        "steps_per_print": 1 << 30,  # the stage prints its own progress line
        "wall_clock_breakdown": False,
        "zero_allow_untested_optimizer": True,
    }


def _zero_section(run: Run, gpu: bool) -> dict[str, Any]:
    ds = run.deepspeed
    zero: dict[str, Any] = {"stage": ds.zero_stage}
    if ds.zero_stage >= 2:
        # Overlapping reduction with backward needs CUDA streams; on CPU it only adds buffers.
        zero.update(overlap_comm=gpu, contiguous_gradients=True, reduce_scatter=True)
    if ds.zero_stage == 3:
        zero.update(
            stage3_gather_16bit_weights_on_model_save=False,  # exports gather parameters explicitly
            stage3_prefetch_bucket_size=5e7,
            stage3_param_persistence_threshold=1e4,
            stage3_max_live_parameters=1e9,
            stage3_max_reuse_distance=1e9,
        )
        if ds.hpz_partition_size > 1:
            zero["zero_hpz_partition_size"] = ds.hpz_partition_size
    if ds.offload_optimizer and ds.zero_stage >= 1:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": True}
    if ds.offload_params:
        zero["offload_param"] = {"device": "cpu", "pin_memory": True}
    return zero


def _optimizer_section(run: Run, gpu: bool) -> dict[str, Any]:
    o = run.optim
    params: dict[str, Any] = {"lr": o.lr, "betas": list(o.betas), "eps": o.eps, "weight_decay": o.weight_decay}
    if not gpu:
        # torch's AdamW: DeepSpeed's default FusedAdam would JIT-compile a C++ op on CPU (~1 min).
        params["torch_adam"] = True
    return {"type": "AdamW", "params": params}
