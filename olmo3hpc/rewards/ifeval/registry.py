"""The IFEval instruction registry, label parsing and the `ifeval` verifier score."""

from __future__ import annotations

import ast
import inspect
import json
import re
from collections.abc import Callable
from typing import Any

from olmo3hpc.rewards.ifeval import checks_content as content
from olmo3hpc.rewards.ifeval import checks_format as fmt

Checker = Callable[..., bool]

INSTRUCTIONS: dict[str, Checker] = {
    "keywords:existence": content.keywords_existence,
    "keywords:frequency": content.keywords_frequency,
    "keywords:forbidden_words": content.keywords_forbidden_words,
    "keywords:letter_frequency": content.keywords_letter_frequency,
    "language:response_language": content.response_language,
    "length_constraints:number_sentences": content.number_sentences,
    "length_constraints:number_paragraphs": content.number_paragraphs,
    "length_constraints:number_words": content.number_words,
    "length_constraints:nth_paragraph_first_word": content.nth_paragraph_first_word,
    "detectable_content:number_placeholders": content.number_placeholders,
    "detectable_content:postscript": content.postscript,
    "detectable_format:number_bullet_lists": fmt.number_bullet_lists,
    "detectable_format:constrained_response": fmt.constrained_response,
    "detectable_format:number_highlighted_sections": fmt.number_highlighted_sections,
    "detectable_format:multiple_sections": fmt.multiple_sections,
    "detectable_format:json_format": fmt.json_format,
    "detectable_format:title": fmt.title,
    "combination:two_responses": fmt.two_responses,
    "combination:repeat_prompt": fmt.repeat_prompt,
    "startend:end_checker": fmt.end_checker,
    "startend:quotation": fmt.quotation,
    "change_case:capital_word_frequency": fmt.capital_word_frequency,
    "change_case:english_capital": fmt.english_capital,
    "change_case:english_lowercase": fmt.english_lowercase,
    "punctuation:no_comma": fmt.no_comma,
}


def remove_thinking(prediction: str) -> str:
    """The answer part: after the last `</think>`, without `<answer>` tags and assistant markers."""
    text = prediction.replace("<|assistant|>", "").strip()
    text = text.split("</think>")[-1]
    return re.sub(r"</?answer>", "", text).strip()


def _decode(label: Any) -> Any:
    """A label may be a JSON string, a python-literal string, or already parsed; strings may nest."""
    for _ in range(3):
        if not isinstance(label, str):
            return label
        text = label.strip()
        try:
            label = json.loads(text)
        except ValueError:
            try:
                label = ast.literal_eval(text)
            except (ValueError, SyntaxError) as exc:
                raise ValueError(f"ifeval label is neither JSON nor a python literal: {text[:80]!r}") from exc
    return label


def parse_constraints(label: Any) -> list[tuple[str, dict[str, Any]]]:
    """(instruction_id, kwargs) pairs from any of the IF-RLVR label layouts.

    Accepted: {"instruction_id": [ids], "kwargs": [dicts]}, the same with a single id/dict, a list of
    such dicts (open-instruct reads the first, a list of single constraints is concatenated), or any of
    these serialized as JSON or a python literal.
    """
    data = _decode(label)
    items = data if isinstance(data, list) else [data]
    pairs: list[tuple[str, dict[str, Any]]] = []
    for item in items:
        item = _decode(item)
        if not isinstance(item, dict) or "instruction_id" not in item:
            raise ValueError(f"ifeval label entry lacks 'instruction_id': {str(item)[:80]!r}")
        ids, kwargs = item["instruction_id"], item.get("kwargs")
        if isinstance(ids, str):
            ids, kwargs = [ids], [kwargs]
        kwargs = kwargs if kwargs is not None else [None] * len(ids)
        if len(kwargs) != len(ids):
            raise ValueError(f"ifeval label has {len(ids)} instruction ids but {len(kwargs)} kwargs")
        pairs.extend((i, {k: v for k, v in (kw or {}).items() if v is not None}) for i, kw in zip(ids, kwargs))
    return pairs


def check_instruction(instruction_id: str, response: str, kwargs: dict[str, Any]) -> bool:
    checker = INSTRUCTIONS.get(instruction_id)
    if checker is None:
        raise ValueError(f"unknown IFEval instruction {instruction_id!r}; known: {', '.join(sorted(INSTRUCTIONS))}")
    params = inspect.signature(checker).parameters
    missing = [p for p, spec in params.items() if spec.kind is spec.KEYWORD_ONLY and p not in kwargs]
    if missing:
        raise ValueError(f"IFEval instruction {instruction_id!r} needs kwargs {missing}")
    return bool(checker(response, **{k: v for k, v in kwargs.items() if k in params}))


def ifeval_score(prediction: str, label: Any, query: str | None = None) -> float:
    """Fraction of the label's constraints that the think-stripped response satisfies."""
    constraints = parse_constraints(label)
    if not constraints:
        raise ValueError("ifeval label holds no constraints")
    answer = remove_thinking(prediction)
    if not prediction.strip() or not answer:
        return 0.0
    passed = sum(check_instruction(i, answer, kw) for i, kw in constraints)
    return passed / len(constraints)
