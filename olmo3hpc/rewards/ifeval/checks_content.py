"""IFEval checkers for keywords, language, length and content instructions.

Each checker takes the response and the instruction's kwargs and returns whether it is followed,
with the semantics of Google's IFEval `check_following`.
"""

from __future__ import annotations

import re

from olmo3hpc.rewards.ifeval.language import is_language
from olmo3hpc.rewards.ifeval.text_stats import compare, count_sentences, count_words


def keywords_existence(text: str, *, keywords: list[str]) -> bool:
    return all(re.search(re.escape(k), text, flags=re.IGNORECASE) for k in keywords)


def keywords_frequency(text: str, *, keyword: str, frequency: int, relation: str) -> bool:
    count = len(re.findall(re.escape(keyword), text, flags=re.IGNORECASE))
    return compare(count, relation, int(frequency))


def keywords_forbidden_words(text: str, *, forbidden_words: list[str]) -> bool:
    return not any(re.search(r"\b" + re.escape(w) + r"\b", text, flags=re.IGNORECASE) for w in forbidden_words)


def keywords_letter_frequency(text: str, *, letter: str, let_frequency: int, let_relation: str) -> bool:
    return compare(text.lower().count(letter.lower()), let_relation, int(let_frequency))


def response_language(text: str, *, language: str) -> bool:
    return is_language(text, language)


def number_sentences(text: str, *, num_sentences: int, relation: str) -> bool:
    return compare(count_sentences(text), relation, int(num_sentences))


def number_paragraphs(text: str, *, num_paragraphs: int) -> bool:
    """Paragraphs are separated by the markdown divider `***`; empty inner paragraphs fail."""
    paragraphs = re.split(r"\s?\*\*\*\s?", text)
    count = len(paragraphs)
    for index, paragraph in enumerate(paragraphs):
        if not paragraph.strip():
            if index in (0, len(paragraphs) - 1):
                count -= 1
            else:
                return False
    return count == int(num_paragraphs)


def number_words(text: str, *, num_words: int, relation: str) -> bool:
    return compare(count_words(text), relation, int(num_words))


def _first_word(paragraph: str) -> str:
    word = paragraph.split()[0].lstrip("'\"*#") if paragraph.split() else ""
    first = ""
    for letter in word:
        if letter in ".,?!'\":;*":
            break
        first += letter.lower()
    return first


def nth_paragraph_first_word(text: str, *, num_paragraphs: int, nth_paragraph: int, first_word: str) -> bool:
    """Paragraphs separated by blank lines; count must match and paragraph n must start with first_word."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    nth = int(nth_paragraph)
    if nth < 1 or nth > len(paragraphs):
        return False
    return len(paragraphs) == int(num_paragraphs) and _first_word(paragraphs[nth - 1].strip()) == first_word.lower()


def number_placeholders(text: str, *, num_placeholders: int) -> bool:
    return len(re.findall(r"\[.*?\]", text)) >= int(num_placeholders)


def postscript(text: str, *, postscript_marker: str) -> bool:
    marker = postscript_marker.strip().lower()
    if marker == "p.p.s":
        pattern = r"\s*p\.\s?p\.\s?s.*$"
    elif marker == "p.s.":
        pattern = r"\s*p\.\s?s\..*$"
    else:
        pattern = r"\s*" + re.escape(marker) + r".*$"
    return bool(re.findall(pattern, text.lower(), flags=re.MULTILINE))
