"""Verifier lookup and routing: a row's `dataset` names its verifier(s), `ground_truth` their labels.

Names are lower-cased; `remap` entries `old=new` make rows labelled `old` use verifier `new`
(open-instruct `--remap_verifier`). The reward of a row is the sum over its (verifier, label) pairs of
`verification_reward * score * weight`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from olmo3hpc.rewards.ifeval import ifeval_score
from olmo3hpc.rewards.math import gsm8k_score, math_score, strict_math_score
from olmo3hpc.rewards.text_match import string_f1_score, string_matcher_score

Verifier = Callable[[str, Any, "str | None"], float]

# Pure-CPU verifiers: run in the scorer's process pool, looked up there by name.
CPU_VERIFIERS: dict[str, Verifier] = {
    "math": math_score,
    "strict_math": strict_math_score,
    "gsm8k": gsm8k_score,
    "ifeval": ifeval_score,
    "string_f1": string_f1_score,
    "string_matcher": string_matcher_score,
}
CODE_VERIFIERS = ("code", "code_stdio")
JUDGE_PREFIX = "general-"


@dataclass(frozen=True)
class Sample:
    """One scored response. `dataset` and `ground_truth` are parallel when `dataset` is a list."""

    id: str | int
    prediction: str
    dataset: str | Sequence[str]
    ground_truth: Any
    query: str | None = None


@dataclass
class SampleReward:
    reward: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def parse_remap(remap: Sequence[str]) -> dict[str, str]:
    """`("old=new", ...)` -> {old: new}, lower-cased."""
    table = {}
    for item in remap:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise ValueError(f"reward.remap entry {item!r} is not `old=new`")
        table[old.strip().lower()] = new.strip().lower()
    return table


def resolve_name(name: str, remap: Mapping[str, str]) -> str:
    key = name.strip().lower()
    return remap.get(key, key)


def verifier_pairs(sample: Sample) -> list[tuple[str, Any]]:
    """(verifier name, label) pairs of a row; a list `dataset` needs a parallel `ground_truth` list."""
    if isinstance(sample.dataset, str):
        return [(sample.dataset, sample.ground_truth)]
    names = list(sample.dataset)
    labels = sample.ground_truth
    if not isinstance(labels, (list, tuple)) or len(labels) != len(names):
        count = len(labels) if isinstance(labels, (list, tuple)) else "a non-list"
        raise ValueError(f"sample {sample.id}: dataset lists {len(names)} verifiers but ground_truth has {count}")
    return list(zip(names, labels))


def kind_of(name: str) -> str:
    """'cpu', 'code' or 'judge' for a resolved verifier name; raises for unknown names."""
    if name in CPU_VERIFIERS:
        return "cpu"
    if name in CODE_VERIFIERS:
        return "code"
    if name.startswith(JUDGE_PREFIX):
        return "judge"
    known = sorted([*CPU_VERIFIERS, *CODE_VERIFIERS, f"{JUDGE_PREFIX}<type>"])
    raise KeyError(f"unknown verifier {name!r}; known: {', '.join(known)}")


def score_cpu(name: str, prediction: str, label: Any, query: str | None) -> float:
    """Entry point for pool workers (top-level so it pickles)."""
    return float(CPU_VERIFIERS[name](prediction, label, query))
