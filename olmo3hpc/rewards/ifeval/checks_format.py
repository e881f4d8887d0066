"""IFEval checkers for format, combination, start/end, case and punctuation instructions."""

from __future__ import annotations

import json
import re

from olmo3hpc.rewards.ifeval.language import is_language
from olmo3hpc.rewards.ifeval.text_stats import compare

CONSTRAINED_RESPONSES = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


def number_bullet_lists(text: str, *, num_bullets: int) -> bool:
    stars = re.findall(r"^\s*\*[^\*].*$", text, flags=re.MULTILINE)
    dashes = re.findall(r"^\s*-.*$", text, flags=re.MULTILINE)
    return len(stars) + len(dashes) == int(num_bullets)


def constrained_response(text: str) -> bool:
    return any(option in text.strip() for option in CONSTRAINED_RESPONSES)


def number_highlighted_sections(text: str, *, num_highlights: int) -> bool:
    singles = [h for h in re.findall(r"\*[^\n\*]*\*", text) if h.strip("*").strip()]
    doubles = [h for h in re.findall(r"\*\*[^\n\*]*\*\*", text) if h[2:-2].strip()]
    return len(singles) + len(doubles) >= int(num_highlights)


def multiple_sections(text: str, *, section_spliter: str, num_sections: int) -> bool:
    sections = re.split(r"\s?" + re.escape(section_spliter.strip()) + r"\s?\d+\s?", text)
    return len(sections) - 1 >= int(num_sections)


def json_format(text: str) -> bool:
    value = text.strip()
    for fence in ("```json", "```Json", "```JSON", "```"):
        if value.startswith(fence):
            value = value[len(fence):]
            break
    value = value.removesuffix("```").strip()
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


def title(text: str) -> bool:
    return any(t.lstrip("<").rstrip(">").strip() for t in re.findall(r"<<[^\n]+>>", text))


def two_responses(text: str) -> bool:
    parts = text.split("******")
    valid = []
    for index, part in enumerate(parts):
        if not part.strip():
            if index not in (0, len(parts) - 1):
                return False
        else:
            valid.append(part)
    return len(valid) == 2 and valid[0].strip() != valid[1].strip()


def repeat_prompt(text: str, *, prompt_to_repeat: str) -> bool:
    return text.strip().lower().startswith(prompt_to_repeat.strip().lower())


def end_checker(text: str, *, end_phrase: str) -> bool:
    return text.strip().strip('"').lower().endswith(end_phrase.strip().lower())


def quotation(text: str) -> bool:
    value = text.strip()
    return len(value) > 1 and value[0] == '"' and value[-1] == '"'


def capital_word_frequency(text: str, *, capital_frequency: int, capital_relation: str) -> bool:
    words = re.findall(r"\w+(?:'\w+)?", text)
    capitals = [w for w in words if w.isupper()]
    return compare(len(capitals), capital_relation, int(capital_frequency))


def english_capital(text: str) -> bool:
    return text.isupper() and is_language(text, "en")


def english_lowercase(text: str) -> bool:
    return text.islower() and is_language(text, "en")


def no_comma(text: str) -> bool:
    return "," not in text
