"""Word, sentence and paragraph counting as IFEval defines them."""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+", re.UNICODE)
# Tokens that end with a period without ending a sentence.
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "inc", "ltd", "co", "corp",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "no", "fig", "approx",
    "u.s", "u.k", "ph.d", "a.m", "p.m", "cf", "al",
}
_SENTENCE_END = re.compile(r"([.!?]+[\"')\]]*)(\s+|$)")


def count_words(text: str) -> int:
    """Number of `\\w+` tokens (IFEval's RegexpTokenizer)."""
    return len(_WORD.findall(text))


def split_sentences(text: str) -> list[str]:
    """Sentences split on . ! ? followed by space, not after abbreviations, initials or inside decimals."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end(1)
        before = text[start:match.start(1)].split()
        last = before[-1].lower().rstrip(".") if before else ""
        is_abbrev = match.group(1) == "." and (last in _ABBREVIATIONS or re.fullmatch(r"[a-z]", last) is not None)
        if is_abbrev and match.end() < len(text):
            continue
        piece = text[start:end].strip()
        if piece:
            sentences.append(piece)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def count_sentences(text: str) -> int:
    return len(split_sentences(text))


def compare(value: int, relation: str, target: int) -> bool:
    """IFEval relations `less than` / `at least`, plus the obvious extras seen in derived data."""
    relation = relation.strip().lower()
    checks = {
        "less than": value < target, "at least": value >= target, "at most": value <= target,
        "more than": value > target, "exactly": value == target, "equal to": value == target,
    }
    if relation not in checks:
        raise ValueError(f"unknown relation {relation!r}; expected one of {sorted(checks)}")
    return checks[relation]
