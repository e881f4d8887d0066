"""`string_matcher` and `string_f1` verifiers on the answer part of a response."""

from __future__ import annotations

import re
import string
from collections import Counter

from olmo3hpc.rewards.ifeval.registry import remove_thinking


def _normalize(text: str) -> str:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def string_matcher_score(prediction: str, label: object, query: str | None = None) -> float:
    """1.0 when the answer equals the label (case and surrounding whitespace ignored)."""
    return float(remove_thinking(prediction).strip().lower() == str(label).strip().lower())


def string_f1_score(prediction: str, label: object, query: str | None = None) -> float:
    """SQuAD-style token F1 between the normalized answer and label."""
    predicted = _normalize(remove_thinking(prediction)).split()
    gold = _normalize(str(label)).split()
    common = sum((Counter(predicted) & Counter(gold)).values())
    if not predicted or not gold or common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)
