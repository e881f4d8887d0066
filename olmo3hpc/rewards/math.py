"""Math verifiers: `math` (boxed / Minerva / $...$ / Answer: candidates), `strict_math`, `gsm8k`."""

from __future__ import annotations

from olmo3hpc.rewards.math_equiv import hendrycks_is_equiv, is_equiv
from olmo3hpc.rewards.math_extract import (
    INVALID_ANSWER,
    answer_line,
    boxed_answer,
    last_dollar_span,
    last_number,
    minerva_answer,
)
from olmo3hpc.rewards.math_normalize import normalize_final_answer

SYMPY_TIMEOUT_S = 5.0


def candidate_answers(prediction: str) -> list[str]:
    """Answer candidates in open-instruct's order; the whole output is the last resort."""
    # Like open-instruct, the whole output is searched (the think section is not removed): the last
    # \boxed{} of a thinking model is the one after </think> whenever it boxes its final answer.
    text = prediction
    candidates: list[str] = []
    boxed = boxed_answer(text)
    if boxed is not None:
        candidates.append(boxed)
    minerva = minerva_answer(text)
    if minerva != INVALID_ANSWER:
        candidates.append(normalize_final_answer(minerva))
    line = answer_line(text)
    if line is not None:
        candidates.append(line)
    if not candidates:
        span = last_dollar_span(text)
        if span is not None:
            candidates.append(normalize_final_answer(span))
    if not candidates:
        candidates.extend([normalize_final_answer(text), text])
    return candidates


def _matches(answer: str, label: str) -> bool:
    return hendrycks_is_equiv(answer, label) or is_equiv(answer, label, timeout=SYMPY_TIMEOUT_S)


def _labels(label: object) -> list[str]:
    if isinstance(label, (list, tuple)):
        return [str(x) for x in label]
    return [str(label)]


def math_score(prediction: str, label: object, query: str | None = None) -> float:
    """1.0 if any candidate answer equals any label under either equivalence, else 0.0."""
    labels = _labels(label)
    for answer in candidate_answers(prediction):
        if any(_matches(answer, target) for target in labels):
            return 1.0
    return 0.0


def strict_math_score(prediction: str, label: object, query: str | None = None) -> float:
    """Only the Minerva `Final Answer: The final answer is X. I hope it is correct.` pattern counts."""
    answer = minerva_answer(prediction)
    if answer == INVALID_ANSWER:
        return 0.0
    answer = normalize_final_answer(answer)
    return 1.0 if any(_matches(answer, target) for target in _labels(label)) else 0.0


def _as_number(text: str) -> float | None:
    try:
        return float(text.replace(",", "").strip().rstrip("."))
    except ValueError:
        return None


def gsm8k_score(prediction: str, label: object, query: str | None = None) -> float:
    """The last number in the output equals the label (numerically, so `18.0` matches `18`)."""
    extracted = last_number(prediction)
    if extracted is None:
        return 0.0
    for target in _labels(label):
        if extracted.lower() == target.strip().lower():
            return 1.0
        got, want = _as_number(extracted), _as_number(target)
        if got is not None and want is not None and abs(got - want) <= 1e-9 * max(1.0, abs(want)):
            return 1.0
    return 0.0
