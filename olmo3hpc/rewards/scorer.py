"""Asynchronous reward computation beside generation.

`RewardScorer(cfg, ...).submit(samples)` returns a Future of per-sample rewards at once; CPU verifiers run
in a spawned process pool (so a large trainer process is never forked), code and judge verifiers (HTTP)
in a thread pool. A verifier that raises or overruns `verifier_timeout_s` scores 0 for its sample, logged
with the sample id, and the rest of the batch continues.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing as mp
import signal
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from olmo3hpc.config.reward import RewardConfig
from olmo3hpc.rewards.code import CodeVerifier
from olmo3hpc.rewards.judge import JudgeClient, JudgeVerifier
from olmo3hpc.rewards.registry import (
    JUDGE_PREFIX,
    Sample,
    SampleReward,
    kind_of,
    parse_remap,
    resolve_name,
    score_cpu,
    verifier_pairs,
)

log = logging.getLogger(__name__)
_BACKSTOP_SLACK_S = 30.0


class _VerifierAlarm(BaseException):
    """Raised by SIGALRM; a BaseException so verifiers' own `except Exception` blocks cannot swallow it."""


def _raise_alarm(signum: int, frame: object) -> None:
    raise _VerifierAlarm


def score_cpu_bounded(name: str, prediction: str, label: Any, query: str | None, timeout: float) -> float:
    """Pool-worker entry: a CPU verifier under SIGALRM (pool workers run tasks on their main thread)."""
    previous = signal.signal(signal.SIGALRM, _raise_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return score_cpu(name, prediction, label, query)
    except _VerifierAlarm:
        raise TimeoutError(f"verifier {name} exceeded {timeout:.1f}s") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _warm_worker() -> None:
    import olmo3hpc.rewards.registry  # noqa: F401  (pay sympy/regex imports before the first batch)


class RewardScorer:
    """Routes samples to verifiers and sums `verification_reward * score * weight` per sample."""

    def __init__(self, cfg: RewardConfig, code_url: str | None = None, judge: JudgeClient | None = None,
                 weights: Mapping[str, float] | None = None) -> None:
        self.cfg = cfg
        self._remap = parse_remap(cfg.remap)
        self._weights = {k.lower(): float(v) for k, v in (weights or {}).items()}
        self._code_url, self._judge = code_url, judge
        self._pool = self._new_pool()
        self._io = ThreadPoolExecutor(max_workers=64, thread_name_prefix="reward-io")
        self._coordinator = ThreadPoolExecutor(max_workers=2, thread_name_prefix="reward-batch")

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max(1, self.cfg.reward_workers), mp_context=mp.get_context("spawn"),
                                   initializer=_warm_worker)

    def submit(self, samples: Sequence[Sample]) -> Future[list[SampleReward]]:
        """Start scoring and return immediately; the Future resolves to one SampleReward per sample."""
        return self._coordinator.submit(self._score_batch, list(samples))

    async def score(self, samples: Sequence[Sample]) -> list[SampleReward]:
        return await asyncio.wrap_future(self.submit(samples))

    def _io_verifier(self, kind: str, name: str) -> Any:
        if kind == "code":
            if self._code_url is None:
                raise RuntimeError("code verifier needs a code service (reward.code_api_url or a started CodeService)")
            return CodeVerifier(self._code_url, stdio=name == "code_stdio",
                                max_execution_time=self.cfg.code_max_execution_time,
                                threshold=self.cfg.code_pass_rate_threshold)
        if self._judge is None:
            raise RuntimeError(f"{name} needs an LLM judge (reward.judge_url or reward.judge_gpus > 0)")
        return JudgeVerifier(self._judge, name.removeprefix(JUDGE_PREFIX))

    def _launch(self, name: str, sample: Sample, label: Any) -> tuple[str, Future]:
        kind = kind_of(name)
        if kind == "cpu":
            args = (name, sample.prediction, label, sample.query, self.cfg.verifier_timeout_s)
            return kind, self._pool.submit(score_cpu_bounded, *args)
        return kind, self._io.submit(self._io_verifier(kind, name), sample.prediction, label, sample.query)

    def _score_batch(self, samples: list[Sample]) -> list[SampleReward]:
        rewards = [SampleReward() for _ in samples]
        tasks: list[tuple[int, str, str, Future]] = []
        for index, sample in enumerate(samples):
            try:
                for raw, label in verifier_pairs(sample):
                    name = resolve_name(raw, self._remap)
                    kind, future = self._launch(name, sample, label)
                    tasks.append((index, name, kind, future))
            except (ValueError, KeyError, RuntimeError) as exc:
                self._fail(rewards[index], sample.id, "routing", exc)
        cpu_count = sum(kind == "cpu" for _, _, kind, _ in tasks)
        rounds = cpu_count / max(1, self.cfg.reward_workers) + 1
        deadline = time.monotonic() + self.cfg.verifier_timeout_s * rounds + _BACKSTOP_SLACK_S
        for index, name, kind, future in tasks:
            self._collect(rewards[index], samples[index].id, name, kind, future, deadline)
        return rewards

    def _collect(self, reward: SampleReward, sample_id: Any, name: str, kind: str, future: Future,
                 deadline: float) -> None:
        try:
            timeout = max(0.0, deadline - time.monotonic()) if kind == "cpu" else None
            score = float(future.result(timeout=timeout))
        except Exception as exc:  # any verifier failure scores 0 for this pair; the batch continues
            if isinstance(exc, FutureTimeout) and not future.done():  # the wait expired, not the verifier
                exc = TimeoutError("verifier overran the batch deadline; restarting the reward pool")
                self._restart_pool()
            self._fail(reward, sample_id, name, exc)
            return
        reward.scores[name] = score
        reward.reward += self.cfg.verification_reward * score * self._weights.get(name, 1.0)

    def _fail(self, reward: SampleReward, sample_id: Any, name: str, exc: BaseException) -> None:
        log.warning("reward: sample %s verifier %s scored 0: %s: %s", sample_id, name, type(exc).__name__, exc)
        reward.scores.setdefault(name, 0.0)
        reward.errors.append(f"{name}: {type(exc).__name__}: {exc}")

    def _restart_pool(self) -> None:
        """A worker stuck in C code ignores SIGALRM: kill the pool's processes and start a fresh pool."""
        old, self._pool = self._pool, self._new_pool()
        processes = list(getattr(old, "_processes", {}).values())  # no public API to kill stuck workers
        old.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.kill()

    def close(self) -> None:
        self._coordinator.shutdown(wait=True)
        self._io.shutdown(wait=True)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> RewardScorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

