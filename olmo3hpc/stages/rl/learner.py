"""One GRPO learner rank (a Ray actor under engine.learners.LearnerGroup, DeepSpeed inside).

Driver-called methods (through LearnerGroup.call / call_sharded):
    train_step(rows, lr) -> dict of floats   one training step on this rank's packed rows
    weight_manifest() -> list[ParamMeta]     names/dtypes/shapes in broadcast order (rank 0's answer is used)
    init_weight_sync(group) -> None          rank 0 joins the learner->engine broadcast group
    send_weights() -> int                    every rank gathers (ZeRO-3), rank 0 broadcasts
A training step: the rows become micro-batches of `train.micro_batch_size`; they are split into
`rl.num_mini_batches` optimizer steps and the whole set is passed `rl.num_epochs` times. With one
mini-batch and one epoch the "old" log-probs are the detached first-pass ones (ratio 1, as
open-instruct); otherwise they are computed under the step's starting policy before any update.
"""

from __future__ import annotations

from typing import Any

import torch

from olmo3hpc.data.templates import set_chat_template
from olmo3hpc.engine.learner import Learner
from olmo3hpc.stages.rl.batch import micro_batches
from olmo3hpc.stages.rl.loss import LossSettings, policy_loss, token_logprobs
from olmo3hpc.stages.rl.weight_sync import ParamMeta, SyncGroup, WeightSender, broadcast_params, param_manifest

_SHIFTED = ("mask", "advantages", "logp_engine")


class GRPOLearner(Learner):
    def after_setup(self) -> None:
        if self.run.model.chat_template != "tokenizer":
            set_chat_template(self.tokenizer, self.run.model.chat_template)  # exported with the model
        rl = self.run.rl
        self.settings = LossSettings(rl.clip_lower, rl.clip_higher, rl.tis_cap, rl.kl_beta, rl.kl_estimator)
        self.temperature = self.run.rollout.temperature
        self.pad_id = int(self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0)
        self.reference = self._build_reference() if rl.kl_beta > 0 else None
        self.sender: WeightSender | None = None

    # ----- training ------------------------------------------------------------------------------------
    def train_step(self, rows: list[dict[str, torch.Tensor]], lr: float) -> dict[str, float]:
        """Policy-gradient update(s) on this rank's rows; returns averaged loss statistics."""
        self.set_lr(lr)
        self.engine.train()
        micro = micro_batches(rows, self.run.train.micro_batch_size, self.pad_id)
        batches = [self._shift(self.to_device(b)) for b in micro]
        recompute = self.run.rl.num_mini_batches > 1 or self.run.rl.num_epochs > 1
        for batch in batches:
            if recompute:
                batch["logp_old"] = self._logprobs(self.engine, batch, grad=False)
            if self.reference is not None:
                batch["logp_ref"] = self._logprobs(self.reference, batch, grad=False)
        totals: dict[str, float] = {}
        for _ in range(self.run.rl.num_epochs):
            for group in _even_groups(len(batches), self.run.rl.num_mini_batches):
                self._optimizer_step([batches[i] for i in group], recompute, totals)
        updates = max(totals.pop("_micro", 1.0), 1.0)
        stats = {k: v / updates for k, v in totals.items() if k != "grad_norm"}
        stats["grad_norm"] = totals.get("grad_norm", 0.0)
        stats["response_tokens"] = float(sum(int(b["mask"].sum()) for b in batches))
        return stats

    def _optimizer_step(self, group: list[dict[str, torch.Tensor]], have_old: bool, totals: dict[str, float]) -> None:
        """Accumulate the group's micro-batches into one optimizer step (DeepSpeed clips and averages ranks)."""
        for j, batch in enumerate(group):
            logp = self._logprobs(self.engine, batch, grad=True)
            inputs = dict(batch)
            if not have_old:
                inputs["logp_old"] = logp.detach()
            out = policy_loss(logp, inputs, self.settings)
            last = j == len(group) - 1
            # The boundary is set by hand: the number of micro-batches varies from step to step.
            self.engine.set_gradient_accumulation_boundary(last)
            self.backward(out.loss / len(group))
            if last:
                norm = self.optimizer_step()
                totals["grad_norm"] = norm if norm is not None else 0.0
            totals["policy_loss"] = totals.get("policy_loss", 0.0) + float(out.loss.detach())
            for key, value in out.stats.items():
                totals[key] = totals.get(key, 0.0) + float(value)
            totals["_micro"] = totals.get("_micro", 0.0) + 1.0

    def _logprobs(self, model: Any, batch: dict[str, torch.Tensor], grad: bool) -> torch.Tensor:
        """Log-prob of every next token under logits / sampling temperature: [B, T-1]."""
        with torch.set_grad_enabled(grad):
            logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits
            return token_logprobs(logits[:, :-1], batch["input_ids"][:, 1:], self.temperature)

    @staticmethod
    def _shift(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Per-token fields aligned with predictions: position t predicts token t+1."""
        return {**batch, **{k: batch[k][:, 1:] for k in _SHIFTED}}

    def _build_reference(self) -> Any:
        """Frozen copy of the initial policy for the KL term (never used by the OLMo 3 recipes: beta 0)."""
        import deepspeed

        from olmo3hpc.engine.deepspeed_config import deepspeed_config

        model = self.build_model()
        model.requires_grad_(False)
        config = {k: v for k, v in deepspeed_config(self.run, self.plan).items() if k != "optimizer"}
        if self.run.deepspeed.zero_stage != 3:
            config["zero_optimization"] = {"stage": 0}
        engine, *_ = deepspeed.initialize(model=model, config=config)
        engine.eval()
        return engine

    # ----- weight sync to the rollout engines ----------------------------------------------------------
    def weight_manifest(self) -> list[ParamMeta]:
        return param_manifest(self.engine.module)

    def init_weight_sync(self, group: SyncGroup) -> None:
        """Rank 0 joins the broadcast group (blocks until every engine joined too)."""
        if self.rank == 0:
            self.sender = WeightSender(group)

    def send_weights(self) -> int:
        """Every rank takes part in the ZeRO-3 gather; rank 0 broadcasts each full parameter."""
        return broadcast_params(self.engine.module, self.sender, self.run.deepspeed.gather_whole_model)


def _even_groups(count: int, parts: int) -> list[list[int]]:
    """Split range(count) into at most `parts` consecutive non-empty groups of near-equal size."""
    parts = max(1, min(parts, count))
    base, extra = divmod(count, parts)
    groups, start = [], 0
    for i in range(parts):
        size = base + (1 if i < extra else 0)
        groups.append(list(range(start, start + size)))
        start += size
    return [g for g in groups if g]
