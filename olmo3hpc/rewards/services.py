"""The reward services a job needs, started from `RewardConfig` and stopped with the job.

Code: `reward.code_api_url`, else a local `CodeService` with `reward.code_workers` workers on this
node's CPU cores. Judge: `reward.judge_url`, else (when `reward.judge_gpus > 0`) a `JudgeServer` for
`reward.judge_model` on the GPUs visible to this process (the caller sets CUDA_VISIBLE_DEVICES).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType

from olmo3hpc.config.base import ConfigError
from olmo3hpc.config.reward import RewardConfig
from olmo3hpc.rewards.code_service import CodeService
from olmo3hpc.rewards.judge import JudgeClient, JudgeSettings
from olmo3hpc.rewards.judge_server import JudgeServer
from olmo3hpc.rewards.registry import kind_of, parse_remap, resolve_name
from olmo3hpc.rewards.scorer import RewardScorer


def needed_services(dataset_names: Iterable[str], remap: tuple[str, ...] = ()) -> tuple[bool, bool]:
    """(needs code service, needs judge) for the verifier names a dataset mix uses."""
    table = parse_remap(remap)
    kinds = {kind_of(resolve_name(name, table)) for name in dataset_names}
    return "code" in kinds, "judge" in kinds


class RewardServices:
    """Owns the services it started; `scorer()` builds a `RewardScorer` wired to them."""

    def __init__(self, cfg: RewardConfig) -> None:
        cfg.validate()
        self.cfg = cfg
        self.code_url: str | None = cfg.code_api_url
        self.judge_url: str | None = cfg.judge_url
        self._code: CodeService | None = None
        self._judge: JudgeServer | None = None

    def start(self, need_code: bool, need_judge: bool) -> None:
        if need_judge and self.judge_url is None and self.cfg.judge_gpus <= 0:
            raise ConfigError("general-* verifiers need reward.judge_url or reward.judge_gpus > 0")
        if need_code and self.code_url is None:
            self._code = CodeService(workers=self.cfg.code_workers)
            self.code_url = self._code.start()
        if need_judge and self.judge_url is None:
            self._judge = JudgeServer(self.cfg.judge_model, tensor_parallel=self.cfg.judge_tensor_parallel)
            self.judge_url = self._judge.start(timeout=self.cfg.judge_timeout_s + 900)

    def judge_client(self) -> JudgeClient | None:
        if self.judge_url is None:
            return None
        c = self.cfg
        return JudgeClient(JudgeSettings(url=self.judge_url, model=c.judge_model, timeout_s=c.judge_timeout_s,
                                         max_tokens=c.judge_max_tokens, max_context=c.judge_max_context,
                                         temperature=c.judge_temperature))

    def scorer(self, weights: Mapping[str, float] | None = None) -> RewardScorer:
        return RewardScorer(self.cfg, code_url=self.code_url, judge=self.judge_client(), weights=weights)

    def stop(self) -> None:
        for service in (self._code, self._judge):
            if service is not None:
                service.stop()
        self._code = self._judge = None

    def __enter__(self) -> RewardServices:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
